"""Sealing tokens: how every storage keeps a token pair, encrypted.

:func:`seal_tokens` turns an :class:`~flask_tiktok.OAuth2Tokens` into a short
encrypted text (AES-256-GCM, key from the app's ``SECRET_KEY``, the app's
``TIKTOK_CLIENT_KEY`` and the user's ``open_id`` bound as associated data), and
:func:`unseal_tokens` reads it back. The cookie storage puts that text in the
session, the SQLAlchemy storage in a column: neither ever holds a token in
clear.

What is sealed is packed (:func:`_pack`): a format byte, the two tokens each
after its length (6 bits a character: TikTok's tokens use 64 characters), the
lifetimes and issue time as variable-length integers; a pair of TikTok's
72-character tokens takes 126 bytes where the JSON list sealed before (0.1
too) took 177.

A text that only a ``SECRET_KEY_FALLBACKS`` key opens, that 0.1 sealed
(bound to the ``open_id`` alone), or that holds the JSON list, is still read:
:func:`open_tokens` says it is *stale*, and the storages seal it again as the
current key, binding and format would (:func:`reseal`), so dropping the
fallback later loses nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import string
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from ..tokens import OAuth2Tokens

__all__ = [
    "OpenedTokens",
    "TokenCipher",
    "open_tokens",
    "reseal",
    "seal_tokens",
    "unseal_tokens",
]

_INFO = b"flask-tiktok token encryption v1"


def _derive(secret: str | bytes) -> AESGCM:
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    return AESGCM(hmac.new(raw, _INFO, hashlib.sha256).digest())


class TokenCipher:
    """AES-256-GCM with a key derived from the app's ``SECRET_KEY``.

    Encrypts with the first secret and decrypts with any of them, so
    ``SECRET_KEY_FALLBACKS`` keep old cookies readable during a key rotation.
    ``context`` (the user's ``open_id``) is bound as associated data: a token
    blob moved to another user's record does not decrypt.
    """

    def __init__(self, secrets: Sequence[str | bytes | None]) -> None:
        if not secrets or not secrets[0]:
            raise RuntimeError(
                "flask-tiktok encrypts tokens with the app's SECRET_KEY: set"
                " app.config['SECRET_KEY'] (the same on every worker)."
            )
        self._keys = [_derive(s) for s in secrets if s]

    def encrypt(self, plaintext: bytes, context: str) -> str:
        """Encrypt and return URL-safe text."""
        nonce = os.urandom(12)
        sealed = self._keys[0].encrypt(nonce, plaintext, context.encode("utf-8"))
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def decrypt(self, text: str, context: str) -> bytes | None:
        """Decrypt what :meth:`encrypt` made; ``None`` if no key opens it."""
        opened = self.open(text, context)
        return None if opened is None else opened[0]

    def open(self, text: str, *contexts: str) -> tuple[bytes, bool] | None:
        """Decrypt with any key and any of ``contexts``: the plaintext, and
        whether it is stale (not the first key, or not the first context);
        ``None`` if nothing opens it."""
        try:
            blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, TypeError):
            return None
        nonce, sealed = blob[:12], blob[12:]
        for c, context in enumerate(contexts):
            for k, key in enumerate(self._keys):
                try:
                    plain = key.decrypt(nonce, sealed, context.encode("utf-8"))
                except (InvalidTag, ValueError):
                    continue
                return plain, bool(c or k)
        return None


def seal_tokens(open_id: str, tokens: OAuth2Tokens) -> str:
    """``tokens`` encrypted for ``open_id`` with the current app's key.

    Only what is needed to use and refresh them is kept: the two tokens,
    their lifetimes (as :meth:`~flask_tiktok.OAuth2Tokens.lifetime` reads
    them, never the raw value) and when they were issued.
    """
    return _cipher().encrypt(_pack(tokens), _binding(open_id))


def unseal_tokens(text: str, open_id: str, scope: str) -> OAuth2Tokens | None:
    """What :func:`seal_tokens` sealed for ``open_id`` in this TikTok app, with
    the stored comma-separated ``scope``; ``None`` when no key of the app
    opens it (another ``SECRET_KEY``, another ``TIKTOK_CLIENT_KEY``, another
    user, a changed byte)."""
    opened = open_tokens(text, open_id, scope)
    return None if opened is None else opened.tokens


@dataclass(frozen=True)
class OpenedTokens:
    """What :func:`open_tokens` read."""

    #: The tokens.
    tokens: OAuth2Tokens
    #: Sealed with a ``SECRET_KEY_FALLBACKS`` key, as 0.1 did (no client key
    #: bound) or as a JSON list (before the packed format): seal them again
    #: (:func:`reseal`) while the app can read them.
    stale: bool


def open_tokens(text: str, open_id: str, scope: str) -> OpenedTokens | None:
    """:func:`unseal_tokens`, saying whether the text is stale."""
    opened = _cipher().open(text, _binding(open_id), open_id)
    if opened is None:
        return None
    plain, stale = opened
    unpacked = _unpack(plain)
    if unpacked is None:
        return None
    access, refresh, expires_in, refresh_expires_in, issued_at, packed = unpacked
    data: dict[str, Any] = {
        "access_token": access,
        "open_id": open_id,
        "scope": scope,
        "token_type": "Bearer",
    }
    if refresh:
        data["refresh_token"] = refresh
    if expires_in is not None:
        data["expires_in"] = expires_in
    if refresh_expires_in is not None:
        data["refresh_expires_in"] = refresh_expires_in
    return OpenedTokens(OAuth2Tokens(data, issued_at), stale or not packed)


def reseal(text: str, open_id: str) -> str | None:
    """``text`` sealed again with the current key and binding when it is
    stale; ``None`` when it is current or no key opens it."""
    opened = open_tokens(text, open_id, "")
    if opened is None or not opened.stale:
        return None
    return seal_tokens(open_id, opened.tokens)


def _binding(open_id: str) -> str:
    # The associated data: this TikTok app's client key and the user. A blob
    # of another app sharing the SECRET_KEY (so: another client key) does not
    # open here, and its Bearer token is never sent from here.
    client_key = current_app.config.get("TIKTOK_CLIENT_KEY") or ""
    return json.dumps([str(client_key), open_id], separators=(",", ":"))


#: The first byte of a packed plaintext (a JSON list starts with ``[``).
_PACKED = b"\x01"
#: How a lifetime is packed (0: it is missing): whole seconds, or a float.
_INT, _FLOAT = 1, 2

_Unpacked = tuple[str, str, float | None, float | None, float, bool]


def _pack(tokens: OAuth2Tokens) -> bytes:
    """The tokens' plaintext: :data:`_PACKED`, a byte saying how each
    lifetime is packed, the access and refresh tokens (each after its length),
    the lifetimes, then the issue time in whole seconds."""
    kinds = 0
    tail = bytearray()
    for shift, key in ((0, "expires_in"), (2, "refresh_expires_in")):
        seconds = tokens.lifetime(key)
        if seconds is None:
            continue
        if seconds.is_integer() and abs(seconds) < 2**53:
            kinds |= _INT << shift
            tail += _varint(int(seconds))
        else:
            kinds |= _FLOAT << shift
            tail += struct.pack("<d", seconds)
    out = bytearray(_PACKED)
    out.append(kinds)
    for token in (tokens.access_token, tokens.refresh_token or ""):
        out += _pack_text(token)
    return bytes(out + tail + _varint(int(tokens.issued_at)))


#: The characters of TikTok's tokens (``act.`` ... ``!6329.va``): 64 of them,
#: so a token written with these alone is packed 6 bits a character.
_ALPHABET = string.ascii_letters + string.digits + ".!"
_IN_ALPHABET = frozenset(_ALPHABET)
#: ``bytes.translate`` tables: a character's byte to its index, and back.
_TO_INDEX = bytes(_ALPHABET.find(chr(b)) % 64 for b in range(256))
_FROM_INDEX = bytes(ord(_ALPHABET[b % 64]) for b in range(256))


def _pack_text(token: str) -> bytes:
    """``token`` after a header saying its length and how it is packed: 6
    bits a character when all are of :data:`_ALPHABET` (character ``i`` at
    bits ``6i`` to ``6i + 5`` of a little-endian number), else its UTF-8."""
    if not _IN_ALPHABET.issuperset(token):
        raw = token.encode("utf-8")
        return _varint(len(raw) << 1, signed=False) + raw
    size = len(token)
    indexes = token.encode("ascii").translate(_TO_INDEX)
    groups = (size + 3) // 4
    # Each character's index in a byte of its own, then the bytes' 6 bits
    # moved together, with big-number masks (no loop per character): pairs
    # into 12 bits per 16, those pairs into 24 bits per 32, then every
    # fourth (empty) byte dropped.
    n = int.from_bytes(indexes, "little")
    low6, high6, low12, high12 = _masks(groups)
    n = n & low6 | n >> 2 & high6
    n = n & low12 | n >> 4 & high12
    packed = bytearray(n.to_bytes(4 * groups, "little"))
    del packed[3::4]
    return _varint(size << 1 | 1, signed=False) + bytes(packed[: (size * 6 + 7) // 8])


def _unpack_text(plain: bytes, at: int) -> tuple[str, int]:
    """The token :func:`_pack_text` wrote at ``at``, and where the next starts."""
    header, at = _read_varint(plain, at, signed=False)
    size = header >> 1
    if not header & 1:
        return plain[at : at + size].decode("utf-8"), at + size
    end = at + (size * 6 + 7) // 8
    if end > len(plain):
        raise IndexError("a packed token cut short")
    groups = (size + 3) // 4
    # _pack_text() backwards: an empty byte after every three, the 24 bits
    # of each four bytes split into 12 per 16, then 6 per 8.
    spread = bytearray(4 * groups)
    packed = plain[at:end].ljust(3 * groups, b"\0")
    spread[0::4], spread[1::4], spread[2::4] = packed[0::3], packed[1::3], packed[2::3]
    n = int.from_bytes(spread, "little")
    low6, high6, low12, high12 = _masks(groups)
    n = n & low12 | n << 4 & high12 << 4
    n = n & low6 | n << 2 & high6 << 2
    indexes = n.to_bytes(4 * groups, "little")[:size]
    return indexes.translate(_FROM_INDEX).decode("ascii"), end


@lru_cache(maxsize=32)
def _masks(groups: int) -> tuple[int, int, int, int]:
    """For ``groups`` of four characters: the bits of each first character
    (of a pair, in 16 bits) and where its second lands beside it; the same
    for 12-bit pairs in 32 bits."""
    low6 = int.from_bytes(b"\x3f\x00" * 2 * groups, "little")
    high6 = low6 << 6
    low12 = int.from_bytes(b"\xff\x0f\x00\x00" * groups, "little")
    high12 = low12 << 12
    return low6, high6, low12, high12


def _unpack(plain: bytes) -> _Unpacked | None:
    """What :func:`_pack` packed (last: ``True``), or the JSON list sealed
    before (last: ``False``); ``None`` for anything else."""
    if not plain.startswith(_PACKED):
        access, refresh, expires_in, refresh_expires_in, issued_at = json.loads(plain)
        return access, refresh, expires_in, refresh_expires_in, issued_at, False
    try:
        kinds, at = plain[1], 2
        access, at = _unpack_text(plain, at)
        refresh, at = _unpack_text(plain, at)
        lifetimes: list[float | None] = []
        for shift in (0, 2):
            kind = kinds >> shift & 3
            if kind == _INT:
                whole, at = _read_varint(plain, at)
                lifetimes.append(whole)
            elif kind == _FLOAT:
                lifetimes.append(struct.unpack_from("<d", plain, at)[0])
                at += 8
            else:
                lifetimes.append(None)
        issued_at, at = _read_varint(plain, at)
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return access, refresh, lifetimes[0], lifetimes[1], issued_at, True


def _varint(value: int, *, signed: bool = True) -> bytes:
    # 7 bits a byte, low first, the high bit set on every byte but the last;
    # signed: zigzag first (a negative number costs what its absolute does).
    n = (value << 1 if value >= 0 else (~value << 1) | 1) if signed else value
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes, at: int, *, signed: bool = True) -> tuple[int, int]:
    """The number :func:`_varint` wrote at ``at``, and where the next starts."""
    n = shift = 0
    while True:
        byte = data[at]
        at += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return ((n >> 1) ^ -(n & 1) if signed else n), at


def _cipher() -> TokenCipher:
    config = current_app.config
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or ()
    return _cipher_for((config.get("SECRET_KEY"), *fallbacks))


@lru_cache(maxsize=8)
def _cipher_for(secrets: tuple[str | bytes, ...]) -> TokenCipher:
    return TokenCipher(secrets)
