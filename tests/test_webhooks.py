"""TikTok's webhooks: signatures, strict bodies, at-least-once delivery, and
forgetting users whose authorization TikTok removed."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from helpers import ALICE, bare_app, create_app, event_body, log_in, post, sign
from helpers import CLIENT_KEY as KEY
from helpers import CLIENT_SECRET as SECRET
from helpers import WEBHOOK_URL as URL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_tiktok import (
    BaseStorage,
    SessionStorage,
    TikTok,
    WebhookEvent,
    WebhookPayloadError,
    WebhookSignatureError,
    parse_webhook_event,
    verify_webhook_signature,
)
from flask_tiktok.current import current_login
from flask_tiktok.expiring import ExpiringRecord
from flask_tiktok.signals import (
    tiktok_authorization_removed,
    tiktok_logged_out,
    tiktok_webhook_received,
)
from flask_tiktok.storage import StoredUser
from flask_tiktok.tokens import OAuth2Tokens


class Received:
    """Every send of the webhook signals, and of ``tiktok_logged_out``."""

    def __init__(self) -> None:
        self.events: list[WebhookEvent] = []
        self.removed: list[dict[str, Any]] = []
        self.logged_out: list[dict[str, Any]] = []

    def on_event(self, sender: Flask, **kwargs: Any) -> None:
        self.events.append(kwargs["event"])

    def on_removed(self, sender: Flask, **kwargs: Any) -> None:
        self.removed.append(kwargs)

    def on_logged_out(self, sender: Flask, **kwargs: Any) -> None:
        self.logged_out.append(kwargs)


@pytest.fixture
def received() -> Iterator[Received]:
    record = Received()
    with (
        tiktok_webhook_received.connected_to(record.on_event),
        tiktok_authorization_removed.connected_to(record.on_removed),
        tiktok_logged_out.connected_to(record.on_logged_out),
    ):
        yield record


class RecordingStorage(SessionStorage):
    """The session storage, recording what the webhook asks of it."""

    def __init__(self, *, shared: bool = False) -> None:
        self.shared = shared
        self.deleted: list[str | None] = []
        self.deliveries: list[str] = []

    def delete(self, open_id: str | None = None) -> None:
        self.deleted.append(open_id)
        super().delete(open_id)

    def remember_delivery(self, key: str, ttl: float) -> bool:
        self.deliveries.append(key)
        return super().remember_delivery(key, ttl)


def storage_app(storage: BaseStorage, **config: Any) -> Flask:
    """An app of no routes but TikTok's, on ``storage``."""
    return bare_app(storage=storage, **config)


# -- accepted events ----------------------------------------------------------


