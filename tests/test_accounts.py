"""Connected accounts: TikTok accounts linked to the app's own users (owners),
connected and disconnected through the blueprint, used from views and jobs,
each rule tried by someone who should not get through."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, session
from helpers import (
    AUTHORIZE_URL,
    REVOKE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    bearers,
    calls,
    create_app,
    event_body,
    form,
    post,
    query_of,
    refreshes,
    token_body,
    token_calls,
    user_info_body,
    who,
)
from sqlalchemy import Engine, event

from flask_tiktok import (
    SessionStorage,
    TikTok,
    TikTokAccount,
    TikTokLoginRequired,
    TikTokReconnectRequired,
    signals,
)
from flask_tiktok.sqla import SQLAlchemyStorage

CAROL = "open-id-carol"
DAVE = "open-id-dave"


def account_answers(mock: Any, open_id: str, n: int = 1) -> None:
    """TikTok answers as ``open_id`` (token ``act.<open_id>-<n>``)."""
    name = open_id.removeprefix("open-id-")
    mock.post(
        TOKEN_URL,
        json=token_body(
            open_id=open_id,
            access_token=f"act.{name}-{n}",
            refresh_token=f"rft.{name}-{n}",
            scope="user.info.basic,video.list",
        ),
    )
    mock.get(
        USER_INFO_URL,
        json=user_info_body({"open_id": open_id, "display_name": name.title()}),
    )


@pytest.fixture
def accounts_app(storage: SQLAlchemyStorage) -> Flask:
    """The test app on SQLAlchemy, its owner the session's ``uid``."""
    app = create_app(storage=storage)
    tiktok: TikTok = app.extensions["test_tiktok"]

    @tiktok.owner_loader
    def owner() -> Any:
        return session.get("uid")

    @app.get("/signin/<uid>")
    def signin(uid: str) -> str:
        session["uid"] = int(uid) if uid.isdigit() else uid
        return "ok"

    @app.get("/signout")
    def signout() -> str:
        session.pop("uid", None)
        return "ok"

    @app.get("/accounts")
    def accounts() -> Any:
        return jsonify(
            [[a.open_id, a.owner_id, a.display_name] for a in tiktok.accounts()]
        )

    return app


def signed_in(app: Flask, owner: str) -> Any:
    """A test client of ``app`` signed in as the app user ``owner``."""
    client = app.test_client()
    client.get(f"/signin/{owner}")
    return client


def start_connect(client: Any, query: str = "") -> dict[str, list[str]]:
    response = client.get(f"/tiktok/connect{query}")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location.startswith(AUTHORIZE_URL)
    return query_of(response.location)


def connect(client: Any, mock: Any, open_id: str, query: str = "") -> Any:
    """Connect ``open_id`` to the client's signed-in owner; the callback's answer."""
    state = start_connect(client, query)["state"][0]
    account_answers(mock, open_id)
    return client.get(f"/tiktok/callback?code=c-{open_id}&state={state}")


@pytest.fixture
def received() -> Iterator[dict[str, list[dict[str, Any]]]]:
    seen: dict[str, list[dict[str, Any]]] = {
        "connected": [],
        "disconnected": [],
        "logged_out": [],
    }

    def on_logged_out(sender: Flask, **kwargs: Any) -> None:
        seen["logged_out"].append(kwargs)

    def on_connected(sender: Flask, **kwargs: Any) -> None:
        seen["connected"].append(kwargs)

    def on_disconnected(sender: Flask, **kwargs: Any) -> None:
        seen["disconnected"].append(kwargs)

    with (
        signals.tiktok_account_connected.connected_to(on_connected),
        signals.tiktok_account_disconnected.connected_to(on_disconnected),
        signals.tiktok_logged_out.connected_to(on_logged_out),
    ):
        yield seen


# -- connecting ----------------------------------------------------------------------


