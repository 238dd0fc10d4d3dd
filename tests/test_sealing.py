"""Sealed tokens across a SECRET_KEY rotation, and bound to one TikTok app.

A text only a ``SECRET_KEY_FALLBACKS`` key opens is sealed again with the
current key when it is read (cookie and row) or by ``flask tiktok reseal``, so
dropping the fallback loses no login; ``users`` and ``refresh`` agree about
tokens no key opens. Two apps sharing a ``SECRET_KEY`` with different client
keys read nothing of each other's.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest
from flask import Flask
from helpers import (
    ALICE,
    BOB,
    CLIENT_KEY,
    PROFILE,
    bearers,
    cookie_payload,
    create_app,
    expired,
    log_in,
    row,
    store,
    who,
)
from sqlalchemy import Engine, update

from flask_tiktok import TikTokLoginRequired
from flask_tiktok.sqla import SQLAlchemyStorage, TikTokAccount
from flask_tiktok.storage import StoredUser
from flask_tiktok.storage.sealing import (
    TokenCipher,
    open_tokens,
    seal_tokens,
    unseal_tokens,
)
from flask_tiktok.tokens import OAuth2Tokens

OLD, NEW = "old-secret-key", "new-secret-key"


def rotated(storage: Any = None, **config: Any) -> tuple[Flask, Flask, Flask]:
    """The app before the rotation, during it (old key as fallback), after
    the fallback was dropped."""
    return (
        create_app(storage=storage, SECRET_KEY=OLD, **config),
        create_app(storage=storage, SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[OLD]),
        create_app(storage=storage, SECRET_KEY=NEW),
    )


def sealed_as_json(secret: str, binding: str) -> str:
    """Alice's tokens sealed as a JSON list (before the packed format)."""
    compact = ["act.alice-1", "rft.alice-1", 86400, 31536000, int(time.time())]
    plain = json.dumps(compact, separators=(",", ":")).encode()
    return TokenCipher([secret]).encrypt(plain, binding)


def sealed_as_0_1(secret: str, open_id: str = ALICE) -> str:
    """Alice's tokens sealed as flask-tiktok 0.1 did: bound to the open_id only."""
    return sealed_as_json(secret, open_id)


#: The associated data tokens are sealed with: the client key and the user.
BOUND = json.dumps([CLIENT_KEY, ALICE], separators=(",", ":"))


def plaintext(text: str, secret: str = NEW) -> bytes | None:
    """What ``text`` holds (bound to this app and Alice), opened by hand."""
    return TokenCipher([secret]).decrypt(text, BOUND)


def sealed_column(engine: Engine, open_id: str = ALICE) -> str:
    return str(row(engine, open_id).sealed_tokens)


# -- rotation: the cookie --------------------------------------------------------


def test_a_cookie_opened_by_a_fallback_key_is_sealed_again_when_read(
    tiktok_mock: Any,
) -> None:
    before, during, after = rotated()
    client = before.test_client()
    log_in(client)
    cookie = client.get_cookie("session").value  # type: ignore[union-attr]
    browser = during.test_client()
    browser.set_cookie("session", cookie)
    assert browser.get("/api/me").status_code == 200
    resealed = browser.get_cookie("session").value  # type: ignore[union-attr]
    assert resealed != cookie
    later = after.test_client()
    later.set_cookie("session", resealed)
    assert later.get("/api/me").status_code == 200
    assert bearers(tiktok_mock)[-2:] == ["Bearer act.alice-1"] * 2


# -- rotation: the rows ------------------------------------------------------------


def test_a_row_opened_by_a_fallback_key_is_sealed_again_when_read(
    storage: SQLAlchemyStorage, engine: Engine
) -> None:
    before, during, after = rotated(storage)
    store(before, storage, expired())
    old_text = sealed_column(engine)
    with during.app_context():
        assert storage.get_tokens(ALICE).access_token == "act.alice-1"  # type: ignore[union-attr]
    new_text = sealed_column(engine)
    assert new_text != old_text
    with after.app_context():
        assert storage.get_tokens(ALICE).access_token == "act.alice-1"  # type: ignore[union-attr]
    with before.app_context():  # the old key alone no longer opens the row
        assert unseal_tokens(new_text, ALICE, "") is None