def test_a_signed_event_is_handled_once_when_delivered_three_times(
    app: Flask, received: Received
) -> None:
    client = app.test_client()
    body = event_body()
    answers = [post(client, body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json == {"status": "ok"}
    assert answers[1].json == answers[2].json == {"status": "duplicate"}
    assert len(received.events) == 1
    event = received.events[0]
    assert event == WebhookEvent(
        KEY,
        "post.publish.complete",
        json.loads(body)["create_time"],
        ALICE,
        {"publish_id": "p-1"},
    )
    assert received.removed == []


def test_a_retry_signed_later_is_still_a_repeat(app: Flask, received: Received) -> None:
    client = app.test_client()
    body = event_body()
    now = int(time.time())
    assert post(client, body, timestamp=now - 100).json == {"status": "ok"}
    assert post(client, body, timestamp=now).json == {"status": "duplicate"}
    assert len(received.events) == 1


def test_distinct_events_are_each_handled(app: Flask, received: Received) -> None:
    client = app.test_client()
    for publish_id in ("p-1", "p-2"):
        assert post(client, event_body(content={"publish_id": publish_id})).json == {
            "status": "ok"
        }
    assert [e.content["publish_id"] for e in received.events] == ["p-1", "p-2"]


def test_a_secret_from_the_fallbacks_is_accepted(received: Received) -> None:
    app = create_app(
        TIKTOK_CLIENT_SECRET="new-secret",
        TIKTOK_CLIENT_SECRET_FALLBACKS=["older-secret", SECRET],
    )
    client = app.test_client()
    assert post(client, event_body(), secret=SECRET).status_code == 200
    assert post(client, event_body(event="a.b"), secret="new-secret").status_code == 200
    assert post(client, event_body(event="c.d"), secret="other").status_code == 401
    assert [e.event for e in received.events] == ["post.publish.complete", "a.b"]


def test_a_failing_receiver_lets_the_retry_run_again(
    app: Flask, received: Received
) -> None:
    calls: list[WebhookEvent] = []

    def flaky(sender: Flask, **kwargs: Any) -> None:
        calls.append(kwargs["event"])
        if len(calls) == 1:
            raise RuntimeError("database down")

    client = app.test_client()
    body = event_body()
    with tiktok_webhook_received.connected_to(flaky):
        with pytest.raises(RuntimeError, match="database down"):
            post(client, body)
        assert post(client, body).json == {"status": "ok"}
        assert post(client, body).json == {"status": "duplicate"}
    assert len(calls) == 2
    assert calls[0] == calls[1]


def test_a_server_side_storage_decides_what_is_a_repeat(received: Received) -> None:
    class SharedRecord(RecordingStorage):
        seen: set[str] = set()  # noqa: RUF012 (what "every process" shares)

        def remember_delivery(self, key: str, ttl: float) -> bool:
            self.deliveries.append(key)
            assert ttl >= 72 * 3600
            if key in self.seen:
                return False
            self.seen.add(key)
            return True

    body = event_body()
    first, second = SharedRecord(shared=True), SharedRecord(shared=True)
    answers = [
        post(storage_app(storage).test_client(), body) for storage in (first, second)
    ]
    assert [a.json for a in answers] == [{"status": "ok"}, {"status": "duplicate"}]
    assert first.deliveries == second.deliveries == [received.events[0].delivery_key]
    assert len(received.events) == 1


# -- refused deliveries -------------------------------------------------------


def assert_refused(answer: Any, status: int, received: Received) -> None:
    assert answer.status_code == status
    assert answer.json == {
        "error": "invalid_signature" if status == 401 else "invalid_event"
    }
    assert received.events == []
    assert received.removed == []


def test_a_wrong_signature_is_refused(app: Flask, received: Received) -> None:
    body = event_body()
    header = sign(SECRET, int(time.time()), body)
    tampered = header[:-1] + ("0" if header[-1] != "0" else "1")
    assert_refused(post(app.test_client(), body, tampered), 401, received)


def test_a_signature_of_another_body_is_refused(app: Flask, received: Received) -> None:
    header = sign(SECRET, int(time.time()), event_body(event="x.y"))
    assert_refused(post(app.test_client(), event_body(), header), 401, received)


def test_a_wrong_secret_is_refused(app: Flask, received: Received) -> None:
    answer = post(app.test_client(), event_body(), secret="not-the-secret")
    assert_refused(answer, 401, received)


@pytest.mark.parametrize("age", [301, -301, 10_000, -(10**9)])
def test_a_stale_or_future_timestamp_is_refused(
    app: Flask, received: Received, age: int
) -> None:
    answer = post(app.test_client(), event_body(), timestamp=int(time.time()) - age)
    assert_refused(answer, 401, received)


def test_the_tolerance_is_configurable(received: Received) -> None:
    app = create_app(TIKTOK_WEBHOOK_TOLERANCE=30)
    client = app.test_client()
    now = int(time.time())
    assert post(client, event_body(), timestamp=now - 60).status_code == 401
    assert post(client, event_body(), timestamp=now - 10).status_code == 200


def test_a_missing_header_is_refused(app: Flask, received: Received) -> None:
    answer = app.test_client().post(URL, data=event_body())
    assert_refused(answer, 401, received)


def test_two_signature_headers_are_refused(app: Flask, received: Received) -> None:
    body = event_body()
    good = sign(SECRET, int(time.time()), body)
    headers = [("TikTok-Signature", good), ("TikTok-Signature", good)]
    answer = app.test_client().post(URL, data=body, headers=headers)
    assert_refused(answer, 401, received)


def malformed_headers(timestamp: int, digest: str) -> list[str]:
    return [
        "",
        f"t={timestamp}",
        f"s={digest}",
        f"t=,s={digest}",
        f"t={timestamp},s=",
        f"t=abc,s={digest}",
        f"t={timestamp}.5,s={digest}",
        f"t=+{timestamp},s={digest}",
        f"t=-{timestamp},s={digest}",
        f"t=1_{timestamp},s={digest}",
        f"t={timestamp}, s={digest}",
        f"t={timestamp} ,s={digest}",
        f"t= {timestamp},s={digest}",
        f"t={timestamp},s={digest} x",
        f"t={timestamp},t={timestamp},s={digest}",
        f"t={timestamp},s={digest},s={digest}",
        f"t={timestamp};s={digest}",
        f"t:{timestamp},s:{digest}",
        f"t={timestamp},,s={digest}",
        f"t={timestamp},s={digest},",
        f"T={timestamp},S={digest}",
        f"t={timestamp},s={digest[:-2]}",
        f"t={timestamp},s={digest}00",
        f"t={timestamp},s={'z' * 64}",
        f"t={timestamp},s={digest},x={'y' * 600}",
        f"t={timestamp}=1,s={digest}",
    ]


@pytest.mark.parametrize("index", range(len(malformed_headers(0, "0" * 64))))
def test_a_malformed_header_is_refused(
    app: Flask, received: Received, index: int
) -> None:
    body = event_body()
    timestamp = int(time.time())
    digest = sign(SECRET, timestamp, body).split(",s=")[1]
    header = malformed_headers(timestamp, digest)[index]
    assert_refused(post(app.test_client(), body, header), 401, received)


def test_well_formed_extra_items_and_upper_case_hex_are_accepted(
    app: Flask, received: Received
) -> None:
    body = event_body()
    timestamp = int(time.time())
    digest = sign(SECRET, timestamp, body).split(",s=")[1]
    header = f"v1=whatever,t={timestamp},s={digest.upper()}"
    assert post(app.test_client(), body, header).status_code == 200
    assert len(received.events) == 1


def test_another_apps_event_is_refused(app: Flask, received: Received) -> None:
    answer = post(app.test_client(), event_body(client_key="client-key-2"))
    assert_refused(answer, 400, received)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",
        b"[]",
        b'"a string"',
        b"null",
        b"{" * 100_000,
        event_body(content={"reason": 1})[:-1],
        json.dumps(
            {
                "client_key": KEY,
                "event": "authorization.removed",
                "create_time": 1,
                "user_openid": ALICE,
                "content": {"reason": 1},
            }
        ).encode(),
        event_body(content=[1, 2]),
        event_body(content="just text"),
        event_body(raw_content="not json"),
        event_body(raw_content=5),
        event_body(raw_content={"reason": 1}),
        event_body(create_time="1700000000"),
        event_body(create_time=1.5),
        event_body(create_time=True),
        event_body(create_time=-1),
        event_body(create_time=float("nan")),
        event_body(event=""),
        event_body(event=7),
        event_body(open_id=""),
        event_body(user_openid=None),
        event_body(client_key=None),
        b'{"client_key": "client-key-1", "client_key": "client-key-2", "event":'
        b' "a.b", "create_time": 1, "user_openid": "x", "content": "{}"}',
        b'{"client_key": "client-key-1", "event": "a.b", "create_time": 1,'
        b' "user_openid": "x", "content": "{\\"a\\": 1, \\"a\\": 2}"}',
    ],
)
def test_a_body_that_is_not_an_event_is_refused(
    app: Flask, received: Received, body: bytes
) -> None:
    if len(body) > 60_000:
        body = body[:60_000]
    assert_refused(post(app.test_client(), body), 400, received)


