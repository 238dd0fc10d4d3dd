"""The current TikTok user, and the decorator that requires one."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from functools import wraps
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from flask import current_app, has_request_context
from werkzeug.local import LocalProxy

from .current import current_login
from .fields import KNOWN_FIELDS
from .responses import login_required_response, missing_scopes_response
from .state import get_state
from .storage.base import StorageUnavailable, StoredUser

__all__ = [
    "AnonymousTikTokUser",
    "TikTokUser",
    "current_tiktok_user",
    "template_context",
    "tiktok_login_required",
]

#: The profile fields that are plain attributes (``open_id`` is a property).
_FIELDS = KNOWN_FIELDS - {"open_id"}
_KNOWN = frozenset(KNOWN_FIELDS)


class TikTokUser:
    """A logged-in TikTok user.

    Each field fetched at login is an attribute (``display_name``,
    ``avatar_url``, ``follower_count``, ...); a known field that was not
    fetched is ``None``. They are plain attributes, set once when the user is
    loaded: a template reads them at the cost of any attribute.
    """

    is_authenticated = True
    is_anonymous = False

    def __init__(self, stored: StoredUser) -> None:
        self._stored = stored
        profile = stored.profile
        if profile.keys() <= _KNOWN:
            # The usual profile, copied at once (``open_id`` in it is
            # shadowed by the property).
            vars(self).update(profile)
        else:
            # Fields TikTok added since: never an attribute, lest one shadow
            # a method (``has_scopes``); they are in ``profile``.
            vars(self).update((k, profile[k]) for k in _FIELDS & profile.keys())

    def __repr__(self) -> str:
        return f"<TikTokUser {self.open_id!r}>"

    if TYPE_CHECKING:
        # For type checkers: the profile's fields are attributes (of Any
        # type). At run time the class has every known field, None.
        def __getattr__(self, name: str) -> Any: ...

    @property
    def open_id(self) -> str:
        """TikTok's id of this user for this app."""
        return self._stored.open_id

    @property
    def scopes(self) -> list[str]:
        """The scopes the user granted."""
        return self._stored.scopes

    @property
    def profile(self) -> dict[str, Any]:
        """Every field ``user/info/`` returned at login."""
        return self._stored.profile

    def has_scopes(self, *scopes: str) -> bool:
        """Whether the user granted every one of ``scopes``."""
        return set(scopes) <= set(self.scopes)


class AnonymousTikTokUser:
    """Nobody is logged in: every profile field is ``None``."""

    is_authenticated = False
    is_anonymous = True
    open_id = None
    scopes: ClassVar[list[str]] = []
    profile: ClassVar[dict[str, Any]] = {}

    def __repr__(self) -> str:
        return "<AnonymousTikTokUser>"

    if TYPE_CHECKING:
        # As TikTokUser's: every known field is a class attribute, None.
        def __getattr__(self, name: str) -> Any: ...

    def has_scopes(self, *scopes: str) -> bool:
        """Always false: nobody granted anything."""
        return False


_ANONYMOUS = AnonymousTikTokUser()


for _name in _FIELDS:
    setattr(TikTokUser, _name, None)
    setattr(AnonymousTikTokUser, _name, None)


def _load_user() -> TikTokUser | AnonymousTikTokUser:
    if not has_request_context():
        return _ANONYMOUS
    return _request_user()


def _request_user() -> TikTokUser | AnonymousTikTokUser:
    # _load_user() within a request (every protected request runs this).
    login = current_login()
    user: TikTokUser | AnonymousTikTokUser | None = login.user
    if user is None:
        stored = login.stored
        user = login.user = TikTokUser(stored) if stored is not None else _ANONYMOUS
    return user


def _shown_user() -> TikTokUser | AnonymousTikTokUser:
    # What a page shows: anonymous while the storage is down, unless the app
    # asked for a 503 (TIKTOK_STORAGE_OUTAGE = "error").
    try:
        return _load_user()
    except StorageUnavailable:
        if get_state().settings.storage_outage == "error":
            raise
        return _ANONYMOUS


#: The request's user: a :class:`TikTokUser`, or an
#: :class:`AnonymousTikTokUser` when nobody is logged in (or the storage is
#: down: see :data:`TIKTOK_STORAGE_OUTAGE`). Cached per request; available in
#: every template.
current_tiktok_user: TikTokUser | AnonymousTikTokUser = LocalProxy(  # type: ignore[assignment]
    _shown_user
)


def template_context() -> dict[str, Any]:
    """The context processor that gives templates ``current_tiktok_user``:
    the request's user itself once it is loaded (a protected view has loaded
    it), so each read in the template is a plain attribute read; else the
    lazy proxy, which reads the storage only if the template uses it."""
    # Templates render within an app context: current_login() works there.
    user = current_login().user
    return {"current_tiktok_user": current_tiktok_user if user is None else user}


F = TypeVar("F", bound=Callable[..., Any])


@overload
def tiktok_login_required(func: F) -> F: ...
@overload
def tiktok_login_required(
    func: None = None, *, scopes: Iterable[str] | None = None
) -> Callable[[F], F]: ...
def tiktok_login_required(
    func: F | None = None, *, scopes: Iterable[str] | None = None
) -> F | Callable[[F], F]:
    """Require a logged-in TikTok user (who granted ``scopes``) for a view.

    An anonymous request for HTML is redirected to ``tiktok.login`` with
    ``next`` set to the requested path; one that prefers JSON gets a 401 JSON
    body. A user who lacks one of ``scopes`` goes back through TikTok asking
    for the granted scopes plus the missing ones, then returns to the page.
    With the storage down the view is not run: 503.
    """
    if isinstance(scopes, str):
        raise TypeError("scopes is a list of scope names, not a string")
    required = tuple(scopes or ())

    def decorator(view: F) -> F:
        # Decided once here rather than on every request.
        is_async = inspect.iscoroutinefunction(view)

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = _request_user()
            if not user.is_authenticated:
                return login_required_response()
            if required:
                missing = [s for s in required if s not in user.scopes]
                if missing:
                    return missing_scopes_response(user.scopes, missing)
            if is_async:
                return current_app.ensure_sync(view)(*args, **kwargs)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator(func) if func is not None else decorator
