"""The Flask application behind a :class:`Sandbox`: routing quirks and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from flask import Flask, Request, Response
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

from . import ids
from .api import api
from .endpoints import EXTENSION_KEY, json_response
from .errors import APIError, OAuthError
from .oauth import oauth
from .pages import pages
from .posting import posting
from .upload import upload

if TYPE_CHECKING:
    from .core import Sandbox

#: What TikTok's gateway answers for a path it does not route (e.g. no final "/").
UNSUPPORTED_PATH = "Unsupported path(Janus)"


class _SandboxFlask(Flask):
    def raise_routing_exception(self, request: Request) -> NoReturn:
        # TikTok's gateway does not redirect "/v2/oauth/token" to ".../token/": it
        # answers 404, and clients that drop the slash must see that.
        if isinstance(request.routing_exception, RequestRedirect):
            raise NotFound()
        super().raise_routing_exception(request)


def create_app(sandbox: Sandbox) -> Flask:
    """Build the Flask app serving ``sandbox``'s endpoints and pages."""
    app = _SandboxFlask(__name__, static_folder=None)
    app.extensions[EXTENSION_KEY] = sandbox
    app.register_blueprint(oauth)
    app.register_blueprint(api)
    app.register_blueprint(pages)
    app.register_blueprint(posting)
    app.register_blueprint(upload)

    @app.errorhandler(NotFound)
    def not_found(error: HTTPException) -> Response:
        return Response(UNSUPPORTED_PATH, 404, mimetype="text/plain")

    @app.errorhandler(OAuthError)
    def oauth_error(error: OAuthError) -> Response:
        body = {
            "error": error.error,
            "error_description": error.description,
            "log_id": ids.new_log_id(),
        }
        return json_response(body, error.status)

    @app.errorhandler(APIError)
    def api_error(error: APIError) -> Response:
        body = {
            "data": {},
            "error": {
                "code": error.code,
                "message": error.message,
                "log_id": ids.new_log_id(),
            },
        }
        return json_response(body, error.status)

    @app.after_request
    def no_store(response: Response) -> Response:
        # Tokens and consent decisions must never be cached (RFC 6749 5.1).
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Pragma", "no-cache")
        if response.mimetype == "text/html":
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app