def test_missing_fields_are_refused(app: Flask, received: Received) -> None:
    client = app.test_client()
    full = json.loads(event_body())
    for name in full:
        partial = {k: v for k, v in full.items() if k != name}
        assert_refused(post(client, json.dumps(partial).encode()), 400, received)


def test_a_large_body_is_refused_unread(app: Flask, received: Received) -> None:
    body = event_body(padding="x" * 70_000)
    answer = post(app.test_client(), body)
    assert answer.status_code == 413
    assert received.events == []


def test_a_large_chunked_body_is_refused_after_a_bounded_read(
    app: Flask, received: Received
) -> None:
    body = event_body(padding="x" * 70_000)
    stream = io.BytesIO(body)
    answer = app.test_client().post(
        URL,
        input_stream=stream,
        headers={"TikTok-Signature": sign(SECRET, int(time.time()), body)},
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    assert answer.status_code == 413
    assert stream.tell() == 64 * 1024 + 1
    assert received.events == []


def test_a_get_is_not_a_webhook(app: Flask) -> None:
    assert app.test_client().get(URL).status_code == 405


def test_nothing_logged_helps_forge_a_signature(
    app: Flask, received: Received, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = event_body()
    timestamp = int(time.time())
    expected = sign(SECRET, timestamp, body).split(",s=")[1]
    answer = post(app.test_client(), body, f"t={timestamp},s={'0' * 64}")
    assert_refused(answer, 401, received)
    assert caplog.records, "a refused delivery is logged"
    text = caplog.text + answer.get_data(as_text=True)
    assert SECRET not in text
    assert expected not in text


# -- authorization.removed ----------------------------------------------------


def test_authorization_removed_deletes_what_the_storage_keeps(
    received: Received,
) -> None:
    storage = RecordingStorage()
    client = storage_app(storage).test_client()
    body = event_body("authorization.removed", "open-id-bob", {"reason": 2})
    assert post(client, body).status_code == 200
    assert post(client, body).status_code == 200
    assert storage.deleted == ["open-id-bob"]
    assert received.removed == [{"open_id": "open-id-bob", "reason": 2}]
    assert [e.event for e in received.events] == ["authorization.removed"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [({}, 0), ({"reason": "4"}, 0), ({"reason": True}, 0), ({"reason": 5}, 5)],
)
def test_an_unknown_reason_is_reported_as_zero(
    received: Received, content: dict[str, Any], reason: int
) -> None:
    storage = RecordingStorage()
    client = storage_app(storage).test_client()
    assert post(client, event_body("authorization.removed", content=content)).json == {
        "status": "ok"
    }
    assert storage.deleted == [ALICE]
    assert received.removed == [{"open_id": ALICE, "reason": reason}]


def test_other_events_delete_nothing(received: Received) -> None:
    storage = RecordingStorage()
    client = storage_app(storage).test_client()
    assert post(client, event_body("video.upload.failed")).status_code == 200
    assert storage.deleted == []
    assert received.removed == []


def test_refused_removals_delete_nothing(received: Received) -> None:
    storage = RecordingStorage()
    client = storage_app(storage).test_client()
    body = event_body("authorization.removed", content={"reason": 1})
    assert post(client, body, secret="forged").status_code == 401
    other_app = event_body("authorization.removed", client_key="client-key-2")
    assert post(client, other_app).status_code == 400
    assert storage.deleted == []
    assert storage.deliveries == []


class Clock:
    """``time.time`` moved by hand."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """``time.time`` is this clock for the test."""
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    return clock


def deliver(app: Flask, body: bytes) -> None:
    """TikTok delivers ``body``, signed, from its own client; it is accepted."""
    assert post(app.test_client(), body).status_code == 200


def test_a_cookie_user_whose_authorization_was_removed_is_logged_out(
    tiktok_mock: Any, received: Received, clock: Clock
) -> None:
    app = create_app(TIKTOK_REMEMBER_REMOVED=True)
    browser = app.test_client()
    log_in(browser)
    assert browser.get("/me").status_code == 200

    clock.now += 60
    removal = event_body("authorization.removed", content={"reason": 1})
    deliver(app, removal)

    clock.now += 60
    answer = browser.get("/me")
    assert answer.status_code == 302
    assert answer.location.startswith("/tiktok/login")
    assert received.logged_out == [
        {"open_id": ALICE, "reason": "authorization_removed"}
    ]
    assert browser.get("/").get_data(as_text=True) == "Anonymous"

    # Logging in again after the removal is a new, valid login.
    clock.now += 60
    log_in(browser)
    assert browser.get("/me").status_code == 200
    assert len(received.logged_out) == 1


def test_a_login_made_after_a_late_delivered_removal_stands(
    tiktok_mock: Any, received: Received, clock: Clock
) -> None:
    app = create_app(TIKTOK_REMEMBER_REMOVED=True)
    removed_at = int(clock.now)
    clock.now += 120
    browser = app.test_client()
    log_in(browser)
    # TikTok's retry arrives after the user logged in again.
    removal = event_body("authorization.removed", create_time=removed_at)
    deliver(app, removal)
    assert browser.get("/me").status_code == 200
    assert received.logged_out == []


def test_without_the_option_a_cookie_user_stays_logged_in(
    tiktok_mock: Any, received: Received, clock: Clock
) -> None:
    app = create_app()
    browser = app.test_client()
    log_in(browser)
    clock.now += 60
    removal = event_body("authorization.removed", content={"reason": 1})
    deliver(app, removal)
    assert received.removed == [{"open_id": ALICE, "reason": 1}]
    # The cookie is all there is, and this process was not asked to remember.
    assert browser.get("/me").status_code == 200


def test_other_users_are_not_logged_out(
    tiktok_mock: Any, received: Received, clock: Clock
) -> None:
    app = create_app(TIKTOK_REMEMBER_REMOVED=True)
    browser = app.test_client()
    log_in(browser)
    clock.now += 60
    removal = event_body("authorization.removed", "open-id-bob")
    deliver(app, removal)
    assert browser.get("/me").status_code == 200


def test_a_login_of_unknown_age_is_taken_as_older(received: Received) -> None:
    app = create_app(TIKTOK_REMEMBER_REMOVED=True)
    state = app.extensions["tiktok"]
    state.removed_users.put(ALICE, time.time(), 60)
    with app.test_request_context("/"):
        tokens = OAuth2Tokens({"access_token": "act.1", "open_id": ALICE}, time.time())
        state.storage.set(StoredUser(ALICE, ["user.info.basic"]), tokens)
        from flask import session

        session["_tiktok"].pop("a")
        assert current_login(state).stored is None
    assert received.logged_out == [
        {"open_id": ALICE, "reason": "authorization_removed"}
    ]


# -- CSRF ---------------------------------------------------------------------


@pytest.mark.parametrize("csrf_first", [True, False])
def test_the_webhook_is_exempt_from_csrf_protection(
    received: Received, csrf_first: bool
) -> None:
    from flask_wtf.csrf import CSRFProtect

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-secret-key-0123456789",
        TIKTOK_CLIENT_KEY=KEY,
        TIKTOK_CLIENT_SECRET=SECRET,
    )
    csrf = CSRFProtect()
    if csrf_first:
        csrf.init_app(app)
        TikTok(app)
    else:
        TikTok(app)
        csrf.init_app(app)

    @app.post("/form")
    def form() -> str:
        return "posted"

    client = app.test_client()
    assert client.post("/form").status_code == 400
    assert post(client, event_body()).status_code == 200
    assert client.post("/tiktok/logout").status_code == 400
    assert len(received.events) == 1


def test_the_late_csrf_exemption_runs_once_then_leaves_the_app_hooks(
    received: Received,
) -> None:
    """CSRFProtect set up after TikTok: the exemption is made by the first
    request (here the webhook itself) and costs later requests nothing."""
    from flask_wtf.csrf import CSRFProtect

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-secret-key-0123456789",
        TIKTOK_CLIENT_KEY=KEY,
        TIKTOK_CLIENT_SECRET=SECRET,
    )
    TikTok(app)
    CSRFProtect(app)

    @app.post("/form")
    def form() -> str:
        return "posted"

    def hook_names() -> list[str]:
        return [f.__name__ for f in app.before_request_funcs.get(None, [])]

    assert "exempt_webhook" in hook_names()
    client = app.test_client()
    assert post(client, event_body()).status_code == 200
    assert "exempt_webhook" not in hook_names()
    assert "csrf_protect" in hook_names()  # CSRFProtect's own check stays
    assert client.post("/form").status_code == 400
    assert post(client, event_body(create_time=int(time.time()) - 5)).status_code == 200
    assert len(received.events) == 2


# -- the functions ------------------------------------------------------------


def test_verify_returns_the_timestamp_and_takes_several_secrets() -> None:
    body = b'{"x": 1}'
    header = sign("second", 1_700_000_000, body)
    assert (
        verify_webhook_signature(
            ["first", "", "second"], header, body, now=1_700_000_100
        )
        == 1_700_000_000
    )
    assert verify_webhook_signature(
        b"second", header, body.decode(), tolerance=100, now=1_699_999_900
    )
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        verify_webhook_signature(
            "second", header, body, tolerance=99, now=1_700_000_100
        )
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_webhook_signature("first", header, body, now=1_700_000_000)
    with pytest.raises(WebhookSignatureError, match="missing"):
        verify_webhook_signature("first", None, body)


@pytest.mark.parametrize("secret", ["", b"", [], ["", b""]])
def test_verify_refuses_to_check_with_no_secret(secret: Any) -> None:
    header = sign("", 1_700_000_000, b"{}")
    with pytest.raises(ValueError, match="secret"):
        verify_webhook_signature(secret, header, b"{}", now=1_700_000_000)


def test_parse_keeps_the_fields_and_ignores_unknown_ones() -> None:
    body = event_body(
        "authorization.removed", content={"reason": 3}, create_time=5, extra=[1]
    )
    event = parse_webhook_event(body, KEY)
    assert event == WebhookEvent(KEY, "authorization.removed", 5, ALICE, {"reason": 3})
    assert event.reason == 3
    assert parse_webhook_event(body.decode()) == event
    with pytest.raises(WebhookPayloadError, match="client_key"):
        parse_webhook_event(body, "another-key")


def test_the_delivery_key_is_the_event_identity() -> None:
    event = WebhookEvent(KEY, "a.b", 5, ALICE, {"x": 1, "y": [2]})
    same = WebhookEvent(KEY, "a.b", 5, ALICE, {"y": [2], "x": 1})
    assert event.delivery_key == same.delivery_key
    for other in (
        WebhookEvent("k2", "a.b", 5, ALICE, {"x": 1, "y": [2]}),
        WebhookEvent(KEY, "a.c", 5, ALICE, {"x": 1, "y": [2]}),
        WebhookEvent(KEY, "a.b", 6, ALICE, {"x": 1, "y": [2]}),
        WebhookEvent(KEY, "a.b", 5, "bob", {"x": 1, "y": [2]}),
        WebhookEvent(KEY, "a.b", 5, ALICE, {"x": 1, "y": [3]}),
    ):
        assert other.delivery_key != event.delivery_key


@pytest.mark.parametrize(
    ("value", "message"),
    [("old-secret", None), (["a", ""], "non-empty"), ([1], "non-empty")],
)
def test_secret_fallbacks_are_checked(value: Any, message: str | None) -> None:
    if message is None:
        app = create_app(TIKTOK_CLIENT_SECRET_FALLBACKS=value)
        assert app.extensions["tiktok"].settings.secret_fallbacks == ["old-secret"]
        return
    with pytest.raises(ValueError, match=message):
        create_app(TIKTOK_CLIENT_SECRET_FALLBACKS=value)


def test_the_expiring_record_forgets_by_age_and_by_size() -> None:
    clock = Clock()
    record = ExpiringRecord(3, clock=clock)
    assert record.get("a") is None
    assert record.add("a", 1.0, 10)
    assert not record.add("a", 2.0, 10)
    assert record.get("a") == 1.0
    clock.now += 10
    assert record.get("a") is None
    assert record.add("a", 3.0, 10)
    assert record.get("a") == 3.0
    for key in "bcd":
        record.put(key, 0.0, 100)
    assert len(record) == 3
    assert record.get("a") is None
    record.put("b", 5.0, 100)
    assert record.get("b") == 5.0
    record.discard("b")
    assert record.get("b") is None
    assert record.add("e", 0.0, 100)
    assert record.add("f", 0.0, 100)
    assert [record.get(k) for k in "cdef"] == [None, 0.0, 0.0, 0.0]


# -- arbitrary input ----------------------------------------------------------

_FUZZ_APP = create_app()
_FUZZ_CLIENT = _FUZZ_APP.test_client()

header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200
)
structured_header = st.builds(
    lambda parts: ",".join(f"{k}={v}" for k, v in parts),
    st.lists(
        st.tuples(
            st.sampled_from(["t", "s", "T", "x", "t ", ""]),
            st.one_of(
                st.integers(-(10**12), 10**16).map(str),
                st.text(alphabet="0123456789abcdefABCDEF", max_size=70),
                header_text,
            ),
        ),
        max_size=4,
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually ``valid``, sometimes any JSON value."""
    return st.tuples(st.integers(0, 7), valid, json_values).map(
        lambda pick: pick[2] if pick[0] == 0 else pick[1]
    )


event_like = st.builds(
    lambda fields, dropped: json.dumps(
        {k: v for k, v in fields.items() if k not in dropped}
    ).encode(),
    st.fixed_dictionaries(
        {
            "client_key": mostly(st.just(KEY)),
            "event": mostly(st.sampled_from(["authorization.removed", "a.b"])),
            "create_time": mostly(st.integers(-5, 2**70)),
            "user_openid": mostly(st.text(max_size=12)),
            "content": mostly(
                st.dictionaries(st.text(max_size=5), json_values, max_size=3).map(
                    json.dumps
                )
            ),
        }
    ),
    mostly(st.just(set())).map(lambda d: d if isinstance(d, set) else {"event"}),
)
bodies = st.binary(max_size=300) | event_like


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(header=st.none() | header_text | structured_header, body=bodies)
def test_arbitrary_headers_are_never_an_error_nor_an_event(
    received: Received, header: str | None, body: bytes
) -> None:
    headers = {} if header is None else {"TikTok-Signature": header}
    answer = _FUZZ_CLIENT.post(URL, data=body, headers=headers)
    assert answer.status_code == 401
    assert received.events == []
    assert received.removed == []


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=bodies)
def test_arbitrary_signed_bodies_are_events_or_refused(
    received: Received, body: bytes
) -> None:
    before = len(received.events)
    answer = post(_FUZZ_CLIENT, body)
    assert answer.status_code in (200, 400)
    if answer.status_code == 400:
        assert len(received.events) == before
        return
    assert answer.json in ({"status": "ok"}, {"status": "duplicate"})
    parsed = json.loads(body)
    assert parsed["client_key"] == KEY
    assert isinstance(parsed["create_time"], int)
    assert isinstance(json.loads(parsed["content"]), dict)
    if answer.json == {"status": "ok"}:
        assert len(received.events) == before + 1
        assert received.events[-1].user_openid == parsed["user_openid"]
    else:
        assert len(received.events) == before


# -- end to end, with the sandbox as TikTok -----------------------------------


def test_disconnecting_in_the_sandbox_logs_the_cookie_user_out(
    tiktok_sandbox: Any, tiktok_sandbox_config: dict[str, Any], received: Received
) -> None:
    import requests

    from flask_tiktok.sandbox import Sandbox, SandboxApp, SandboxServer
    from flask_tiktok.testing import login_as

    alice = "sandbox-open-id-alice"
    app = create_app(TIKTOK_REMEMBER_REMOVED=True, **tiktok_sandbox_config)
    with SandboxServer(app) as served:
        sandbox_app = tiktok_sandbox.apps[0]
        sandbox_app.webhook_url = f"{served.url}/tiktok/webhook"
        browser = app.test_client()
        assert login_as(browser, tiktok_sandbox, alice).status_code == 302
        assert browser.get("/me").status_code == 200

        # The user presses "Disconnect" on the sandbox's page, as on TikTok's.
        page = requests.post(
            f"{tiktok_sandbox.url}/sandbox/disconnect",
            data={"client_key": sandbox_app.client_key, "open_id": alice},
            allow_redirects=False,
            timeout=10,
        )
        assert page.status_code == 303
        assert "Webhook answered 200" in requests.utils.unquote(
            page.headers["Location"]
        ).replace("+", " ")
        assert received.removed == [{"open_id": alice, "reason": 1}]
        assert [(e.event, e.user_openid) for e in received.events] == [
            ("authorization.removed", alice)
        ]

        answer = browser.get("/me")
        assert answer.status_code == 302
        assert answer.location.startswith("/tiktok/login")
        assert received.logged_out == [
            {"open_id": alice, "reason": "authorization_removed"}
        ]

        # TikTok's retry of the same event is acknowledged, not handled again.
        create_time = received.events[0].create_time
        again = tiktok_sandbox.send_webhook(
            "authorization.removed",
            alice,
            {"reason": 1},
            timestamp=create_time,
        )
        assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
        # A delivery signed with another secret is refused and deletes nothing.
        impostor = Sandbox(
            apps=[SandboxApp(sandbox_app.client_key, "not-the-client-secret")]
        )
        forged = impostor.send_webhook(
            "authorization.removed",
            "sandbox-open-id-bob",
            {"reason": 1},
            url=sandbox_app.webhook_url,
        )
        assert (forged.status_code, forged.json()) == (
            401,
            {"error": "invalid_signature"},
        )
    assert len(received.removed) == 1
    assert len(received.events) == 1


def test_an_apps_own_webhook_view_gets_401_and_400_not_a_502() -> None:
    """An app may verify deliveries in a view of its own (another path, a queue
    in front): the errors it lets through are answered as the built-in route
    answers them, not as a failed call to TikTok."""
    from flask import request

    app = create_app()

    @app.post("/hooks/tiktok")
    def own_webhook() -> str:
        body = request.get_data()
        verify_webhook_signature(SECRET, request.headers.get("TikTok-Signature"), body)
        event = parse_webhook_event(body, KEY)
        return event.event

    client = app.test_client()
    body = event_body()

    def deliver(data: bytes, header: str) -> Any:
        return client.post(
            "/hooks/tiktok", data=data, headers={"TikTok-Signature": header}
        )

    good = deliver(body, sign(SECRET, int(time.time()), body))
    assert (good.status_code, good.get_data(as_text=True)) == (
        200,
        "post.publish.complete",
    )
    forged = deliver(body, sign("not-the-secret", int(time.time()), body))
    assert forged.status_code == 401
    assert forged.get_json() == {"error": "invalid_signature"}
    other_app = event_body(client_key="another-app")
    wrong = deliver(other_app, sign(SECRET, int(time.time()), other_app))
    assert wrong.status_code == 400
    assert wrong.get_json() == {"error": "invalid_event"}


@pytest.mark.parametrize(
    "input_terminated",
    [
        pytest.param(False, id="content-length"),
        pytest.param(True, id="input-terminated"),
    ],
)
def test_a_body_the_app_already_read_is_still_verified(input_terminated: bool) -> None:
    """An app's before_request may read the body first (``request.get_data()``,
    e.g. to log it): the webhook still verifies the whole delivery, also under
    a server that sets ``wsgi.input_terminated`` (gunicorn; Werkzeug's dev
    server for chunked bodies), where ``request.stream`` is what is left."""
    from flask import request

    app = create_app()
    app.before_request(lambda: (request.get_data(), None)[1])
    client = app.test_client()
    if input_terminated:
        client.environ_base["wsgi.input_terminated"] = True  # as gunicorn's environ
    response = post(client, event_body())
    assert response.status_code == 200, response.get_json()
