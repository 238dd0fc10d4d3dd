"""Plain helpers the test modules share: TikTok's URLs and answers, the test
app, the login steps, what the requests-mock double was sent, webhooks.

Fixtures live in ``conftest.py``; this module has none, so any test module
may import from it (no test module imports another, nor ``conftest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask, jsonify, render_template_string

from flask_tiktok import (
    BaseStorage,
    TikTok,
    current_tiktok_user,
    tiktok_login_required,
)
from flask_tiktok.storage import StoredUser
from flask_tiktok.tokens import OAuth2Tokens

TOKEN_URL = "https://open.tiktokapis.com/v2/oauth/token/"
REVOKE_URL = "https://open.tiktokapis.com/v2/oauth/revoke/"
USER_INFO_URL = "https://open.tiktokapis.com/v2/user/info/"
AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize/"

CLIENT_KEY = "client-key-1"
CLIENT_SECRET = "client-secret-1"
ALICE = "open-id-alice"

PROFILE = {
    "open_id": ALICE,
    "union_id": "union-alice",
    "avatar_url": "https://p16.tiktokcdn.com/alice.jpeg",
    "display_name": "Alice <Creator>",
}
BOB = {
    "open_id": "open-id-bob",
    "union_id": "union-bob",
    "avatar_url": "https://p16.tiktokcdn.com/bob.jpeg",
    "display_name": "Bob",
}


# -- TikTok's answers -----------------------------------------------------------


def token_body(**overrides: Any) -> dict[str, Any]:
    """A token answer in TikTok's exact form."""
    body: dict[str, Any] = {
        "access_token": "act.alice-1",
        "expires_in": 86400,
        "open_id": ALICE,
        "refresh_expires_in": 31536000,
        "refresh_token": "rft.alice-1",
        "scope": "user.info.basic",
        "token_type": "Bearer",
    }
    body.update(overrides)
    return body


def user_info_body(user: dict[str, Any] | None = None) -> dict[str, Any]:
    """A user/info/ answer in TikTok's envelope."""
    return {
        "data": {"user": user if user is not None else dict(PROFILE)},
        "error": {"code": "ok", "message": "", "log_id": "20261124000000"},
    }


def api_error_body(code: str, message: str = "", log_id: str = "L") -> dict[str, Any]:
    """An API answer carrying TikTok's error envelope."""
    return {"data": {}, "error": {"code": code, "message": message, "log_id": log_id}}


#: Alice's pair after one refresh (TikTok rotates the refresh token).
ROTATED = token_body(access_token="act.alice-2", refresh_token="rft.alice-2")
#: TikTok's answer to an API call with a revoked access token.
INVALID_TOKEN = api_error_body("access_token_invalid", "revoked", "L5")
#: TikTok refusing a refresh token.
INVALID_GRANT = {"error": "invalid_grant", "log_id": "L"}


# -- the test app ---------------------------------------------------------------


def bare_app(
    *,
    storage: BaseStorage | None = None,
    extension: type[TikTok] = TikTok,
    **config: Any,
) -> Flask:
    """An app with ``extension`` registered (the test credentials), no routes."""
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="test-secret-key-0123456789",
        TIKTOK_CLIENT_KEY=CLIENT_KEY,
        TIKTOK_CLIENT_SECRET=CLIENT_SECRET,
    )
    app.config.update(config)
    app.extensions["test_tiktok"] = extension(app, storage=storage)
    return app


def create_app(
    *,
    storage: BaseStorage | None = None,
    extension: type[TikTok] = TikTok,
    **config: Any,
) -> Flask:
    """A small app with public, protected and scope-protected routes."""
    app = bare_app(storage=storage, extension=extension, **config)
    tiktok: TikTok = app.extensions["test_tiktok"]

    @app.get("/")
    def home() -> str:
        return render_template_string(
            "{% if current_tiktok_user.is_authenticated %}"
            "Hello {{ current_tiktok_user.display_name }}"
            "{% else %}Anonymous{% endif %}"
        )

    @app.get("/me")
    @tiktok_login_required
    def me() -> str:
        return render_template_string(
            "<img src='{{ current_tiktok_user.avatar_url }}'>"
            "<h1>{{ current_tiktok_user.display_name }}</h1>"
        )

    @app.get("/stats")
    @tiktok_login_required(scopes=["user.info.stats"])
    def stats() -> str:
        return f"followers: {current_tiktok_user.follower_count}"

    @app.get("/api/me")
    def api_me() -> Any:
        return jsonify(
            tiktok.api.call("GET", "user/info/", params={"fields": "open_id"})
        )

    return app


