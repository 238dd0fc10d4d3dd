"""What every TikTok endpoint of the sandbox shares: recording, faults, JSON."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import Response, current_app, request

from .calls import Call
from .faults import fault_response

if TYPE_CHECKING:
    from .core import Sandbox

EXTENSION_KEY = "flask_tiktok.sandbox"

_View = TypeVar("_View", bound=Callable[..., Any])


def current_sandbox() -> Sandbox:
    """The :class:`Sandbox` whose app is handling the current request."""
    return cast("Sandbox", current_app.extensions[EXTENSION_KEY])


def json_response(body: object, status: int = 200) -> Response:
    """``body`` as JSON, keys in the order given (as TikTok's are)."""
    return Response(json.dumps(body), status, content_type="application/json")


def tiktok_endpoint(name: str) -> Callable[[_View], _View]:
    """Record each request to the view as ``name``, then apply injected faults."""

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
                    form=request.form.to_dict(),
                    json=request.get_json(silent=True),
                    headers=dict(request.headers),
                )
            )
            fault = sandbox.faults.take(name)
            if fault is not None:
                response = fault_response(fault, name)
                if response is not None:
                    return response
            return view(*args, **kwargs)

        return cast("_View", wrapper)

    return decorate
