"""TikTok's OAuth endpoints: authorize (consent), token and revoke."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from .consent import granted_scopes, request_signed
from .endpoints import current_sandbox, json_response, tiktok_endpoint
from .errors import OAuthError
from .models import SandboxApp
from .pages import render_consent, render_error
from .scopes import SCOPE_DESCRIPTIONS, parse_scopes

oauth = Blueprint("sandbox_oauth", __name__)

_AUTHORIZE_PARAMS = (
    "client_key",
    "scope",
    "response_type",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "disable_auto_auth",
)


def _redirect_to(uri: str, params: Mapping[str, str | None]) -> BaseResponse:
    query = urlencode({key: value for key, value in params.items() if value})
    return redirect(f"{uri}{'&' if '?' in uri else '?'}{query}", 302)


@oauth.route("/v2/auth/authorize/", methods=["GET", "POST"])
@tiktok_endpoint("authorize")
def authorize() -> BaseResponse:
    """The consent page (GET) and the user's decision (POST)."""
    sandbox = current_sandbox()
    source = request.form if request.method == "POST" else request.args
    params = {name: source.get(name, "") for name in _AUTHORIZE_PARAMS}
    if request.method == "POST" and not request_signed(
        sandbox.consent_key, params, request.form.get("consent_signature", "")
    ):
        # Not the request the consent page was shown for: answer nothing to it.
        return render_error(
            "This consent form was changed or did not come from the sandbox.",
            "Go back to the app and log in again.",
        )
    app = sandbox.find_app(params["client_key"])
    if app is None:
        return render_error(
            "This app is not registered with the sandbox.",
            f"Unknown client_key {params['client_key']!r}.",
        )
    redirect_uri = params["redirect_uri"]
    if not redirect_uri or not app.allows_redirect_uri(redirect_uri):
        # Never redirect to an unregistered URI: the code could leak there.
        return render_error(
            "redirect_uri is not registered for this app.",
            f"Got {redirect_uri!r}; registered: {', '.join(app.redirect_uris)}.",
        )
    state = params["state"]

    def fail(error: str, description: str) -> BaseResponse:
        return _redirect_to(
            redirect_uri,
            {"error": error, "error_description": description, "state": state},
        )

    if params["response_type"] != "code":
        return fail("unsupported_response_type", "response_type must be code.")
    scopes = parse_scopes(params["scope"])
    unknown = [name for name in scopes if name not in SCOPE_DESCRIPTIONS]
    if not scopes or unknown:
        return fail(
            "invalid_scope", f"Invalid scope: {', '.join(unknown) or '(none)'}."
        )
    if not params["code_challenge"]:
        return fail("invalid_request", "code_challenge is required.")
    if params["code_challenge_method"] != "S256":
        return fail("invalid_request", "code_challenge_method must be S256.")

    if request.method == "GET":
        chosen = sandbox.auto_approve_as
        if chosen is None or params["disable_auto_auth"] == "1":
            return render_consent(app, params, scopes)
        declined = sandbox.auto_decline_scopes
        granted = granted_scopes(scopes, [s for s in scopes if s not in declined])
        if not granted:
            return fail("access_denied", "The user granted none of the scopes.")
    else:
        if request.form.get("action") != "authorize":
            return fail("access_denied", "The user denied the authorization request.")
        chosen = request.form.get("open_id", "")
        if sandbox.find_user(chosen) is None:
            return render_consent(app, params, scopes, error="Choose an account.")
        ticked = parse_scopes(",".join(request.form.getlist("granted_scope")))
        extra = [name for name in ticked if name not in scopes]
        if extra:
            return render_error(
                "The consent form grants a scope the app did not ask for.",
                f"Not requested: {', '.join(extra)}.",
            )
        granted = granted_scopes(scopes, ticked)
        if not granted:
            return render_consent(
                app, params, scopes, error="Allow at least one permission, or Cancel."
            )
    code = sandbox.store.issue_code(
        app.client_key, chosen, granted, redirect_uri, params["code_challenge"]
    )
    return _redirect_to(
        redirect_uri, {"code": code, "scopes": ",".join(granted), "state": state}
    )


def _client() -> SandboxApp:
    """The app the form body authenticates as (never HTTP Basic, as at TikTok)."""
    client_key = request.form.get("client_key")
    if not client_key:
        hint = (
            " (TikTok calls it client_key, not client_id)"
            if ("client_id" in request.form or "client_id" in request.args)
            else ""
        )
        raise OAuthError("invalid_client", f"client_key is missing{hint}.", 401)
    app = current_sandbox().find_app(client_key)
    secret = request.form.get("client_secret", "")
    if app is None or not secret:
        raise OAuthError("invalid_client", "Client key or secret is invalid.", 401)
    if not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
        raise OAuthError("invalid_client", "Client key or secret is invalid.", 401)
    return app


def _required(name: str) -> str:
    value = request.form.get(name)
    if not value:
        raise OAuthError("invalid_request", f"{name} is required.")
    return value


@oauth.post("/v2/oauth/token/")
@tiktok_endpoint("token")
def token() -> Response:
    """Exchange a code, rotate a refresh token, or issue a client token."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded.",
        )
    app = _client()
    store = current_sandbox().store
    grant_type = request.form.get("grant_type", "")
    if grant_type == "authorization_code":
        body = store.redeem_code(
            app.client_key,
            _required("code"),
            _required("redirect_uri"),
            request.form.get("code_verifier"),
        )
    elif grant_type == "refresh_token":
        body = store.refresh(app.client_key, _required("refresh_token"))
    elif grant_type == "client_credentials":
        body = store.client_credentials(app.client_key)
    else:
        raise OAuthError(
            "unsupported_grant_type", f"grant_type {grant_type!r} is not supported."
        )
    return json_response(body)


@oauth.post("/v2/oauth/revoke/")
@tiktok_endpoint("revoke")
def revoke() -> Response:
    """Revoke the authorization an access (or refresh) token belongs to."""
    app = _client()
    current_sandbox().store.revoke(app.client_key, _required("token"))
    return json_response({})
