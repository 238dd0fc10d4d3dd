"""The login flow, top to bottom: start a login, take it back at the callback,
trade the code for tokens and a profile, and note the scopes a user declined.

A login in progress is a :class:`PendingLogin`, kept in the Flask session (the
signed cookie) between the redirect to TikTok and the callback: its state
(used once), its PKCE verifier (never sent to the browser's URL), where to go
next, the redirect URI it used, when it started, and the scopes a protected
page asked for. Several may be pending at once (logins started in other
tabs), within a small budget of the cookie.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import redirect, session, url_for
from flask.sessions import SessionMixin
from werkzeug.wrappers import Response

from .errors import OAuth2RequestError, TikTokError, TikTokFetchError
from .fields import fields_for_scopes
from .pkce import generate_code_verifier, generate_state
from .state import TikTokState, get_state
from .storage.base import StoredUser
from .tokens import OAuth2Tokens

__all__ = [
    "LoginFailed",
    "PendingLogin",
    "drop_oldest_pending",
    "fetch_login",
    "forget_declined_scopes",
    "just_declined",
    "note_declined_scopes",
    "start_login",
    "take_pending_login",
]

#: The session key of the pending logins (a list of :meth:`PendingLogin.encode`).
_PENDING = "_tiktok_flows"
#: The session key of the scopes the user unticked when a page asked for them.
_DECLINED = "_tiktok_declined"
#: Logins started in other tabs stay valid, up to this many, for this long.
_MAX_PENDING = 3
_PENDING_TTL = 600
#: Pending logins live in the session cookie, which browsers drop whole past
#: 4 KB: a longer ``next`` is not kept (the login returns to
#: TIKTOK_LOGIN_REDIRECT), and the oldest logins go first past the budget.
_MAX_NEXT = 512
_PENDING_BUDGET = 1600


@dataclass(frozen=True)
class PendingLogin:
    """A login sent to TikTok and not back yet."""

    #: The OAuth ``state`` sent to TikTok (compared in constant time).
    state: str
    #: The PKCE code verifier; TikTok saw only its challenge.
    verifier: str
    #: Where to go after the login (already checked to be a local path).
    next_url: str
    #: The redirect URI the authorization used (the token call repeats it).
    redirect_uri: str
    #: When the login started, in epoch seconds.
    created_at: int
    #: The scopes a protected page asked for, if one did.
    wanted: tuple[str, ...] = ()
    #: For a connect: the app's user who started it (``None``: a login).
    owner: str | None = None

    def encode(self) -> dict[str, Any]:
        """The record as kept in the session (short keys: it is a cookie)."""
        record: dict[str, Any] = {
            "s": self.state,
            "v": self.verifier,
            "n": self.next_url,
            "r": self.redirect_uri,
            "c": self.created_at,
        }
        if self.wanted:
            record["w"] = list(self.wanted)
        if self.owner is not None:
            record["o"] = self.owner
        return record

    @classmethod
    def decode(cls, record: Any) -> PendingLogin | None:
        """The record :meth:`encode` made, or ``None`` for anything else."""
        if not isinstance(record, dict):
            return None
        state, verifier = record.get("s"), record.get("v")
        next_url, redirect_uri = record.get("n"), record.get("r")
        created_at, wanted = record.get("c", 0), record.get("w", [])
        owner = record.get("o")
        if (
            not isinstance(state, str)
            or not isinstance(verifier, str)
            or not isinstance(redirect_uri, str)
            or not isinstance(created_at, int)
            or not isinstance(wanted, list)
            or not (owner is None or isinstance(owner, str))
        ):
            return None
        return cls(
            state,
            verifier,
            next_url if isinstance(next_url, str) else "",
            redirect_uri,
            created_at,
            tuple(s for s in wanted if isinstance(s, str)),
            owner,
        )

    def expired(self, now: float) -> bool:
        """Whether the login was started too long ago to be finished."""
        return self.created_at <= now - _PENDING_TTL


def start_login(
    scopes: Sequence[str],
    next_url: str,
    *,
    wanted: Sequence[str] = (),
    owner: str | None = None,
) -> Response:
    """Remember a new state and PKCE verifier, then send the browser to TikTok.

    ``wanted`` are the scopes a protected page asked for: if the user does
    not grant them, that page says so instead of asking again at once.
    With an ``owner`` it is a connect for that app user: TikTok is asked to
    let the person pick an account (``disable_auto_auth=1``).
    """
    state = get_state()
    redirect_uri = state.settings.redirect_uri or url_for(
        "tiktok.callback", _external=True
    )
    now = int(time.time())
    if len(next_url) > _MAX_NEXT:
        next_url = state.settings.login_redirect
    login = PendingLogin(
        generate_state(),
        generate_code_verifier(),
        next_url,
        redirect_uri,
        now,
        tuple(wanted),
        owner,
    )
    pending = [p for p in _pending() if not p.expired(now)][-(_MAX_PENDING - 1) :]
    records = [p.encode() for p in [*pending, login]]
    while len(records) > 1 and len(json.dumps(records)) > _PENDING_BUDGET:
        records.pop(0)
    session[_PENDING] = records
    url = state.client.create_authorization_url(
        login.state,
        scopes,
        code_verifier=login.verifier,
        redirect_uri=redirect_uri,
        disable_auto_auth=True if owner is not None else None,
    )
    return redirect(url)


def _pending() -> list[PendingLogin]:
    records = session.get(_PENDING)
    if not isinstance(records, list):
        return []
    decoded = (PendingLogin.decode(record) for record in records)
    return [login for login in decoded if login is not None]


def drop_oldest_pending(data: SessionMixin) -> bool:
    """Drop the oldest login in progress from ``data`` (the session being
    saved) to make room in the cookie; the newest is kept (its tab is the one
    the user is on). Whether one was."""
    records = data.get(_PENDING)
    if not isinstance(records, list) or len(records) < 2:
        return False
    data[_PENDING] = records[1:]
    return True


def take_pending_login(oauth_state: str | None) -> PendingLogin | None:
    """The pending login ``oauth_state`` names; it is used up either way.

    ``None`` for an unknown, used or expired state.
    """
    if not oauth_state:
        return None
    pending = _pending()
    given = oauth_state.encode("utf-8", "replace")
    found = None
    for login in pending:
        # Every record compared, in constant time: no early exit to time.
        if hmac.compare_digest(login.state.encode(), given):
            found = login
    if found is None:
        return None
    pending.remove(found)
    if pending:
        session[_PENDING] = [p.encode() for p in pending]
    else:  # nothing empty left in the cookie
        session.pop(_PENDING)
    return None if found.expired(time.time()) else found


class LoginFailed(Exception):
    """The callback cannot finish: ``error`` is the page's code, ``description``
    what is logged, ``exception`` TikTok's error (if any)."""

    def __init__(
        self, error: str, description: str | None, exception: TikTokError | None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.exception = exception


def fetch_login(
    state: TikTokState, login: PendingLogin, code: str
) -> tuple[StoredUser, OAuth2Tokens]:
    """Trade the callback's ``code`` for tokens, then fetch the profile once.

    :raises LoginFailed: TikTok refused or failed (``token_error``,
        ``tiktok_unreachable``, ``tiktok_error``), or answered for another user.
    """
    client = state.client
    try:
        tokens = client.validate_authorization_code(
            code, code_verifier=login.verifier, redirect_uri=login.redirect_uri
        )
        open_id = tokens.open_id
        if not open_id:
            raise LoginFailed("tiktok_error", "token response without open_id", None)
        fields = state.settings.user_fields or fields_for_scopes(tokens.scopes)
        profile = client.get_user_info(tokens.access_token, fields or ["open_id"])
    except OAuth2RequestError as exc:
        # "Not now" is TikTok's failure; anything else refused this login.
        error = "tiktok_error" if exc.transient else "token_error"
        raise LoginFailed(error, exc.description, exc) from exc
    except TikTokFetchError as exc:
        raise LoginFailed("tiktok_unreachable", str(exc), exc) from exc
    except TikTokError as exc:
        raise LoginFailed("tiktok_error", str(exc), exc) from exc
    if profile.get("open_id", open_id) != open_id:
        raise LoginFailed("tiktok_error", "user info of another user", None)
    return StoredUser(open_id, tokens.scopes, profile), tokens


# -- scopes the user declined ----------------------------------------------------


def note_declined_scopes(login: PendingLogin, granted: Sequence[str]) -> None:
    """After a login that asked for scopes a page needed, note any not granted.

    A previous login's note is dropped: it was about that login (perhaps
    another user's).
    """
    forget_declined_scopes()
    have = set(granted)
    declined = [s for s in login.wanted if s not in have]
    if declined:
        session[_DECLINED] = {"s": declined, "c": int(time.time())}


def just_declined(missing: Sequence[str]) -> bool:
    """Whether a scope of ``missing`` was declined in the login just made.

    The note is used up: the next visit asks TikTok again.
    """
    record = session.get(_DECLINED)
    if record is None:
        return False
    declined = record.get("s") if isinstance(record, dict) else None
    at = record.get("c") if isinstance(record, dict) else None
    if (
        not isinstance(declined, list)
        or not isinstance(at, int)
        or at <= time.time() - _PENDING_TTL
    ):
        forget_declined_scopes()  # unreadable or stale
        return False
    if set(missing).isdisjoint(declined):
        return False  # another page's scopes: the note waits for its page
    forget_declined_scopes()
    return True


def forget_declined_scopes() -> None:
    """Drop the declined-scope note (at logout: the next user was not asked)."""
    if _DECLINED in session:
        session.pop(_DECLINED)
