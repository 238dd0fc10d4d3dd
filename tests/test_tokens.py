"""OAuth2Tokens: what it shows, compares and keeps."""

from __future__ import annotations

from helpers import token_body

from flask_tiktok.tokens import OAuth2Tokens


def test_token_repr_equality_and_round_trip() -> None:
    tokens = OAuth2Tokens(token_body(), issued_at=1_800_000_000)
    assert "act.alice-1" not in repr(tokens) and "rft" not in repr(tokens)
    assert tokens != "act.alice-1"
    assert OAuth2Tokens.from_dict(tokens.to_dict()) == tokens
    without = OAuth2Tokens({"access_token": "a"})
    assert without.refresh_token_expired() is True
    assert without.access_token_expired() is False  # no lifetime: unknown
