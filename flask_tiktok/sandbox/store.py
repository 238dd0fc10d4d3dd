"""Codes, tokens and authorizations: the sandbox's mutable OAuth state."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from . import ids
from .errors import OAuthError

#: How the sandbox checks ``code_verifier`` against the stored ``code_challenge``.
PKCEEncoding = Literal["hex", "base64url", "any"]

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
CLIENT_TOKEN_LIFETIME = 7200


@dataclass
class AuthCode:
    """An issued authorization code and what it is bound to."""

    code: str
    client_key: str
    open_id: str
    scopes: tuple[str, ...]
    redirect_uri: str
    code_challenge: str | None
    expires_at: float
    used: bool = False
    issued: list[str] = field(default_factory=list)


@dataclass
class Token:
    """An access or refresh token; ``open_id`` is None for client credentials."""

    token: str
    client_key: str
    open_id: str | None
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True)
class Authorization:
    """A user's standing grant of scopes to an app, shown on the home page."""

    client_key: str
    open_id: str
    scopes: tuple[str, ...]
    granted_at: float


def challenge_matches(verifier: str, challenge: str, encoding: PKCEEncoding) -> bool:
    """Whether ``verifier`` hashes to ``challenge`` in the accepted encoding(s)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    candidates = []
    if encoding in ("hex", "any"):
        candidates.append(digest.hex())
    if encoding in ("base64url", "any"):
        candidates.append(base64.urlsafe_b64encode(digest).rstrip(b"=").decode())
    return any(hmac.compare_digest(c, challenge) for c in candidates)


class TokenStore:
    """Thread-safe issue, redemption, rotation and revocation of codes and tokens."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        access_token_lifetime: int,
        refresh_token_lifetime: int,
        code_lifetime: int,
        pkce: PKCEEncoding,
    ) -> None:
        self.clock = clock
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.code_lifetime = code_lifetime
        self.pkce: PKCEEncoding = pkce
        self._lock = threading.RLock()
        self._codes: dict[str, AuthCode] = {}
        self._access: dict[str, Token] = {}
        self._refresh: dict[str, Token] = {}
        self._authorizations: dict[tuple[str, str], Authorization] = {}

    def reset(self) -> None:
        """Forget every code, token and authorization."""
        with self._lock:
            self._codes.clear()
            self._access.clear()
            self._refresh.clear()
            self._authorizations.clear()

    def issue_code(
        self,
        client_key: str,
        open_id: str,
        scopes: Iterable[str],
        redirect_uri: str,
        code_challenge: str | None,
    ) -> str:
        """Mint a single-use code bound to the client, user, scopes and redirect URI."""
        code = ids.new_code()
        with self._lock:
            self._codes[code] = AuthCode(
                code=code,
                client_key=client_key,
                open_id=open_id,
                scopes=tuple(scopes),
                redirect_uri=redirect_uri,
                code_challenge=code_challenge,
                expires_at=self.clock() + self.code_lifetime,
            )
        return code

    def redeem_code(
        self,
        client_key: str,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
    ) -> dict[str, Any]:
        """Exchange a code for tokens, or raise :class:`OAuthError`.

        A second use of a code fails and revokes what its first use issued
        (RFC 6749 4.1.2).
        """
        with self._lock:
            entry = self._codes.get(code)
            if entry is None or entry.client_key != client_key:
                raise OAuthError("invalid_grant", "Authorization code is invalid.")
            if entry.used:
                for token in entry.issued:
                    self._revoke_token(token)
                raise OAuthError(
                    "invalid_grant", "Authorization code has already been used."
                )
            if self.clock() >= entry.expires_at:
                raise OAuthError("invalid_grant", "Authorization code is expired.")
            if redirect_uri != entry.redirect_uri:
                raise OAuthError(
                    "invalid_grant",
                    "redirect_uri does not match the one used to get the code.",
                )
            if entry.code_challenge is not None:
                if not code_verifier:
                    raise OAuthError("invalid_request", "code_verifier is required.")
                if not _VERIFIER.fullmatch(code_verifier):
                    raise OAuthError("invalid_request", "code_verifier is malformed.")
                if not challenge_matches(
                    code_verifier, entry.code_challenge, self.pkce
                ):
                    raise OAuthError(
                        "invalid_grant", "code_verifier does not match code_challenge."
                    )
            entry.used = True
            body = self._grant(entry.client_key, entry.open_id, entry.scopes)
            entry.issued += [body["access_token"], body["refresh_token"]]
            return body

    def refresh(self, client_key: str, refresh_token: str) -> dict[str, Any]:
        """Rotate a refresh token: new access and refresh tokens, the old one dies."""
        with self._lock:
            entry = self._refresh.get(refresh_token)
            if entry is None or entry.client_key != client_key:
                raise OAuthError(
                    "invalid_grant", "Refresh token is invalid or revoked."
                )
            if self.clock() >= entry.expires_at:
                raise OAuthError("invalid_grant", "Refresh token is expired.")
            del self._refresh[refresh_token]
            assert entry.open_id is not None
            return self._mint(entry.client_key, entry.open_id, entry.scopes)

    def client_credentials(self, client_key: str) -> dict[str, Any]:
        """A client access token, tied to no user."""
        token = ids.new_client_token()
        with self._lock:
            self._access[token] = Token(
                token, client_key, None, (), self.clock() + CLIENT_TOKEN_LIFETIME
            )
        return {
            "access_token": token,
            "expires_in": CLIENT_TOKEN_LIFETIME,
            "token_type": "Bearer",
        }

    def grant(
        self, client_key: str, open_id: str, scopes: Iterable[str]
    ) -> dict[str, Any]:
        """Record an authorization and mint its tokens, with no code in between."""
        with self._lock:
            return self._grant(client_key, open_id, tuple(scopes))

    def _grant(
        self, client_key: str, open_id: str, scopes: tuple[str, ...]
    ) -> dict[str, Any]:
        previous = self._authorizations.get((client_key, open_id))
        merged = dict.fromkeys((*(previous.scopes if previous else ()), *scopes))
        self._authorizations[(client_key, open_id)] = Authorization(
            client_key, open_id, tuple(merged), self.clock()
        )
        return self._mint(client_key, open_id, scopes)

    def _mint(
        self, client_key: str, open_id: str, scopes: tuple[str, ...]
    ) -> dict[str, Any]:
        now = self.clock()
        access = Token(
            ids.new_access_token(),
            client_key,
            open_id,
            scopes,
            now + self.access_token_lifetime,
        )
        refresh = Token(
            ids.new_refresh_token(),
            client_key,
            open_id,
            scopes,
            now + self.refresh_token_lifetime,
        )
        self._access[access.token] = access
        self._refresh[refresh.token] = refresh
        return {
            "access_token": access.token,
            "expires_in": self.access_token_lifetime,
            "open_id": open_id,
            "refresh_expires_in": self.refresh_token_lifetime,
            "refresh_token": refresh.token,
            "scope": ",".join(scopes),
            "token_type": "Bearer",
        }

    def access_token(self, token: str) -> Token | None:
        """The live access token ``token``, or None if unknown, expired or revoked."""
        with self._lock:
            entry = self._access.get(token)
            if entry is None or self.clock() >= entry.expires_at:
                return None
            return entry

    def revoke(self, client_key: str, token: str) -> None:
        """Revoke the whole authorization ``token`` (access or refresh) belongs to."""
        with self._lock:
            entry = self._access.get(token) or self._refresh.get(token)
            if entry is None or entry.client_key != client_key:
                return
            if entry.open_id is None:
                self._access.pop(token, None)
                return
            self.remove_authorization(client_key, entry.open_id)

    def _revoke_token(self, token: str) -> None:
        self._access.pop(token, None)
        self._refresh.pop(token, None)

    def remove_authorization(self, client_key: str, open_id: str) -> bool:
        """Drop a user's grant to an app and every token it issued.

        Returns whether there was anything to remove.
        """
        with self._lock:
            found = self._authorizations.pop((client_key, open_id), None) is not None
            for table in (self._access, self._refresh):
                doomed = [
                    key
                    for key, entry in table.items()
                    if entry.client_key == client_key and entry.open_id == open_id
                ]
                for key in doomed:
                    del table[key]
                found = found or bool(doomed)
            return found

    def expire_access_token(self, token: str) -> None:
        """Make ``token`` expired now; raises :class:`KeyError` if it is unknown."""
        with self._lock:
            self._access[token].expires_at = self.clock() - 1

    def expire_all_access_tokens(self) -> None:
        """Make every access token expired now (refresh tokens keep working)."""
        with self._lock:
            for entry in self._access.values():
                entry.expires_at = self.clock() - 1

    def authorizations(self) -> list[Authorization]:
        """A snapshot of every standing authorization."""
        with self._lock:
            return list(self._authorizations.values())