def test_reseal_seals_every_row_again_and_names_the_unreadable(
    storage: SQLAlchemyStorage, engine: Engine
) -> None:
    before, during, after = rotated(storage)
    store(before, storage, expired())
    with before.test_request_context():
        storage.set(StoredUser(BOB["open_id"], [], dict(BOB)), expired())
    lost = "open-id-lost\x1b]0;pwn\x07"
    with create_app(SECRET_KEY="a-key-long-gone").test_request_context():
        storage.set(StoredUser(lost, [], {"open_id": lost}), expired())
    result = during.test_cli_runner().invoke(args=["tiktok", "reseal"])
    assert result.exit_code == 0, result.output
    assert "Resealed 2, already current 0, unreadable 1." in result.output
    assert "unreadable: open-id-lost\\x1b]0;pwn\\x07" in result.output
    assert "\x1b" not in result.output
    again = during.test_cli_runner().invoke(args=["tiktok", "reseal"])
    assert "Resealed 0, already current 2, unreadable 1." in again.output
    with after.app_context():
        for open_id in (ALICE, BOB["open_id"]):
            assert storage.get_tokens(open_id) is not None


def test_users_and_refresh_agree_about_tokens_no_key_opens(
    storage: SQLAlchemyStorage,
) -> None:
    before, _, after = rotated(storage)
    store(before, storage, expired())
    runner = after.test_cli_runner()
    listing = runner.invoke(args=["tiktok", "users"])
    assert listing.output.splitlines()[1].split()[-3:] == [
        "unreadable",
        "unreadable",
        "user.info.basic",
    ]
    refresh = runner.invoke(args=["tiktok", "refresh", ALICE])
    assert refresh.exit_code == 1
    assert "No readable tokens are stored for 'open-id-alice'" in refresh.output
    every = runner.invoke(args=["tiktok", "refresh", "--all"])
    assert "(of 0)" in every.output


def test_reseal_needs_a_server_side_storage() -> None:
    result = create_app().test_cli_runner().invoke(args=["tiktok", "reseal"])
    assert result.exit_code == 1
    assert "SessionStorage keeps tokens in the user's browser" in result.output


# -- bound to the TikTok app -------------------------------------------------------


def test_an_app_sharing_the_secret_key_refuses_another_apps_cookie(
    tiktok_mock: Any,
) -> None:
    a = create_app(TIKTOK_CLIENT_KEY="client-key-a")
    b = create_app(TIKTOK_CLIENT_KEY="client-key-b")
    client = a.test_client()
    log_in(client)
    sent = len(bearers(tiktok_mock))
    intruder = b.test_client()
    intruder.set_cookie("session", client.get_cookie("session").value)  # type: ignore[union-attr]
    assert who(intruder) == "Anonymous"
    assert (
        intruder.get("/api/me", headers={"Accept": "application/json"}).status_code
        == 401
    )
    assert len(bearers(tiktok_mock)) == sent  # A's token never left B
    assert who(client) == "Hello Alice &lt;Creator&gt;"


def test_an_app_sharing_the_database_and_key_never_opens_another_apps_tokens(
    storage: SQLAlchemyStorage, engine: Engine, tiktok_mock: Any
) -> None:
    a = create_app(storage=storage, TIKTOK_CLIENT_KEY="client-key-a")
    b = create_app(storage=storage, TIKTOK_CLIENT_KEY="client-key-b")
    client = a.test_client()
    log_in(client)
    with b.app_context():
        assert storage.get_tokens(ALICE) is None
        with pytest.raises(TikTokLoginRequired):
            b.extensions["test_tiktok"].api_for(ALICE).call("GET", "user/info/")
    intruder = b.test_client()
    intruder.set_cookie("session", client.get_cookie("session").value)  # type: ignore[union-attr]
    assert who(intruder) == "Anonymous"
    assert bearers(tiktok_mock) == ["Bearer act.alice-1"]  # the login's own call


def test_a_0_1_blob_is_read_and_sealed_again_bound_to_the_app(
    storage: SQLAlchemyStorage, engine: Engine
) -> None:
    app = create_app(storage=storage, SECRET_KEY=OLD)
    store(app, storage, expired())
    t = TikTokAccount.__table__
    with engine.begin() as connection:
        connection.execute(update(t).values(sealed_tokens=sealed_as_0_1(OLD)))
    with app.app_context():
        assert storage.get_tokens(ALICE).access_token == "act.alice-1"  # type: ignore[union-attr]
    bound = sealed_column(engine)
    assert TokenCipher([OLD]).decrypt(bound, ALICE) is None
    with app.app_context():
        assert unseal_tokens(bound, ALICE, "").refresh_token == "rft.alice-1"  # type: ignore[union-attr]


def test_sealed_text_opens_only_for_its_client_key() -> None:
    tokens = OAuth2Tokens({"access_token": "act.x", "open_id": ALICE})
    a = create_app(TIKTOK_CLIENT_KEY="client-key-a")
    b = create_app(TIKTOK_CLIENT_KEY="client-key-b")
    with a.app_context():
        text = seal_tokens(ALICE, tokens)
        assert unseal_tokens(text, ALICE, "").access_token == "act.x"  # type: ignore[union-attr]
    with b.app_context():
        assert unseal_tokens(text, ALICE, "") is None


