"""SessionStorage: the user in the signed cookie, the tokens sealed in it (the
cipher, bound to the open_id and the SECRET_KEY), hostile cookie records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from helpers import (
    REVOKE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    calls,
    cookie_payload,
    create_app,
    form,
    log_in,
    token_body,
    user_info_body,
)

from flask_tiktok import SessionStorage
from flask_tiktok.storage import StoredUser
from flask_tiktok.storage.sealing import TokenCipher
from flask_tiktok.tokens import OAuth2Tokens


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


def test_cookie_holds_no_token_and_stays_small(tiktok_mock: Any) -> None:
    long_url = (
        "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/" + "a" * 180 + ".jpeg"
    )
    profile = {
        "open_id": "-000Tu4AArq1kYnYzNsbIGBIDpsFB5PIzS9M",
        "union_id": "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
        "avatar_url": long_url,
        "avatar_url_100": long_url + "?x=100",
        "avatar_large_url": long_url + "?x=1080",
        "display_name": "A creator with a long display name",
        "bio_description": "Bio " * 20,
        "profile_deep_link": "https://vm.tiktok.com/ZMabcdefg/",
        "is_verified": False,
        "username": "creator.name",
        "follower_count": 123456,
        "following_count": 321,
        "likes_count": 9876543,
        "video_count": 456,
    }
    tiktok_mock.post(
        TOKEN_URL,
        json=token_body(
            access_token="act." + "A" * 70,
            refresh_token="rft." + "B" * 70,
            open_id=profile["open_id"],
            scope="user.info.basic,user.info.profile,user.info.stats",
        ),
    )
    tiktok_mock.get(USER_INFO_URL, json=user_info_body(profile))
    app = create_app(
        TIKTOK_SCOPES=["user.info.basic", "user.info.profile", "user.info.stats"]
    )
    client = app.test_client()
    log_in(client)
    payload = cookie_payload(client)
    assert "A" * 70 not in payload and "B" * 70 not in payload
    assert "A creator with a long display name" in payload
    assert len(client.get_cookie("session").value) < 2048  # type: ignore[union-attr]
    assert client.get("/stats").get_data(as_text=True) == "followers: 123456"


def test_decoded_cookie_has_the_profile_by_position(
    app: Flask, tiktok_mock: Any
) -> None:
    client = app.test_client()
    log_in(client)
    record = json.loads(cookie_payload(client))["_tiktok"]
    # One string (Flask's tag scan walks each value of a list in Python).
    fields = json.loads(record["p"])
    assert fields[0] == "open-id-alice"
    assert "Alice <Creator>" in fields
    assert record["s"] == 1  # bit 0: user.info.basic


def test_a_profile_reads_back_as_stored_without_its_none_fields(app: Flask) -> None:
    """Known fields by position, others by name (a field TikTok may add),
    unknown scopes by name; a ``None`` field is not kept (it reads as None)."""
    profile = {
        "open_id": "open-id-alice",
        "avatar_url": None,
        "display_name": "Alice",
        "video_count": 0,
        "is_verified": False,
        "a_field_tiktok_added": {"x": [1]},
        "nothing": None,
    }
    scopes = ["video.list", "research.adlib.basic", "user.info.basic"]
    with app.test_request_context():
        from flask import session

        storage = SessionStorage()
        tokens = OAuth2Tokens(token_body())
        storage.set(StoredUser("open-id-alice", scopes, profile), tokens)
        record = session["_tiktok"]
        user = storage.get_user()
    assert user is not None and user.scopes == scopes
    assert user.profile == {k: v for k, v in profile.items() if v is not None}
    assert record["x"] == {"a_field_tiktok_added": {"x": [1]}}
    fields = json.loads(record["p"])
    assert fields[-1] == 0 and None in fields
    # An unknown scope (or known ones out of order): a list, order kept.
    assert record["s"] == [3, "research.adlib.basic", 0]


def test_the_profile_positions_of_cookies_in_browsers_stay() -> None:
    """A cookie holds the profile's known fields by position: a field added
    in between would make every cookie already out read the wrong fields."""
    from flask_tiktok.storage.session import _PROFILE_FIELDS

    assert _PROFILE_FIELDS[:14] == (
        *("open_id", "union_id", "avatar_url", "avatar_url_100"),
        *("avatar_large_url", "display_name", "bio_description"),
        *("profile_deep_link", "is_verified", "username", "follower_count"),
        *("following_count", "likes_count", "video_count"),
    )


@pytest.mark.parametrize("codes", [-1, True, 2**80 - 1 << 6, [99, -1]])
def test_scope_codes_no_version_wrote_grant_nothing_unknown(
    app: Flask, codes: Any
) -> None:
    """Scopes come from the signed cookie, but a value no version writes
    (negative, a bool, bits past the known scopes) grants nothing more."""
    with app.test_request_context():
        from flask import session

        session["_tiktok"] = {"p": '["open-id-alice"]', "s": codes}
        user = SessionStorage().get_user()
    assert user is not None and user.open_id == "open-id-alice"
    assert user.scopes == []


def test_what_a_request_reads_is_its_own_to_change(app: Flask) -> None:
    """Decoding a cookie's profile is remembered across requests (the same
    login sends the same strings): each request still gets its own copies,
    so a change made in one is not seen by the next."""
    with app.test_request_context():
        from flask import session

        storage = SessionStorage()
        user = StoredUser("open-id-alice", ["user.info.basic"], {"display_name": "A"})
        storage.set(user, OAuth2Tokens(token_body()))
        record = dict(session["_tiktok"])
    for _ in range(2):
        with app.test_request_context():
            from flask import session

            session["_tiktok"] = dict(record)
            read = storage.get_user()
            assert read is not None
            assert read.profile == {"open_id": "open-id-alice", "display_name": "A"}
            assert read.scopes == ["user.info.basic"]
            read.profile["display_name"] = "changed"
            read.scopes.append("video.list")


def test_secret_key_rotation_keeps_users_logged_in(tiktok_mock: Any) -> None:
    old = create_app(SECRET_KEY="old-secret")
    client = old.test_client()
    log_in(client)
    cookie = client.get_cookie("session").value  # type: ignore[union-attr]
    new = create_app(SECRET_KEY="new-secret", SECRET_KEY_FALLBACKS=["old-secret"])
    other = new.test_client()
    other.set_cookie("session", cookie)
    assert other.get("/").get_data(as_text=True) == "Hello Alice &lt;Creator&gt;"
    other.post("/tiktok/logout")
    assert form(calls(tiktok_mock, REVOKE_URL)[-1])["token"] == "act.alice-1"


@pytest.mark.parametrize(
    "record",
    [
        "not a dict",
        {"u": "not a dict"},
        {"u": {"display_name": "no open_id"}},
        {"u": {"open_id": 42}},
        {"p": "not json", "s": 1},
        {"p": "{}", "s": 1},
        {"p": "[42]", "s": 1},
        {"p": "[null]", "s": 1},
        {"p": "[" * 100_000, "s": 1},
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
