"""Edges of the core modules the flow tests do not reach, each one a branch a
hostile cookie, a strange answer or a misconfiguration takes."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TOKEN_URL, USER_INFO_URL, create_app, log_in, token_body
from flask import Flask

from flask_tiktok.client import TikTokClient
from flask_tiktok.crypto import TokenCipher
from flask_tiktok.current import current_login
from flask_tiktok.refresh import TokenRefresher, _RotationRecord
from flask_tiktok.state import get_state
from flask_tiktok.storage import SessionStorage, StoredUser
from flask_tiktok.tokens import OAuth2Tokens
from flask_tiktok.user import AnonymousTikTokUser, TikTokUser


@pytest.mark.parametrize("secrets", [[], [None], [""]])
def test_cipher_without_secret_key_names_it(secrets: list[Any]) -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        TokenCipher(secrets)


@pytest.mark.parametrize("blob", ["", "!!!not base64!!!", "A", "AAAA", "é"])
def test_cipher_refuses_malformed_blobs(blob: str) -> None:
    assert TokenCipher(["k"]).decrypt(blob, "open-id") is None


def test_cipher_fallback_secret_opens_old_blobs_only() -> None:
    old = TokenCipher(["old"]).encrypt(b"secret", "u")
    assert TokenCipher(["new", "old"]).decrypt(old, "u") == b"secret"
    assert TokenCipher(["new"]).decrypt(old, "u") is None


def test_token_repr_equality_and_round_trip() -> None:
    tokens = OAuth2Tokens(token_body(), issued_at=1_800_000_000)
    assert "act.alice-1" not in repr(tokens) and "rft" not in repr(tokens)
    assert tokens != "act.alice-1"
    assert OAuth2Tokens.from_dict(tokens.to_dict()) == tokens
    without = OAuth2Tokens({"access_token": "a"})
    assert without.refresh_token_expired() is True
    assert without.access_token_expired() is False  # no lifetime: unknown


def test_user_objects_never_invent_attributes() -> None:
    user = TikTokUser(StoredUser("oid", ["user.info.basic"], {"display_name": "A"}))
    assert repr(user) == "<TikTokUser 'oid'>"
    assert user.display_name == "A" and user.follower_count is None
    assert user.has_scopes("user.info.basic")
    assert not user.has_scopes("user.info.basic", "video.list")
    with pytest.raises(AttributeError):
        _ = user.access_token
    anonymous = AnonymousTikTokUser()
    assert repr(anonymous) == "<AnonymousTikTokUser>"
    assert anonymous.display_name is None and not anonymous.has_scopes()
    with pytest.raises(AttributeError):
        _ = anonymous.access_token


@pytest.mark.parametrize(
    "record",
    [
        "not a dict",
        {"u": "not a dict"},
        {"u": {"display_name": "no open_id"}},
        {"u": {"open_id": 42}},
    ],
)
def test_malformed_session_record_is_anonymous(app: Flask, record: Any) -> None:
    with app.test_request_context():
        from flask import session

        session["_tiktok"] = record
        storage = SessionStorage()
        assert storage.get_user() is None
        assert storage.get_tokens("open-id-alice") is None


def test_session_storage_touches_only_the_current_user(
    app: Flask, tiktok_mock: Any
) -> None:
    """Another user's open_id can neither read, overwrite nor delete the
    current user's tokens."""
    client = app.test_client()
    log_in(client)
    with client.session_transaction() as sess:
        record = dict(sess["_tiktok"])
    with app.test_request_context():
        from flask import session

        session["_tiktok"] = record
        storage = SessionStorage()
        stolen = OAuth2Tokens(token_body(access_token="act.mallory"))
        assert storage.get_tokens("open-id-mallory") is None
        storage.set_tokens("open-id-mallory", stolen)
        storage.delete("open-id-mallory")
        tokens = storage.get_tokens("open-id-alice")
        assert tokens is not None and tokens.access_token == "act.alice-1"
        del session["_tiktok"]["t"]
        assert storage.get_tokens("open-id-alice") is None
    SessionStorage().delete()  # outside a request: nothing to do, no error


def test_current_tokens_without_user_or_tokens(app: Flask) -> None:
    with app.test_request_context():
        assert current_login().tokens() is None
    with app.test_request_context():
        from flask import session

        session["_tiktok"] = {"u": {"open_id": "o"}, "s": ""}
        assert current_login().tokens() is None


