"""What every TikTok endpoint of the sandbox shares: recording, faults, JSON."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import Response, current_app, g, request

from . import ids
from .calls import Call
from .errors import APIError, access_token_invalid
from .faults import Fault, fault_response

if TYPE_CHECKING:
    from .core import Sandbox
    from .models import SandboxUser
    from .store import Token

EXTENSION_KEY = "flask_tiktok.sandbox"

_View = TypeVar("_View", bound=Callable[..., Any])


def current_sandbox() -> Sandbox:
    """The :class:`Sandbox` whose app is handling the current request."""
    return cast("Sandbox", current_app.extensions[EXTENSION_KEY])


def json_response(body: object, status: int = 200) -> Response:
    """``body`` as JSON, keys in the order given (as TikTok's are)."""
    return Response(json.dumps(body), status, content_type="application/json")


def envelope(
    data: dict[str, Any], code: str = "ok", message: str = "", status: int = 200
) -> Response:
    """TikTok's API answer: ``{"data": ..., "error": {code, message, log_id}}``."""
    error = {"code": code, "message": message, "log_id": ids.new_log_id()}
    return json_response({"data": data, "error": error}, status)


def json_object(invalid: Callable[[str], APIError]) -> dict[str, Any]:
    """The request's JSON object body (``{}`` if empty), else ``invalid(...)``."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def user_token() -> tuple[Token, SandboxUser]:
    """The bearer token's record and user, or ``access_token_invalid``."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise access_token_invalid()
    token = current_sandbox().store.access_token(value.strip())
    if token is None or token.open_id is None:
        raise access_token_invalid()
    user = current_sandbox().find_user(token.open_id)
    if user is None:
        raise access_token_invalid()
    return token, user


def current_fault() -> Fault | None:
    """The injected fault the current request drew that its view acts on."""
    return cast("Fault | None", g.get("sandbox_fault"))


def tiktok_endpoint(
    name: str, *, streams_body: bool = False
) -> Callable[[_View], _View]:
    """Record each request to the view as ``name``, then apply injected faults.

    A fault the view acts on itself is left in :func:`current_fault`. A view
    that ``streams_body`` (the chunk upload) gets its body unread (no form or
    JSON is recorded) and draws its faults itself, since it must read or drop
    the body first.
    """

    def decorate(view: _View) -> _View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            sandbox = current_sandbox()
            sandbox.record(
                Call(
                    endpoint=name,
                    method=request.method,
                    path=request.path,
                    args=request.args.to_dict(),
                    form={} if streams_body else request.form.to_dict(),
                    json=None if streams_body else request.get_json(silent=True),
                    headers=dict(request.headers),
                )
            )
            fault = None if streams_body else sandbox.faults.take(name)
            if fault is not None:
                response = fault_response(fault, name)
                if response is not None:
                    return response
                g.sandbox_fault = fault
            return view(*args, **kwargs)

        return cast("_View", wrapper)

    return decorate
