"""The default storage: the login in Flask's session (a signed cookie).

The profile and granted scopes are kept in clear (signed by Flask, cheap to
read on every request): the profile's known fields as one JSON list in the
order of :data:`_PROFILE_FIELDS` (no field names in the cookie), any other
field by name; the scopes as a number, one bit each. The tokens are sealed
(:mod:`flask_tiktok.storage.sealing`). A record as 0.1 kept it (the profile as
an object) is still read, and written again as now.

The list is one string because Flask's session serializer walks every value
of the cookie in Python on each request (its tag scan): fourteen fields cost
fourteen steps, one string one. What a string decodes to is remembered, so a
protected request decodes nothing it decoded before.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from functools import lru_cache
from typing import Any

from flask import has_request_context, session
from flask.sessions import SessionMixin

from ..context import request_session
from ..fields import FIELDS_BY_SCOPE
from ..tokens import OAuth2Tokens
from ..wire import join_list, split_list
from .base import BaseStorage, StoredUser
from .sealing import open_tokens, seal_tokens

__all__ = ["SessionStorage"]

_KEY = "_tiktok"


class SessionStorage(BaseStorage):
    """Keeps the login in Flask's session (by default a signed cookie).

    The profile and granted scopes are stored in clear, compactly (fields by
    position, scopes as numbers): Flask signs the cookie, so they cannot be
    forged, and reading them costs no decryption.
    The tokens are encrypted with a key derived from ``SECRET_KEY`` (see
    :func:`~flask_tiktok.storage.sealing.seal_tokens`); whoever reads the
    cookie sees no TikTok token. Only the request's own user can be read or
    written: for any other ``open_id`` the methods find and change nothing.
    """

    def get_user(self) -> StoredUser | None:
        # Every protected request reads this: the session taken once.
        cookie = request_session()
        if cookie is None:
            return None
        record = cookie.get(_KEY)
        if not isinstance(record, dict):
            return None
        values, codes = record.get("p"), record.get("s", 0)
        if isinstance(values, str) and type(codes) is int and "x" not in record:
            read = _read_packed(values, codes)
        else:
            read = _read(record)
            if read is not None and _outdated(record):
                cookie[_KEY] = _record(record, read[2], list(read[1]))
        if read is None:
            return None
        open_id, scopes, profile = read
        logged_in_at = record.get("a")
        # Copies: what the cache keeps is never handed out.
        return StoredUser(
            open_id,
            list(scopes),
            dict(profile),
            float(logged_in_at) if isinstance(logged_in_at, (int, float)) else None,
        )

    def get_tokens(self, open_id: str) -> OAuth2Tokens | None:
        user = self.get_user()
        if user is None or user.open_id != open_id:
            return None
        record = session[_KEY]
        if not isinstance(record.get("t"), str):
            return None
        opened = open_tokens(record["t"], open_id, join_list(user.scopes))
        if opened is None:
            return None
        if opened.stale:
            # Opened by a fallback key (or sealed by 0.1, or as a JSON list):
            # sealed again now, so the login outlives the fallback's removal.
            session[_KEY] = record | {"t": seal_tokens(open_id, opened.tokens)}
        return opened.tokens

    def set(self, user: StoredUser, tokens: OAuth2Tokens) -> None:
        sealed = seal_tokens(user.open_id, tokens)
        scopes = join_list(user.scopes)
        room = _COOKIE_BUDGET - len(sealed) - len(scopes)
        # The login's second (rounded down): TikTok dates a removal to the
        # second, and a removal in the login's second or later still ends it
        # (TikTokState.authorization_removed), as with the exact time.
        logged_in_at = math.floor(user.logged_in_at or time.time())
        record = {"t": sealed, "a": logged_in_at}
        profile = _fitting_profile(user.profile, user.open_id, room)
        session[_KEY] = _record(record, profile, user.scopes)

    def set_tokens(self, open_id: str, tokens: OAuth2Tokens) -> None:
        user = self.get_user()
        if user is None or user.open_id != open_id:
            return
        if tokens.scopes:
            user = replace(user, scopes=tokens.scopes)
        # Through set(): the new tokens may be longer, and the profile must
        # still leave room for them within the cookie's budget.
        self.set(user, tokens)

    def drop_largest_field(self, data: SessionMixin) -> bool:
        """Drop the largest field of the login's profile in ``data`` (the
        session being saved; the field then reads as ``None``) to make room
        in the cookie; whether there was one."""
        record = data.get(_KEY)
        profile = _profile(record) if isinstance(record, dict) else None
        if not isinstance(record, dict) or profile is None:
            return False
        largest = _largest_field(profile)
        if largest is None:
            return False
        profile = {k: v for k, v in profile.items() if k != largest}
        data[_KEY] = _record(record, profile, _scopes(record))
        return True

    def delete(self, open_id: str | None = None) -> None:
        if not has_request_context():
            return
        user = self.get_user()
        if open_id is None or (user is not None and user.open_id == open_id):
            session.pop(_KEY, None)


#: The profile's known fields, in the order the record's ``"p"`` list holds
#: them: :data:`~flask_tiktok.fields.FIELDS_BY_SCOPE`'s, which only ever
#: grows at its end, as cookies already in browsers are read by position
#: (``test_storage_session.py`` pins it).
_PROFILE_FIELDS = tuple(f for fields in FIELDS_BY_SCOPE.values() for f in fields)
_POSITIONED = frozenset(_PROFILE_FIELDS)
#: The scopes the record's ``"s"`` holds as a number: bit ``i`` (or index
#: ``i`` in a list) is ``_SCOPES[i]``; others by name. Append only, as
#: :data:`_PROFILE_FIELDS`.
_SCOPES = (
    "user.info.basic",
    "user.info.profile",
    "user.info.stats",
    "video.list",
    "video.publish",
    "video.upload",
)
_SCOPE_CODES = {scope: i for i, scope in enumerate(_SCOPES)}


#: A login as :func:`_read` gives it: open_id, scopes, profile.
_Read = tuple[str, tuple[str, ...], dict[str, Any]]


def _read(record: dict[str, Any]) -> _Read | None:
    """The login ``record`` holds, however kept (``None`` without a string
    ``open_id``)."""
    profile = _profile(record)
    if profile is None:
        return None
    return profile["open_id"], tuple(_scopes(record)), profile


@lru_cache(maxsize=256)
def _read_packed(values: str, codes: int) -> _Read | None:
    """:func:`_read` for a record as kept now, remembered: keyed by the
    cookie's own values, the same login's requests hit. Shared: copy what
    it gives before handing it out."""
    return _read({"p": values, "s": codes})


def _outdated(record: dict[str, Any]) -> bool:
    """Whether ``record`` is kept as an earlier version did (0.1: ``"u"``
    and a scope string; before 0.2: the fields and scopes as lists)."""
    return not isinstance(record.get("p"), str) or isinstance(record.get("s"), str)


def _profile(record: dict[str, Any]) -> dict[str, Any] | None:
    """The profile ``record`` holds (``None`` without a string ``open_id``):
    its ``"p"`` list (as a JSON string or a list) and ``"x"`` fields, or its
    ``"u"`` object (0.1)."""
    values = record.get("p")
    if isinstance(values, str):
        try:
            values = json.loads(values)
        except (ValueError, RecursionError):
            return None
    profile: Any
    if isinstance(values, list):
        # Not strict: the trailing None fields are not in the list.
        profile = dict(zip(_PROFILE_FIELDS, values, strict=False))
        if None in values:
            profile = {name: v for name, v in profile.items() if v is not None}
        extras = record.get("x")
        if isinstance(extras, dict):
            profile = extras | profile
    else:
        profile = record.get("u")
    if not isinstance(profile, dict) or not isinstance(profile.get("open_id"), str):
        return None
    return profile


def _scopes(record: dict[str, Any]) -> list[str]:
    """The scopes ``record`` holds: its ``"s"`` bits or list (known scopes
    as their index, others by name), or string (0.1)."""
    codes = record.get("s", ())
    if isinstance(codes, str):
        return split_list(codes)
    if type(codes) is int:  # not a bool
        return list(_scopes_of_bits(codes))
    try:
        return list(_decoded_scopes(tuple(codes)))
    except TypeError:  # not a list, or one holding a list or an object
        return []


@lru_cache(maxsize=64)
def _scopes_of_bits(bits: int) -> tuple[str, ...]:
    if bits < 0:  # not written by _scope_codes(): no scope
        return ()
    return tuple(scope for i, scope in enumerate(_SCOPES) if bits >> i & 1)


@lru_cache(maxsize=64)
def _decoded_scopes(codes: tuple[Any, ...]) -> tuple[str, ...]:
    # Cached: a protected request reads the same few lists over and over.
    return tuple(
        _SCOPES[c] if isinstance(c, int) else c
        for c in codes
        if isinstance(c, str) or (isinstance(c, int) and 0 <= c < len(_SCOPES))
    )


def _scope_codes(scopes: list[str]) -> int | list[int | str]:
    """``scopes`` as the record keeps them: one bit each when every scope is
    known and in their order (the order is kept either way), else a list of
    indexes and names."""
    codes = [_SCOPE_CODES.get(scope, scope) for scope in scopes]
    known = [c for c in codes if isinstance(c, int)]
    if len(known) == len(codes) and known == sorted(set(known)):
        return sum(1 << c for c in known)
    return codes


def _record(
    record: dict[str, Any], profile: dict[str, Any], scopes: list[str]
) -> dict[str, Any]:
    """``record`` holding ``profile`` and ``scopes``: the profile's known
    fields by position in one JSON string (a missing or ``None`` field is
    ``None``, none at the end), the others by name; the scopes by
    :func:`_scope_codes`. Nothing empty is kept: a ``None`` field reads as
    ``None`` either way, no scope as none."""
    values = [profile.get(name) for name in _PROFILE_FIELDS]
    while values and values[-1] is None:
        values.pop()
    kept = {k: v for k, v in record.items() if k not in ("u", "p", "x", "s")}
    kept["p"] = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    if scopes:
        kept["s"] = _scope_codes(scopes)
    extras = {
        k: v for k, v in profile.items() if k not in _POSITIONED and v is not None
    }
    if extras:
        kept["x"] = extras
    return kept


#: Characters of the session cookie a login may take: browsers drop a cookie
#: over 4 KB, and the app's session holds pending logins and its own data.
_COOKIE_BUDGET = 3000


def _fitting_profile(
    profile: dict[str, Any], open_id: str, room: int
) -> dict[str, Any]:
    """``profile`` with its largest fields dropped until it fits ``room``.

    A profile too big for the cookie would make the browser drop the whole
    cookie, and the login with it; a dropped field reads as ``None``.
    """
    kept = profile | {"open_id": open_id}
    while len(json.dumps(kept)) > room and (largest := _largest_field(kept)):
        del kept[largest]
    return kept


def _largest_field(profile: dict[str, Any]) -> str | None:
    """The profile's field that takes the most room (never ``open_id``)."""
    sizes = {k: len(json.dumps(v)) for k, v in profile.items() if k != "open_id"}
    return max(sizes, key=sizes.__getitem__) if sizes else None
