"""The sandbox's own HTML: consent and error pages, the home page, and images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import requests
from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from .consent import REQUIRED_SCOPES, sign_request
from .endpoints import current_sandbox
from .images import avatar_svg, cover_svg
from .models import SandboxApp
from .scopes import SCOPE_DESCRIPTIONS

pages = Blueprint("sandbox_pages", __name__)


def render_consent(
    app: SandboxApp,
    params: Mapping[str, str],
    scopes: Sequence[str],
    *,
    error: str | None = None,
) -> Response:
    """TikTok's consent page: who asks, as whom, and a checkbox per scope.

    Every scope is ticked; the user may untick all but ``user.info.basic``.
    """
    sandbox = current_sandbox()
    html = render_template(
        "consent.html",
        app=app,
        params=params,
        signature=sign_request(sandbox.consent_key, params),
        scopes=[
            (name, SCOPE_DESCRIPTIONS[name], name in REQUIRED_SCOPES) for name in scopes
        ],
        users=sandbox.users,
        error=error,
    )
    return Response(html, 400 if error else 200, mimetype="text/html")


def render_error(title: str, detail: str) -> Response:
    """A dead-end error page, for requests that must not be redirected anywhere."""
    html = render_template("error.html", title=title, detail=detail)
    return Response(html, 400, mimetype="text/html")


@pages.get("/")
def home() -> Response:
    """Users, the apps each has authorized (with a Disconnect button), posts."""
    sandbox = current_sandbox()
    granted: dict[str, list[tuple[SandboxApp, tuple[str, ...]]]] = {}
    for entry in sandbox.authorizations():
        app = sandbox.find_app(entry.client_key)
        if app is not None:
            granted.setdefault(entry.open_id, []).append((app, entry.scopes))
    html = render_template(
        "home.html",
        apps=sandbox.apps,
        users=sandbox.users,
        granted=granted,
        posts=sandbox.posts,
        notice=request.args.get("notice", ""),
    )
    return Response(html, mimetype="text/html")


@pages.post("/sandbox/disconnect")
def disconnect() -> BaseResponse:
    """Remove an authorization and tell the app by webhook, like TikTok does."""
    sandbox = current_sandbox()
    client_key = request.form.get("client_key", "")
    open_id = request.form.get("open_id", "")
    if sandbox.find_app(client_key) is None or sandbox.find_user(open_id) is None:
        abort(400)
    try:
        delivered = sandbox.disconnect(client_key, open_id)
    except requests.RequestException as exc:
        notice = f"Disconnected; the webhook could not be delivered ({exc})."
    else:
        notice = "Disconnected." + (
            f" Webhook answered {delivered.status_code}." if delivered else ""
        )
    return redirect(url_for("sandbox_pages.home", notice=notice), 303)


def _svg(body: str) -> Response:
    response = Response(body, content_type="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@pages.get("/static/avatar/<open_id>.svg")
def avatar(open_id: str) -> Response:
    """A generated avatar for a sandbox user; ``?size=`` in pixels."""
    user = current_sandbox().find_user(open_id)
    if user is None:
        abort(404)
    size = min(max(request.args.get("size", 168, type=int), 16), 1080)
    return _svg(avatar_svg(open_id, user.display_name, size))


@pages.get("/static/cover/<video_id>.svg")
def cover(video_id: str) -> Response:
    """A generated cover image for a sandbox video."""
    for user in current_sandbox().users:
        for video in user.videos:
            if video.id == video_id:
                return _svg(cover_svg(video_id, video.title))
    abort(404)