# -- the packed format ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"access_token": "act." + "Ab9" * 20 + "!6329.va", "refresh_token": "rft.1"},
        {"access_token": "act.x", "expires_in": "86400.5", "refresh_expires_in": -5},
        {"access_token": "act.ü-_~ \u2603", "refresh_token": "", "expires_in": 0},
        {"access_token": "", "refresh_expires_in": 2**60},
    ],
)
def test_what_is_sealed_opens_as_it_was(body: dict[str, Any]) -> None:
    tokens = OAuth2Tokens(body | {"open_id": ALICE}, 1764596000.0)
    with create_app(SECRET_KEY=NEW).app_context():
        text = seal_tokens(ALICE, tokens)
        opened = open_tokens(text, ALICE, "user.info.basic")
    assert opened is not None and not opened.stale
    assert opened.tokens.access_token == tokens.access_token
    assert opened.tokens.refresh_token == (tokens.refresh_token or None)
    for key in ("expires_in", "refresh_expires_in"):
        assert opened.tokens.lifetime(key) == tokens.lifetime(key)
    assert opened.tokens.issued_at == 1764596000
    assert opened.tokens.scopes == ["user.info.basic"]
    assert plaintext(text)[:1] == b"\x01"  # type: ignore[index]


def test_a_token_is_packed_six_bits_a_character_low_bits_first() -> None:
    """The packed format, written out the plain way: character ``i``'s index
    in the 64-character alphabet at bits ``6i`` of a little-endian number
    (the packer moves the bits with masks; tokens already sealed in cookies
    and rows depend on this layout)."""
    from flask_tiktok.storage.sealing import _ALPHABET, _pack_text, _unpack_text

    rnd = random.Random(3)
    for size in [*range(70), 71, 72, 80, 255, 256, 1000]:
        token = "".join(rnd.choice(_ALPHABET) for _ in range(size))
        n = sum(_ALPHABET.index(c) << 6 * i for i, c in enumerate(token))
        body = n.to_bytes((size * 6 + 7) // 8, "little")
        header = size << 1 | 1
        varint = bytes([header]) if header < 128 else None
        packed = _pack_text(token)
        if varint is not None:
            assert packed == varint + body, size
        assert packed.endswith(body)
        assert _unpack_text(packed + b"next", 0) == (token, len(packed))
    for other in ["act.ü", "a b", "tab\tx"]:  # not all of the alphabet: UTF-8
        assert _pack_text(other).endswith(other.encode("utf-8"))
        assert _unpack_text(_pack_text(other), 0)[0] == other


def test_a_cookie_as_0_1_kept_it_is_read_then_kept_packed(tiktok_mock: Any) -> None:
    """The profile as an object, the scopes as a string, the tokens sealed as
    a JSON list: the login stands, and its next cookie is the packed one."""
    app = create_app(SECRET_KEY=NEW)
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_tiktok"] = {
            "u": dict(PROFILE),
            "s": "user.info.basic,video.list",
            "t": sealed_as_json(NEW, BOUND),
            "a": time.time() - 60,
        }
    assert who(client) == "Hello Alice &lt;Creator&gt;"
    record = json.loads(cookie_payload(client))["_tiktok"]
    assert "u" not in record and json.loads(record["p"])[0] == ALICE
    assert record["s"] == 0b1001  # user.info.basic, video.list
    assert client.get("/api/me").status_code == 200
    assert bearers(tiktok_mock) == ["Bearer act.alice-1"]
    record = json.loads(cookie_payload(client))["_tiktok"]
    assert plaintext(record["t"])[:1] == b"\x01"  # type: ignore[index]
    with app.test_request_context():
        opened = open_tokens(record["t"], ALICE, "")
    assert opened is not None and not opened.stale
    assert opened.tokens.refresh_token == "rft.alice-1"
    assert who(client) == "Hello Alice &lt;Creator&gt;"


def test_a_row_sealed_as_a_json_list_is_read_then_sealed_packed(
    storage: SQLAlchemyStorage, engine: Engine
) -> None:
    app = create_app(storage=storage, SECRET_KEY=NEW)
    store(app, storage, expired())
    t = TikTokAccount.__table__
    with engine.begin() as connection:
        connection.execute(update(t).values(sealed_tokens=sealed_as_json(NEW, BOUND)))
    with app.app_context():
        assert storage.get_tokens(ALICE).access_token == "act.alice-1"  # type: ignore[union-attr]
    assert plaintext(sealed_column(engine))[:1] == b"\x01"  # type: ignore[index]
    result = app.test_cli_runner().invoke(args=["tiktok", "reseal"])
    assert "Resealed 0, already current 1, unreadable 0." in result.output