def test_rotation_record_is_bounded_and_expires() -> None:
    record = _RotationRecord(ttl=300, size=2)
    tokens = OAuth2Tokens({"access_token": "a"})
    for name in ("r1", "r2", "r3"):
        record.put(name, tokens)
    assert record.get("r1") is None and record.get("r3") is tokens
    expired = _RotationRecord(ttl=-1, size=10)
    expired.put("r", tokens)
    assert expired.get("r") is None


def test_refresh_answer_without_refresh_token_keeps_the_old_one(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    tiktok_mock.post(TOKEN_URL, json=token_body(expires_in=30))
    log_in(client)
    tiktok_mock.post(
        TOKEN_URL, json=token_body(access_token="act.alice-2", refresh_token=None)
    )
    assert client.get("/api/me").status_code == 200
    with app.test_request_context():
        from flask import session

        with client.session_transaction() as sess:
            session["_tiktok"] = dict(sess["_tiktok"])
        tokens = SessionStorage().get_tokens("open-id-alice")
    assert tokens is not None and tokens.refresh_token == "rft.alice-1"
    assert tokens.access_token == "act.alice-2"


def test_refresher_without_callbacks(app: Flask, tiktok_mock: Any) -> None:
    state = get_state(app)
    refresher = TokenRefresher(state.client, state.storage)
    expired = OAuth2Tokens(token_body(expires_in=0))
    tiktok_mock.post(TOKEN_URL, json=token_body(access_token="act.alice-2"))
    with app.test_request_context():
        assert refresher.ensure_fresh("open-id-alice", expired).access_token == (
            "act.alice-2"
        )
        tiktok_mock.post(TOKEN_URL, json={"error": "invalid_grant", "log_id": "L"})
        again = OAuth2Tokens(token_body(expires_in=0, refresh_token="rft.other"))
        from flask_tiktok.errors import TikTokLoginRequired

        with pytest.raises(TikTokLoginRequired):
            refresher.ensure_fresh("open-id-alice", again)


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example/x",
        "/\\evil.example",
        "HTTPS://evil.example/",
        "@evil.example/",
        "%2F%2Fevil.example",
        "https:evil.example",
    ],
)
def test_relative_api_paths_stay_on_the_api_host(path: str) -> None:
    """Threat: token exfiltration through a crafted API path. A relative
    path, however written, is joined under TIKTOK_API_BASE_URL, so the Bearer
    token goes to TikTok's host only (absolute URLs are the caller's choice,
    documented in docs/security.rst)."""
    client = TikTokClient("k", "s", "https://app.example/cb")
    from urllib.parse import urlsplit

    assert urlsplit(client.api_url(path)).netloc == "open.tiktokapis.com"


def test_api_session_verbs_send_the_bearer(app: Flask, tiktok_mock: Any) -> None:
    client = app.test_client()
    log_in(client)
    for method in ("POST", "PUT", "DELETE"):
        tiktok_mock.register_uri(method, USER_INFO_URL, json={"data": {}})
    with client.session_transaction() as sess:
        record = dict(sess["_tiktok"])
    with app.test_request_context():
        from flask import session

        session["_tiktok"] = record
        api = app.extensions["test_tiktok"].api
        for verb in (api.post, api.put, api.delete):
            assert verb("user/info/").status_code == 200
            assert tiktok_mock.last_request.headers["Authorization"] == (
                "Bearer act.alice-1"
            )
    assert [r.method for r in tiktok_mock.request_history[-3:]] == [
        "POST",
        "PUT",
        "DELETE",
    ]


def test_logout_user_without_a_user_sends_nothing(app: Flask) -> None:
    from flask_tiktok import signals

    seen: list[Any] = []
    with (
        signals.tiktok_logged_out.connected_to(lambda s, **kw: seen.append(kw), app),
        app.test_request_context(),
    ):
        app.extensions["test_tiktok"].logout_user()
        assert app.extensions["test_tiktok"].storage is get_state().storage
    assert seen == []


def test_revoke_non_ok_without_error_body_is_unexpected(tiktok_mock: Any) -> None:
    from conftest import REVOKE_URL

    from flask_tiktok.errors import UnexpectedResponseError

    tiktok_mock.post(REVOKE_URL, status_code=503, json={})
    with pytest.raises(UnexpectedResponseError):
        TikTokClient("k", "s", None).revoke_token("act")


def test_unknown_pkce_method_is_refused() -> None:
    from flask_tiktok.pkce import create_code_challenge

    with pytest.raises(ValueError, match="PKCE"):
        create_code_challenge("v" * 43, "plain")  # type: ignore[arg-type]


def test_new_app_without_tiktok_is_named() -> None:
    with pytest.raises(RuntimeError, match="init_app"):
        get_state(Flask(__name__))
    assert create_app() is not None