def who(client: Any) -> str:
    """The home page: ``Anonymous`` or ``Hello <display name>``."""
    return str(client.get("/").get_data(as_text=True))


# -- logging in -------------------------------------------------------------------


def query_of(url: str) -> dict[str, list[str]]:
    """A URL's query, every parameter a list."""
    return parse_qs(urlsplit(url).query)


def start_login(client: Any, next_url: str | None = None) -> dict[str, list[str]]:
    """GET the login route; return the authorize URL's query."""
    url = "/tiktok/login" + (f"?next={next_url}" if next_url is not None else "")
    response = client.get(url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(AUTHORIZE_URL)
    return query_of(location)


def log_in(client: Any, next_url: str | None = None) -> Any:
    """Run login -> TikTok -> callback; return the callback's response."""
    query = start_login(client, next_url)
    state = query["state"][0]
    return client.get(
        f"/tiktok/callback?code=code-123&scopes=user.info.basic&state={state}"
    )


def expired_login(client: Any, tiktok_mock: Any, **overrides: Any) -> None:
    """Log ``client`` in with a 30-second access token (expired within the
    leeway); TikTok then answers a refresh with ``ROTATED``."""
    tiktok_mock.post(TOKEN_URL, json=token_body(expires_in=30, **overrides))
    log_in(client)
    tiktok_mock.post(TOKEN_URL, json=ROTATED)


def log_in_as_bob(client: Any, tiktok_mock: Any) -> None:
    """Log ``client`` in as Bob: TikTok now answers with Bob's tokens and profile."""
    tiktok_mock.post(
        TOKEN_URL,
        json=token_body(
            open_id="open-id-bob", access_token="act.bob", refresh_token="rft.bob"
        ),
    )
    tiktok_mock.get(USER_INFO_URL, json=user_info_body(dict(BOB)))
    log_in(client)


def decline_stats(client: Any, tiktok_mock: Any) -> Any:
    """Open /stats, and untick user.info.stats on TikTok's consent page: the
    callback sends back to /stats; return its response (not followed, as a
    closed tab)."""
    asked = client.get("/stats")
    assert asked.status_code == 302
    assert asked.headers["Location"].startswith(AUTHORIZE_URL)
    state = query_of(asked.headers["Location"])["state"][0]
    tiktok_mock.post(TOKEN_URL, json=token_body(scope="user.info.basic"))
    back = client.get(f"/tiktok/callback?code=c2&scopes=user.info.basic&state={state}")
    assert back.status_code == 302
    assert back.headers["Location"] == "/stats"
    return back


# -- what TikTok was sent ---------------------------------------------------------


def form(request: Any) -> dict[str, str]:
    """A form-encoded request body, each field sent exactly once."""
    text = request.text or ""
    parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


def calls(mock: Any, url: str) -> list[Any]:
    """The requests sent to ``url`` (whatever their query)."""
    return [r for r in mock.request_history if r.url.split("?")[0] == url]


def token_calls(mock: Any) -> list[dict[str, str]]:
    """The forms sent to the token endpoint, in order."""
    return [form(r) for r in calls(mock, TOKEN_URL)]


def refreshes(mock: Any) -> list[dict[str, str]]:
    """The forms of the refresh grants sent to the token endpoint."""
    return [f for f in token_calls(mock) if f["grant_type"] == "refresh_token"]


def refresh_form(refresh_token: str = "rft.alice-1") -> dict[str, str]:
    """What the app sends TikTok to refresh ``refresh_token``."""
    return {
        "client_key": CLIENT_KEY,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }


def revoked_tokens(mock: Any) -> list[str]:
    """The tokens sent to the revoke endpoint, in order."""
    return [form(r)["token"] for r in calls(mock, REVOKE_URL)]


def bearers(mock: Any, url: str = USER_INFO_URL) -> list[str]:
    """The Authorization headers of the requests sent to ``url``."""
    return [r.headers["Authorization"] for r in calls(mock, url)]


# -- the session cookie -------------------------------------------------------------


def cookie_payload(client: Any) -> str:
    """The session cookie's decoded payload, as anyone holding the cookie reads
    it without the SECRET_KEY."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    value = cookie.value
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if value.startswith(".") else raw).decode()


# -- webhooks ------------------------------------------------------------------------

WEBHOOK_URL = "/tiktok/webhook"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """TikTok's header, computed here independently of the package."""
    payload = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={digest}"


def event_body(
    event: str = "post.publish.complete",
    open_id: str = ALICE,
    content: Any = None,
    **overrides: Any,
) -> bytes:
    """A webhook delivery's body, for the test app's client key."""
    body: dict[str, Any] = {
        "client_key": CLIENT_KEY,
        "event": event,
        "create_time": int(time.time()),
        "user_openid": open_id,
        "content": json.dumps({"publish_id": "p-1"} if content is None else content),
    }
    if "raw_content" in overrides:
        body["content"] = overrides.pop("raw_content")
    body.update(overrides)
    return json.dumps(body).encode()


def post(
    client: Any,
    body: bytes,
    header: str | None = None,
    *,
    secret: str = CLIENT_SECRET,
    timestamp: int | None = None,
) -> Any:
    """POST a webhook delivery, signed with ``secret`` unless ``header`` is given."""
    if header is None:
        header = sign(
            secret, int(time.time()) if timestamp is None else timestamp, body
        )
    return client.post(
        WEBHOOK_URL,
        data=body,
        headers={"TikTok-Signature": header, "Content-Type": "application/json"},
    )


# -- SQLAlchemyStorage ---------------------------------------------------------------


def expired(**overrides: Any) -> OAuth2Tokens:
    """Alice's tokens as issued an hour ago with a 30-second access token."""
    return OAuth2Tokens(token_body(expires_in=30, **overrides), time.time() - 3600)


def store(app: Flask, storage: BaseStorage, tokens: OAuth2Tokens) -> None:
    """Store Alice (profile and ``tokens``) as a login would."""
    with app.test_request_context():
        storage.set(StoredUser(ALICE, ["user.info.basic"], dict(PROFILE)), tokens)


def row(engine: Any, open_id: str = ALICE) -> Any:
    """``open_id``'s row of the accounts table, or None."""
    from sqlalchemy import select

    from flask_tiktok.sqla import TikTokAccount

    t = TikTokAccount.__table__
    with engine.connect() as connection:
        return connection.execute(select(t).where(t.c.open_id == open_id)).first()


# -- video files -------------------------------------------------------------------


def sparse_video(directory: Path, size: int, name: str = "clip.mp4") -> Path:
    """A file of ``size`` bytes, mostly holes (no disk, no memory), with a
    marker every 1,000,000 bytes so that a chunk sent from the wrong place
    does not hash like the right one."""
    path = directory / name
    with path.open("wb") as file:
        file.truncate(size)
        for offset in range(0, size, 1_000_000):
            file.seek(offset)
            file.write(offset.to_bytes(8, "big")[: size - offset])
    return path


def sha256_of(path: Path, start: int = 0, length: int | None = None) -> str:
    """The sha256 of ``length`` bytes of ``path`` from ``start`` (default:
    to the end), read a megabyte at a time."""
    sha = hashlib.sha256()
    with path.open("rb") as file:
        file.seek(start)
        left = length
        while left is None or left > 0:
            block = file.read(1 << 20 if left is None else min(left, 1 << 20))
            if not block:
                break
            sha.update(block)
            if left is not None:
                left -= len(block)
    return sha.hexdigest()
