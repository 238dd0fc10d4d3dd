"""PKCE and state: the generated secrets and the code challenge."""

from __future__ import annotations

import string

import pytest

from flask_tiktok import generate_code_verifier, generate_state


def test_generated_secrets() -> None:
    states = {generate_state() for _ in range(50)}
    assert len(states) == 50
    allowed = set(string.ascii_letters + string.digits + "-_")
    assert all(len(s) >= 32 and set(s) <= allowed for s in states)
    verifier = generate_code_verifier()
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set(string.ascii_letters + string.digits + "-._~")
    assert len(generate_code_verifier(128)) == 128
    with pytest.raises(ValueError):
        generate_code_verifier(42)


def test_unknown_pkce_method_is_refused() -> None:
    from flask_tiktok.pkce import create_code_challenge

    with pytest.raises(ValueError, match="PKCE"):
        create_code_challenge("v" * 43, "plain")  # type: ignore[arg-type]
