"""Starting a login, finishing its flow record, and the answers to anonymous
requests: shared by the blueprint and ``tiktok_login_required``."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from flask import (
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from .pkce import generate_code_verifier, generate_state
from .state import get_state

__all__ = [
    "error_page",
    "forget_declined_scopes",
    "login_required_response",
    "missing_scopes_response",
    "note_declined_scopes",
    "prefers_json",
    "start_login",
    "take_flow",
]

_FLOWS = "_tiktok_flows"
#: Scopes the user unticked when a protected page asked for them.
_DECLINED = "_tiktok_declined"
#: Logins started in other tabs stay valid, up to this many, for this long.
_MAX_FLOWS = 3
_FLOW_TTL = 600
#: Pending logins live in the session cookie, which browsers drop whole past
#: 4 KB: a longer ``next`` is not kept (the login returns to
#: TIKTOK_LOGIN_REDIRECT), and the oldest logins go first past the budget.
_MAX_NEXT = 512
_FLOWS_BUDGET = 1600


def prefers_json() -> bool:
    """Whether the request asks for JSON rather than HTML."""
    accept = request.accept_mimetypes
    best = accept.best_match(["text/html", "application/json"])
    return best == "application/json" and accept[best] > accept["text/html"]


def _requested_path() -> str:
    path = quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~%")
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


def login_required_response() -> Response:
    """What an anonymous request to a protected route gets."""
    login_url = url_for("tiktok.login", next=_requested_path())
    if prefers_json():
        body = {
            "error": "tiktok_login_required",
            "message": "Log in with TikTok to use this.",
            "login_url": login_url,
        }
        response = jsonify(body)
        response.status_code = 401
        return response
    return redirect(login_url)


def missing_scopes_response(granted: Iterable[str], missing: Iterable[str]) -> Response:
    """Ask TikTok for ``missing`` scopes on top of the ``granted`` ones."""
    missing = list(missing)
    if prefers_json():
        response = jsonify(
            error="tiktok_scope_required",
            message="This needs more TikTok permissions.",
            missing_scopes=missing,
        )
        response.status_code = 403
        return response
    if _just_declined(missing):
        # The user was just asked and unticked them: asking again at once
        # would send the browser round in a loop. Say so; "Try again" asks.
        return error_page(
            403,
            "TikTok permission not granted",
            "This page needs the TikTok permission"
            f" {', '.join(missing)}, which was not granted.",
            "scope_declined",
            retry_url=_requested_path(),
        )
    settings = get_state().settings
    scopes = list(dict.fromkeys([*settings.scopes, *granted, *missing]))
    return start_login(scopes, _requested_path(), wanted=missing)


def _just_declined(missing: list[str]) -> bool:
    """Whether a scope of ``missing`` was declined in the login just made.

    The record is used up: the next visit asks TikTok again.
    """
    record = session.get(_DECLINED)
    if record is None:
        return False
    declined = record.get("s") if isinstance(record, dict) else None
    at = record.get("c") if isinstance(record, dict) else None
    if (
        not isinstance(declined, list)
        or not isinstance(at, int)
        or at <= time.time() - _FLOW_TTL
    ):
        forget_declined_scopes()  # unreadable or stale
        return False
    if set(missing).isdisjoint(declined):
        return False  # another page's scopes: the note waits for its page
    forget_declined_scopes()
    return True


def note_declined_scopes(flow: dict[str, Any], granted: Iterable[str]) -> None:
    """After a login that asked for scopes a page needed, note any not granted.

    A previous login's note is dropped: it was about that login (perhaps
    another user's).
    """
    forget_declined_scopes()
    wanted = flow.get("w")
    if not isinstance(wanted, list):
        return
    have = set(granted)
    declined = [s for s in wanted if isinstance(s, str) and s not in have]
    if declined:
        session[_DECLINED] = {"s": declined, "c": int(time.time())}


def forget_declined_scopes() -> None:
    """Drop the declined-scope note (at logout: the next user was not asked)."""
    if _DECLINED in session:
        session.pop(_DECLINED)


def start_login(
    scopes: list[str], next_url: str, *, wanted: list[str] | None = None
) -> Response:
    """Remember a new state and PKCE verifier, then send the browser to TikTok.

    ``wanted`` are the scopes a protected page asked for: if the user does
    not grant them, that page says so instead of asking again at once.
    """
    state = get_state()
    redirect_uri = state.settings.redirect_uri or url_for(
        "tiktok.callback", _external=True
    )
    oauth_state = generate_state()
    verifier = generate_code_verifier()
    now = int(time.time())
    flows = [f for f in _pending_flows() if f["c"] > now - _FLOW_TTL]
    flows = flows[-(_MAX_FLOWS - 1) :]
    if len(next_url) > _MAX_NEXT:
        next_url = state.settings.login_redirect
    flow: dict[str, Any] = {
        "s": oauth_state,
        "v": verifier,
        "n": next_url,
        "r": redirect_uri,
        "c": now,
    }
    if wanted:
        flow["w"] = wanted
    flows.append(flow)
    while len(flows) > 1 and len(json.dumps(flows)) > _FLOWS_BUDGET:
        flows.pop(0)
    session[_FLOWS] = flows
    url = state.client.create_authorization_url(
        oauth_state, scopes, code_verifier=verifier, redirect_uri=redirect_uri
    )
    return redirect(url)


def _pending_flows() -> list[dict[str, Any]]:
    flows = session.get(_FLOWS)
    if not isinstance(flows, list):
        return []
    return [f for f in flows if isinstance(f, dict) and isinstance(f.get("s"), str)]


def take_flow(oauth_state: str | None) -> dict[str, Any] | None:
    """The pending login ``oauth_state`` names; it is used up either way."""
    if not oauth_state:
        return None
    flows = _pending_flows()
    found = None
    for flow in flows:
        if hmac.compare_digest(
            flow["s"].encode(), oauth_state.encode("utf-8", "replace")
        ):
            found = flow
    if found is None:
        return None
    flows.remove(found)
    session[_FLOWS] = flows
    if found.get("c", 0) <= time.time() - _FLOW_TTL:
        return None
    return found


def error_page(
    status: int,
    title: str,
    message: str,
    error: str,
    log_id: str | None = None,
    *,
    retry_url: str | None = None,
) -> Response:
    """The extension's error page (``tiktok/error.html``, overridable) or JSON.

    Its "Try again" link goes to ``retry_url`` (default: a new login).
    """
    if prefers_json():
        response = jsonify(error=error, message=message, log_id=log_id)
    else:
        response = current_app.make_response(
            render_template(
                "tiktok/error.html",
                title=title,
                message=message,
                error=error,
                log_id=log_id,
                retry_url=retry_url or url_for("tiktok.login"),
                home_url=get_state().settings.login_redirect,
            )
        )
    response.status_code = status
    return response