def test_an_anonymous_connect_is_refused_and_starts_nothing(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    client = accounts_app.test_client()
    page = client.get("/tiktok/connect")
    assert page.status_code == 401
    assert "Sign in" in page.get_data(as_text=True)
    as_json = client.get("/tiktok/connect", headers={"Accept": "application/json"})
    assert (as_json.status_code, as_json.json["error"]) == (401, "owner_required")
    with client.session_transaction() as sess:
        assert "_tiktok_flows" not in sess
    assert tiktok_mock.call_count == 0


def test_a_connect_stores_the_account_for_its_owner_and_not_as_the_login(
    accounts_app: Flask, tiktok_mock: Any, received: Any
) -> None:
    client = signed_in(accounts_app, "7")
    query = start_connect(client, "?next=/accounts")
    assert query["disable_auto_auth"] == ["1"]
    assert query["scope"] == ["user.info.basic"]
    account_answers(tiktok_mock, CAROL)
    callback = client.get(f"/tiktok/callback?code=c&state={query['state'][0]}")
    assert (callback.status_code, callback.location) == (302, "/accounts")
    assert token_calls(tiktok_mock)[0]["code_verifier"]
    assert client.get("/accounts").json == [[CAROL, "7", "Carol"]]
    assert who(client) == "Anonymous"  # the browser's TikTok login untouched
    [connected] = received["connected"]
    assert connected["owner_id"] == "7"
    assert isinstance(connected["account"], TikTokAccount)
    assert connected["account"].open_id == CAROL
    assert connected["tokens"].access_token == "act.carol-1"


def test_an_owner_connects_several_accounts_listed_oldest_first_in_one_query(
    accounts_app: Flask, engine: Engine, tiktok_mock: Any
) -> None:
    client = signed_in(accounts_app, "ann")
    for open_id in (DAVE, CAROL):
        assert connect(client, tiktok_mock, open_id).status_code == 302
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        listing = client.get("/accounts").json
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert listing == [[DAVE, "ann", "Dave"], [CAROL, "ann", "Carol"]]
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_connecting_another_owners_account_is_refused_and_changes_nothing(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    ann, ben = signed_in(accounts_app, "ann"), signed_in(accounts_app, "ben")
    connect(ann, tiktok_mock, CAROL)
    taken = connect(ben, tiktok_mock, CAROL)
    assert taken.status_code == 409
    assert "account_taken" in taken.get_data(as_text=True)
    assert ben.get("/accounts").json == []
    assert ann.get("/accounts").json == [[CAROL, "ann", "Carol"]]
    assert calls(tiktok_mock, REVOKE_URL) == []  # Ann's authorization stands
    with accounts_app.app_context():
        tokens = accounts_app.extensions["tiktok"].storage.get_tokens(CAROL)
    assert tokens.access_token == "act.carol-1"


def test_an_owner_who_changed_mid_connect_stores_nothing(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    client = signed_in(accounts_app, "ann")
    state = start_connect(client)["state"][0]
    client.get("/signin/ben")
    answer = client.get(f"/tiktok/callback?code=c&state={state}")
    assert answer.status_code == 403
    assert "owner_changed" in answer.get_data(as_text=True)
    assert tiktok_mock.call_count == 0  # no code exchanged
    assert client.get("/accounts").json == []
    client.get("/signin/ann")
    assert client.get("/accounts").json == []


def test_signed_out_mid_connect_stores_nothing(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    client = signed_in(accounts_app, "ann")
    state = start_connect(client)["state"][0]
    client.get("/signout")
    assert client.get(f"/tiktok/callback?code=c&state={state}").status_code == 403
    assert tiktok_mock.call_count == 0


def test_before_connect_may_veto_and_may_allow_a_move(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    asked: list[tuple[Any, ...]] = []

    @tiktok.before_connect
    def only_two(owner_id: str, user: Any, tokens: Any, previous: Any) -> Any:
        asked.append((owner_id, user.open_id, tokens.access_token, previous))
        if user.open_id == DAVE:
            return "Dave may not be connected here", 403
        return None

    ann, ben = signed_in(accounts_app, "ann"), signed_in(accounts_app, "ben")
    vetoed = connect(ann, tiktok_mock, DAVE)
    assert (vetoed.status_code, vetoed.get_data(as_text=True)) == (
        403,
        "Dave may not be connected here",
    )
    assert ann.get("/accounts").json == []
    connect(ann, tiktok_mock, CAROL)
    moved = connect(ben, tiktok_mock, CAROL)
    assert moved.status_code == 302
    assert ann.get("/accounts").json == []
    assert ben.get("/accounts").json == [[CAROL, "ben", "Carol"]]
    assert asked == [
        ("ann", DAVE, "act.dave-1", None),
        ("ann", CAROL, "act.carol-1", None),
        ("ben", CAROL, "act.carol-1", "ann"),
    ]


def test_reconnecting_keeps_the_connection_date_and_updates_the_tokens(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    with accounts_app.test_request_context():
        session["uid"] = "ann"
        first = tiktok.account(CAROL)
    state = start_connect(client)["state"][0]
    account_answers(tiktok_mock, CAROL, n=2)
    assert client.get(f"/tiktok/callback?code=c&state={state}").status_code == 302
    with accounts_app.test_request_context():
        session["uid"] = "ann"
        again = tiktok.account(CAROL)
        assert again is not None and first is not None
        assert again.connected_at == first.connected_at
        assert again.api.access_token == "act.carol-2"


def test_connect_url_asks_for_more_scopes_and_refuses_malformed_ones(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    with accounts_app.test_request_context():
        url = tiktok.connect_url(scopes=["video.list"], next="/accounts")
    assert url == "/tiktok/connect?scope=video.list&next=/accounts"
    client = signed_in(accounts_app, "ann")
    assert start_connect(client, url.removeprefix("/tiktok/connect"))["scope"] == [
        "user.info.basic,video.list"
    ]
    bad = client.get("/tiktok/connect?scope=video.list%20user.info.stats")
    assert bad.status_code == 400


# -- the Python API -------------------------------------------------------------


def test_account_is_the_owners_only(accounts_app: Flask, tiktok_mock: Any) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    with accounts_app.test_request_context():
        session["uid"] = "ben"
        assert tiktok.account(CAROL) is None
        assert tiktok.accounts() == []
        assert [a.open_id for a in tiktok.accounts("ann")] == [CAROL]
        session["uid"] = "ann"
        account = tiktok.account(CAROL)
        assert account is not None
        assert (account.owner_id, account.display_name, account.bio_description) == (
            "ann",
            "Carol",
            None,
        )
        assert account.has_tokens and account.has_scopes("video.list")
        assert account.connected_at is not None and account.connected_at.tzinfo
        with pytest.raises(AttributeError):
            account.no_such_field  # noqa: B018
    with accounts_app.app_context():  # a job: no request, an owner given
        assert [a.open_id for a in tiktok.accounts(owner_id="ann")] == [CAROL]


def test_an_accounts_api_calls_as_that_account(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    connect(client, tiktok_mock, DAVE)
    with accounts_app.app_context():
        for account in tiktok.accounts(owner_id="ann"):
            account.api.call("GET", "user/info/", params={"fields": "open_id"})
    assert bearers(tiktok_mock)[-2:] == ["Bearer act.carol-1", "Bearer act.dave-1"]


def test_refresh_now_stores_the_rotated_pair_once(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    account_answers(tiktok_mock, CAROL, n=2)
    with accounts_app.app_context():
        assert tiktok.refresh(CAROL).access_token == "act.carol-1"  # still valid
        assert refreshes(tiktok_mock) == []
        assert tiktok.refresh(CAROL, force=True).access_token == "act.carol-2"
        assert [f["refresh_token"] for f in refreshes(tiktok_mock)] == ["rft.carol-1"]
        assert tiktok.api_for(CAROL).access_token == "act.carol-2"
        with pytest.raises(TikTokLoginRequired):
            tiktok.refresh("open-id-nobody")


def test_a_refused_refresh_keeps_the_account_to_reconnect(
    accounts_app: Flask, tiktok_mock: Any, received: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    tiktok_mock.post(TOKEN_URL, json={"error": "invalid_grant", "log_id": "L"})
    with accounts_app.app_context():
        with pytest.raises(TikTokLoginRequired):
            tiktok.refresh(CAROL, force=True)
        [account] = tiktok.accounts(owner_id="ann")
        assert account.has_tokens is False
    assert received["disconnected"] == [
        {"owner_id": "ann", "open_id": CAROL, "reason": "refresh_refused"}
    ]
    assert received["logged_out"] == []  # nobody was logged in


def test_authorization_removed_ends_a_connected_account_whoever_owns_it(
    accounts_app: Flask, tiktok_mock: Any, received: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    webhook = accounts_app.test_client()  # TikTok: no owner signed in
    delivery = event_body("authorization.removed", CAROL, {"reason": 1})
    assert post(webhook, delivery).status_code == 200
    with accounts_app.app_context():
        [account] = tiktok.accounts(owner_id="ann")
        assert account.has_tokens is False
        with pytest.raises(TikTokLoginRequired):
            account.api.call("GET", "user/info/")
    assert received["disconnected"] == [
        {"owner_id": "ann", "open_id": CAROL, "reason": "authorization_removed"}
    ]


# -- disconnecting --------------------------------------------------------------------


def test_the_owner_disconnects_an_account(
    accounts_app: Flask, tiktok_mock: Any, received: Any
) -> None:
    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    connect(client, tiktok_mock, DAVE)
    answer = client.post(
        f"/tiktok/accounts/{CAROL}/disconnect", data={"next": "/accounts"}
    )
    assert (answer.status_code, answer.location) == (302, "/accounts")
    assert [form(r)["token"] for r in calls(tiktok_mock, REVOKE_URL)] == ["act.carol-1"]
    assert client.get("/accounts").json == [[DAVE, "ann", "Dave"]]
    assert received["disconnected"] == [
        {"owner_id": "ann", "open_id": CAROL, "reason": "disconnect"}
    ]


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_a_cross_site_disconnect_is_refused(
    accounts_app: Flask, tiktok_mock: Any, headers: dict[str, str]
) -> None:
    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    answer = client.post(f"/tiktok/accounts/{CAROL}/disconnect", headers=headers)
    assert answer.status_code == 403
    assert client.get("/accounts").json == [[CAROL, "ann", "Carol"]]
    assert calls(tiktok_mock, REVOKE_URL) == []


@pytest.mark.parametrize("who_asks", ["ben", None])
def test_only_the_owner_may_disconnect(
    accounts_app: Flask, tiktok_mock: Any, who_asks: str | None
) -> None:
    ann, other = accounts_app.test_client(), accounts_app.test_client()
    ann.get("/signin/ann")
    if who_asks:
        other.get(f"/signin/{who_asks}")
    connect(ann, tiktok_mock, CAROL)
    for open_id in (CAROL, "open-id-nobody"):
        answer = other.post(f"/tiktok/accounts/{open_id}/disconnect")
        assert answer.status_code == 404
    assert other.get(f"/tiktok/accounts/{CAROL}/disconnect").status_code == 405
    assert ann.get("/accounts").json == [[CAROL, "ann", "Carol"]]
    assert calls(tiktok_mock, REVOKE_URL) == []


def test_disconnect_account_from_a_job_revokes_after_refreshing(
    accounts_app: Flask, tiktok_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    two_days_later = time.time() + 2 * 86_400
    monkeypatch.setattr(time, "time", lambda: two_days_later)
    account_answers(tiktok_mock, CAROL, n=2)
    with accounts_app.app_context():
        tiktok.disconnect_account(CAROL)
        tiktok.disconnect_account(CAROL)  # gone: nothing to do
        assert tiktok.accounts(owner_id="ann") == []
    assert [form(r)["token"] for r in calls(tiktok_mock, REVOKE_URL)] == ["act.carol-2"]


# -- set-up -----------------------------------------------------------------------


def test_owner_loader_needs_a_shared_storage() -> None:
    for tiktok in (TikTok(), TikTok(storage=SessionStorage())):
        with pytest.raises(RuntimeError, match=r"shared storage.*SQLAlchemyStorage"):
            tiktok.owner_loader(lambda: None)


def test_accounts_need_an_owner_loader_and_a_shared_storage(
    storage: SQLAlchemyStorage, app: Flask
) -> None:
    with app.test_request_context(), pytest.raises(RuntimeError, match="shared"):
        app.extensions["test_tiktok"].accounts()
    shared = create_app(storage=storage)
    with shared.test_request_context(), pytest.raises(RuntimeError, match="owner_"):
        shared.extensions["test_tiktok"].accounts()


def test_set_account_checks_the_owner_atomically(
    accounts_app: Flask, storage: SQLAlchemyStorage
) -> None:
    """The owner read before the hooks ran must still hold when storing: an
    account that changed hands meanwhile is refused, nothing stored."""
    from flask_tiktok.storage import AccountTaken, StoredUser
    from flask_tiktok.tokens import OAuth2Tokens

    carol = StoredUser(CAROL, ["user.info.basic"], {"display_name": "Carol"})
    tokens = OAuth2Tokens(token_body(open_id=CAROL, access_token="act.carol-1"))
    with accounts_app.app_context():
        storage.set_account("ann", carol, tokens, previous_owner_id=None)
        with pytest.raises(AccountTaken) as taken:
            other = OAuth2Tokens(token_body(open_id=CAROL, access_token="act.x"))
            storage.set_account("ben", carol, other, previous_owner_id=None)
        assert taken.value.owner_id == "ann"
        account = storage.get_account(CAROL)
        assert account is not None and account.owner_id == "ann"
        assert storage.get_tokens(CAROL).access_token == "act.carol-1"
        assert storage.list_accounts("ben") == []


def test_every_table_lives_on_the_models_metadata(tmp_path: Any) -> None:
    """A model of the app's own base: ``create_all()`` on its metadata makes
    the delivery table too, and webhooks work with no other set-up."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.orm import DeclarativeBase

    from flask_tiktok.sqla import TikTokAccountMixin

    class Base(DeclarativeBase):
        pass

    class Account(TikTokAccountMixin, Base):
        __tablename__ = "my_tiktok_accounts"

    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        Base.metadata.create_all(engine)
        assert set(inspect(engine).get_table_names()) == {
            "my_tiktok_accounts",
            "tiktok_webhook_deliveries",
        }
        assert "ix_my_tiktok_accounts_owner_id" in {
            i["name"] for i in inspect(engine).get_indexes("my_tiktok_accounts")
        }
        app = create_app(storage=SQLAlchemyStorage(engine, model=Account))
        delivery = event_body("authorization.removed", CAROL, {"reason": 1})
        client = app.test_client()
        assert post(client, delivery).status_code == 200
        assert post(client, delivery).json == {"status": "duplicate"}
    finally:
        engine.dispose()


def test_a_flask_sqlalchemy_model_brings_the_delivery_table_too() -> None:
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import inspect

    from flask_tiktok.sqla import TikTokAccountMixin

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db = SQLAlchemy(app)

    class Account(TikTokAccountMixin, db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "creator_tiktok_accounts"

    with app.app_context():
        try:
            db.create_all()
            assert set(inspect(db.engine).get_table_names()) == {
                "creator_tiktok_accounts",
                "tiktok_webhook_deliveries",
            }
        finally:
            db.engine.dispose()


def test_two_owners_racing_on_one_account_get_one_connection(
    accounts_app: Flask, storage: SQLAlchemyStorage, engine: Engine
) -> None:
    """Owner A reads "nobody owns it" and pauses; owner B tries meanwhile.
    B waits for A's transaction (a row lock, SQLite's write lock) and is
    refused: the check and the write are one step."""
    import threading

    from flask_tiktok.storage import AccountTaken, StoredUser
    from flask_tiktok.tokens import OAuth2Tokens

    carol = StoredUser(CAROL, ["user.info.basic"], {})
    with accounts_app.test_request_context():  # Carol once logged in: a row
        storage.set(carol, OAuth2Tokens(token_body(open_id=CAROL)))
    paused, resume = threading.Event(), threading.Event()

    def pause_a(*args: Any) -> None:
        statement = args[2]
        if threading.current_thread().name == "A" and "owner_id" in statement:
            paused.set()
            resume.wait(5)

    outcome: dict[str, str] = {}

    def connect_as_owner(owner: str) -> None:
        tokens = OAuth2Tokens(token_body(open_id=CAROL, access_token=f"act.{owner}"))
        with accounts_app.app_context():
            try:
                storage.set_account(owner, carol, tokens, previous_owner_id=None)
                outcome[owner] = "stored"
            except AccountTaken:
                outcome[owner] = "taken"

    event.listen(engine, "after_cursor_execute", pause_a)
    try:
        a = threading.Thread(target=connect_as_owner, args=("ann",), name="A")
        a.start()
        assert paused.wait(5)
        b = threading.Thread(target=connect_as_owner, args=("ben",), name="B")
        b.start()
        b.join(0.3)
        resume.set()
        a.join()
        b.join()
    finally:
        event.remove(engine, "after_cursor_execute", pause_a)
    assert outcome == {"ann": "stored", "ben": "taken"}
    with accounts_app.app_context():
        assert storage.get_account(CAROL).owner_id == "ann"  # type: ignore[union-attr]
        assert storage.get_tokens(CAROL).access_token == "act.ann"  # type: ignore[union-attr]


@pytest.mark.parametrize("shared", [True, False])
def test_without_an_owner_loader_the_account_routes_are_not_there(
    storage: SQLAlchemyStorage, shared: bool, tiktok_mock: Any
) -> None:
    client = create_app(storage=storage if shared else None).test_client()
    assert client.get("/tiktok/connect").status_code == 404
    assert client.post(f"/tiktok/accounts/{CAROL}/disconnect").status_code == 404
    assert tiktok_mock.call_count == 0


@pytest.mark.parametrize(
    "scope", ["a%00b", "video.list%09user", "%C3%A9", "x" * 65, ",".join("s" * 33)]
)
def test_a_connect_link_with_odd_scopes_is_refused(
    accounts_app: Flask, scope: str
) -> None:
    client = signed_in(accounts_app, "ann")
    answer = client.get(f"/tiktok/connect?scope={scope}")
    assert answer.status_code == 400
    assert "invalid_scope" in answer.get_data(as_text=True)


def test_a_before_connect_hook_must_return_none_or_a_response(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    tiktok.before_connect(lambda owner, user, tokens, previous: True)
    client = signed_in(accounts_app, "ann")
    with pytest.raises(TypeError, match="return None to accept"):
        connect(client, tiktok_mock, CAROL)


def test_a_move_tells_the_previous_owner(
    accounts_app: Flask, tiktok_mock: Any, received: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    tiktok.before_connect(lambda owner, user, tokens, previous: None)
    ann, ben = signed_in(accounts_app, "ann"), signed_in(accounts_app, "ben")
    connect(ann, tiktok_mock, CAROL)
    assert connect(ben, tiktok_mock, CAROL).status_code == 302
    assert received["disconnected"] == [
        {"owner_id": "ann", "open_id": CAROL, "reason": "moved"}
    ]
    assert [c["owner_id"] for c in received["connected"]] == ["ann", "ben"]


def test_an_account_without_tokens_asks_to_reconnect_not_to_log_in(
    accounts_app: Flask, tiktok_mock: Any
) -> None:
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]

    @accounts_app.get("/use/<open_id>")
    def use(open_id: str) -> Any:
        account = tiktok.account(open_id)
        assert account is not None
        return account.api.call("GET", "user/info/", params={"fields": "open_id"})

    client = signed_in(accounts_app, "ann")
    connect(client, tiktok_mock, CAROL)
    post(accounts_app.test_client(), event_body("authorization.removed", CAROL))
    page = client.get(f"/use/{CAROL}")
    assert page.status_code == 409
    assert 'href="/tiktok/connect"' in page.get_data(as_text=True)
    as_json = client.get(f"/use/{CAROL}", headers={"Accept": "application/json"})
    assert (as_json.status_code, as_json.json["error"]) == (409, "reconnect_required")
    with accounts_app.app_context(), pytest.raises(TikTokReconnectRequired) as gone:
        tiktok.api_for(CAROL).access_token  # noqa: B018
    assert gone.value.open_id == CAROL
    assert isinstance(gone.value, TikTokLoginRequired)  # jobs catching it still do


def test_a_login_of_a_connected_account_leaves_the_connection_at_logout(
    accounts_app: Flask, tiktok_mock: Any, received: Any
) -> None:
    """Carol connected to Ann's account, and Carol logging in to the site
    with TikTok: her logout ends her browser login, not Ann's connection (one
    TikTok authorization: revoking it would end both)."""
    tiktok: TikTok = accounts_app.extensions["test_tiktok"]
    ann = accounts_app.test_client()
    ann.get("/signin/ann")
    connect(ann, tiktok_mock, CAROL)
    carol = accounts_app.test_client()
    start = carol.get("/tiktok/login")
    state = query_of(start.location)["state"][0]
    account_answers(tiktok_mock, CAROL, n=2)
    assert carol.get(f"/tiktok/callback?code=c&state={state}").status_code == 302
    assert who(carol) == "Hello Carol"
    assert carol.post("/tiktok/logout").status_code == 302
    assert who(carol) == "Anonymous"
    assert calls(tiktok_mock, REVOKE_URL) == []
    with accounts_app.app_context():
        [account] = tiktok.accounts(owner_id="ann")
        assert account.has_tokens
        assert account.api.access_token == "act.carol-2"
    assert received["disconnected"] == []


def test_a_storage_without_accounts_says_which_one_has_them(app: Flask) -> None:
    from flask_tiktok.storage import StoredUser
    from flask_tiktok.tokens import OAuth2Tokens

    storage = SessionStorage()
    user = StoredUser(CAROL, [], {})
    calls = [
        lambda: storage.set_account(
            "ann", user, OAuth2Tokens(token_body()), previous_owner_id=None
        ),
        lambda: storage.get_account(CAROL),
        lambda: storage.list_accounts("ann"),
    ]
    for call in calls:
        with pytest.raises(NotImplementedError, match="SQLAlchemyStorage"):
            call()
