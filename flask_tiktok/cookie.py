"""The session cookie's size: what the browser is sent, all parts together.

Flask's default session is one signed cookie holding the app's data, the
login (profile, scopes, sealed tokens) and the logins in progress. Browsers
drop a cookie whose ``Set-Cookie`` is over 4 KB (Werkzeug warns past 4,093
bytes), and the login with it, a rotated refresh token included. Each part
has a budget of its own, but only the encoded header adds them up:
:func:`fit_session` measures it whenever a changed session is saved and,
while it is too large, drops the oldest logins in progress (never the newest)
and then the profile's largest fields (read as ``None``).

It runs inside the session's saving (:class:`FittedCookieSessionInterface`,
which :func:`fit_cookie_sessions` gives an app that has Flask's own), so a
response whose view never read the session gets no ``Vary: Cookie``: an
``after_request`` hook cannot ask whether the session changed without Flask
taking the session as read. An app with its own cookie interface (a subclass)
keeps it, fitted by an ``after_request`` hook instead; one set after
``TikTok(app)`` is fitted from the app's first request on.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app, session
from flask import Response as FlaskResponse
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.http import dump_cookie
from werkzeug.wrappers import Response

from .flow import drop_oldest_pending
from .logs import logger
from .state import get_state
from .storage.session import SessionStorage

__all__ = [
    "MAX_COOKIE_SIZE",
    "FittedCookieSessionInterface",
    "fit_cookie_sessions",
    "fit_session",
    "fit_session_cookie",
    "session_cookie_size",
]

#: The largest ``Set-Cookie`` value sent (Werkzeug's limit; browsers' is 4,096
#: for name, value and attributes together).
MAX_COOKIE_SIZE = 4093


def session_cookie_size(app: Flask, data: SessionMixin) -> int | None:
    """The length of the ``Set-Cookie`` value Flask would send for ``data``;
    ``None`` when the session is not Flask's signed cookie (a server-side
    session's cookie is only an id)."""
    interface = app.session_interface
    if not isinstance(interface, SecureCookieSessionInterface):
        return None
    serializer = interface.get_signing_serializer(app)
    if serializer is None:
        return None
    partitioned = getattr(interface, "get_cookie_partitioned", None)
    return len(
        dump_cookie(
            interface.get_cookie_name(app),
            str(serializer.dumps(dict(data))),
            expires=interface.get_expiration_time(app, data),
            path=interface.get_cookie_path(app),
            domain=interface.get_cookie_domain(app),
            secure=interface.get_cookie_secure(app),
            httponly=interface.get_cookie_httponly(app),
            samesite=interface.get_cookie_samesite(app),
            partitioned=bool(partitioned(app)) if partitioned else False,
            max_size=0,
        )
    )


class FittedCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, fitted (:func:`fit_session`) to what
    browsers keep each time it is saved changed."""

    def save_session(
        self, app: Flask, session: SessionMixin, response: FlaskResponse
    ) -> None:
        if session.modified:
            fit_session(app, session)
        super().save_session(app, session, response)


def fit_cookie_sessions(app: Flask) -> None:
    """Fit ``app``'s session cookies from now on: Flask's own interface is
    replaced by :class:`FittedCookieSessionInterface` (its settings kept), a
    subclass of it gets :func:`fit_session_cookie` after each request, and a
    server-side session (its cookie only an id) needs nothing. An interface
    the app sets later is seen at its first request, and fitted the same
    way (a hook that then takes itself off)."""
    _fit_interface(app)
    lock = threading.Lock()

    def fit_an_interface_set_later() -> None:
        with lock:
            hooks = app.before_request_funcs
            if fit_an_interface_set_later not in hooks.get(None, []):
                return  # another thread's first request did it
            # A new list: Flask is iterating the current one for this request.
            hooks[None] = [
                f for f in hooks[None] if f is not fit_an_interface_set_later
            ]
            _fit_interface(app)

    app.before_request(fit_an_interface_set_later)


def _fit_interface(app: Flask) -> None:
    interface = app.session_interface
    if type(interface) is SecureCookieSessionInterface:
        fitted = FittedCookieSessionInterface()
        vars(fitted).update(vars(interface))
        app.session_interface = fitted
        return
    hooks = app.after_request_funcs.setdefault(None, [])
    if (
        isinstance(interface, SecureCookieSessionInterface)
        and not isinstance(interface, FittedCookieSessionInterface)
        and fit_session_cookie not in hooks
    ):
        # Not app.after_request(): that refuses once requests have begun.
        hooks.append(fit_session_cookie)


def fit_session_cookie(response: Response) -> Response:
    """An ``after_request`` hook: :func:`fit_session` when the request
    changed the session (this takes the session as read: Flask then adds
    ``Vary: Cookie``)."""
    if session.modified:
        fit_session(current_app._get_current_object(), session)  # type: ignore[attr-defined]
    return response


def fit_session(app: Flask, data: SessionMixin) -> None:
    """Shrink what the extension keeps in ``data`` (the request's session)
    until the whole ``Set-Cookie`` fits; a warning if it cannot."""
    size = session_cookie_size(app, data)
    if size is None or size <= MAX_COOKIE_SIZE:
        return
    storage = get_state(app).storage
    while size is not None and size > MAX_COOKIE_SIZE:
        shrunk = drop_oldest_pending(data) or (
            isinstance(storage, SessionStorage) and storage.drop_largest_field(data)
        )
        if not shrunk:
            logger.warning(
                "The session cookie is %d bytes, over %d: browsers drop it."
                " The app's own session data takes the room.",
                size,
                MAX_COOKIE_SIZE,
            )
            break
        size = session_cookie_size(app, data)
