"""Property-based fuzzing of the login flow with hypothesis.

Hostile or broken input on both sides of the app: the browser's query strings
at ``/login`` and ``/callback``, and TikTok's answers to the token and
user-info calls. The app under test has ``TESTING`` off and
``PROPAGATE_EXCEPTIONS`` off, so a bug shows as a 500 rather than raising.

Properties: no request is ever answered 500; the token endpoint is never
called without the state of a pending login; every redirect goes to TikTok,
the fallback, or a path :func:`is_safe_next` accepts.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any
from urllib.parse import parse_qs, quote_from_bytes, urlsplit

import pytest
import requests_mock
from flask import Flask
from helpers import (
    AUTHORIZE_URL,
    REVOKE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    create_app,
    token_body,
    token_calls,
    user_info_body,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_tiktok.redirects import is_safe_next
from flask_tiktok.tokens import OAuth2Tokens

#: Examples per test: 200 keeps the module near 10 s; FUZZ_EXAMPLES=2000
#: digs deeper.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def make_app() -> Flask:
    return create_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)


APP = make_app()

# JSON of every shape, with numbers too big for a float and strings of any kind.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
huge_text = st.integers(min_value=5_000, max_value=300_000).map(lambda n: "x" * n)
field_values = json_values | huge_text


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some fields replaced by anything or removed."""
    keys = sorted(base)
    return st.tuples(
        st.dictionaries(st.sampled_from(keys), field_values, max_size=len(keys)),
        st.sets(st.sampled_from(keys), max_size=3),
    ).map(
        lambda change: {
            k: v for k, v in (base | change[0]).items() if k not in change[1]
        }
    )


def answers(well_formed: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """requests-mock keyword arguments for a hostile or broken answer."""
    status = st.sampled_from([200, 200, 200, 400, 401, 429, 500, 502])
    return st.one_of(
        st.builds(lambda b, s: {"json": b, "status_code": s}, well_formed, status),
        st.builds(lambda b, s: {"json": b, "status_code": s}, json_values, status),
        st.builds(
            lambda b, s: {"content": b, "status_code": s},
            st.binary(max_size=500),
            status,
        ),
        st.builds(
            lambda b, s: {"text": b, "status_code": s, "headers": {"Retry-After": b}},
            st.text(max_size=200).map(lambda t: f"<html><body>{t}</body></html>"),
            status,
        ),
        st.builds(
            lambda n, s: {"text": json.dumps(token_body()) + " " * n, "status_code": s},
            st.integers(min_value=0, max_value=1_000_000),
            status,
        ),
    )


def login_state(client: Any, next_url: str | None = None) -> str:
    response = client.get("/tiktok/login", query_string={"next": next_url or "/"})
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]


def assert_no_server_error(client: Any) -> None:
    """A session in whatever state the fuzz left it: nothing answers 500."""
    for path in ("/", "/me", "/stats", "/api/me"):
        assert client.get(path).status_code < 500 or path == "/api/me"
        assert client.get(path).status_code != 500
    assert client.post("/tiktok/logout").status_code == 302


def raw_query(pairs: list[tuple[bytes, bytes]]) -> str:
    return "&".join(f"{quote_from_bytes(k)}={quote_from_bytes(v)}" for k, v in pairs)


param_names = st.sampled_from(
    [b"code", b"state", b"error", b"error_description", b"scopes", b"next"]
) | st.binary(max_size=12)
param_values = (
    st.binary(max_size=200)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.integers(min_value=4_000, max_value=200_000).map(lambda n: b"A" * n)
)


@FUZZ
@given(
    pairs=st.lists(st.tuples(param_names, param_values), max_size=6),
    state_use=st.sampled_from(["none", "real", "real-twice"]),
    raw=st.none() | st.binary(max_size=300),
)
def test_callback_query_fuzz(
    pairs: list[tuple[bytes, bytes]], state_use: str, raw: bytes | None
) -> None:
    client = APP.test_client()
    real = login_state(client)
    if state_use != "none":
        pairs = [(b"state", real.encode()), *pairs]
    if state_use == "real-twice":
        pairs = [*pairs, (b"state", real.encode())]
    # Raw bytes reach the app as a WSGI server hands them over (latin-1).
    query = raw.decode("latin-1") if raw is not None else raw_query(pairs)
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_body())
        mock.get(USER_INFO_URL, json=user_info_body())
        mock.post(REVOKE_URL, json={})
        response = client.get("/tiktok/callback", query_string=query)
        assert response.status_code != 500
        # The first "state" decides; without the real one TikTok hears nothing.
        firsts = [v for k, v in pairs if k == b"state"]
        valid = raw is None and bool(firsts) and firsts[0] == real.encode()
        assert len(token_calls(mock)) <= (1 if valid else 0)
        if response.status_code in (301, 302, 303):
            location = response.headers["Location"]
            assert location == "/" or is_safe_next(location)
        assert_no_server_error(client)


@FUZZ
@given(
    next_url=st.text(max_size=300)
    | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
    | st.sampled_from(["//evil.example", "/\\evil", "/%2F%2Fx", "\uff0f\uff0fx"]),
    extra=st.lists(st.tuples(param_names, param_values), max_size=3),
)
def test_login_query_fuzz(next_url: str, extra: list[tuple[bytes, bytes]]) -> None:
    client = APP.test_client()
    query = raw_query([(b"next", next_url.encode("utf-8", "surrogatepass")), *extra])
    response = client.get("/tiktok/login", query_string=query)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(AUTHORIZE_URL)
    state = parse_qs(urlsplit(location).query)["state"][0]
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_body())
        mock.get(USER_INFO_URL, json=user_info_body())
        back = client.get(f"/tiktok/callback?code=c&state={state}")
    assert back.status_code == 302
    target = back.headers["Location"]
    assert target == "/" or is_safe_next(target)


@FUZZ
@given(answer=answers(mutated(token_body())))
def test_token_answer_fuzz(answer: dict[str, Any]) -> None:
    client = APP.test_client()
    state = login_state(client)
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, **answer)
        mock.get(USER_INFO_URL, json=user_info_body())
        mock.post(REVOKE_URL, json={})
        response = client.get(f"/tiktok/callback?code=c&state={state}")
        assert response.status_code in (302, 400, 502, 504), response.status_code
        assert_no_server_error(client)


@FUZZ
@given(
    answer=answers(
        st.one_of(
            mutated(user_info_body()["data"]["user"]).map(lambda u: user_info_body(u)),
            mutated(user_info_body()),
        )
    )
)
def test_user_info_answer_fuzz(answer: dict[str, Any]) -> None:
    client = APP.test_client()
    state = login_state(client)
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_body())
        mock.get(USER_INFO_URL, **answer)
        mock.post(REVOKE_URL, json={})
        response = client.get(f"/tiktok/callback?code=c&state={state}")
        assert response.status_code in (302, 400, 502, 504), response.status_code
        assert_no_server_error(client)


@FUZZ
@given(answer=answers(mutated(token_body(access_token="act.alice-2"))))
def test_refresh_answer_fuzz(answer: dict[str, Any]) -> None:
    client = APP.test_client()
    state = login_state(client)
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_body(expires_in=30))
        mock.get(USER_INFO_URL, json=user_info_body())
        mock.post(REVOKE_URL, json={})
        assert client.get(f"/tiktok/callback?code=c&state={state}").status_code == 302
        mock.post(TOKEN_URL, **answer)
        response = client.get("/api/me")
        assert response.status_code in (200, 302, 502, 504), response.status_code
        assert_no_server_error(client)


# Inputs the fuzz found, pinned: each would otherwise be a 500, or a cookie the
# browser drops.


def logged_in_with(token_answer: dict[str, Any], profile: Any = None) -> Any:
    client = APP.test_client()
    state = login_state(client)
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_answer)
        mock.get(USER_INFO_URL, json=user_info_body(profile))
        response = client.get(f"/tiktok/callback?code=c&state={state}")
    return client, response


def cookie_size(client: Any) -> int:
    cookie = client.get_cookie("session")
    return len(cookie.value) if cookie is not None else 0


@pytest.mark.parametrize("field", ["access_token", "refresh_token", "scope"])
def test_oversized_token_fields_are_refused(field: str) -> None:
    """A 100 kB token would make a cookie the browser drops: the login
    "succeeded" but never stuck (and werkzeug warned)."""
    client, response = logged_in_with(token_body(**{field: "x" * 100_000}))
    assert response.status_code == 502
    assert client.get("/").get_data(as_text=True) == "Anonymous"
    assert cookie_size(client) < 4000


@pytest.mark.parametrize("lifetime", ["x" * 100_000, 10**400, 1e300, "inf", "nan"])
def test_hostile_lifetimes_neither_bloat_the_cookie_nor_crash(lifetime: Any) -> None:
    """``expires_in`` was sealed into the cookie as sent, and a 400-digit
    integer raised OverflowError (a 500) on the first API call."""
    client, response = logged_in_with(
        token_body(expires_in=lifetime, refresh_expires_in=lifetime)
    )
    assert response.status_code == 302
    assert cookie_size(client) < 4000
    with requests_mock.Mocker() as mock:
        mock.get(USER_INFO_URL, json=user_info_body())
        mock.post(TOKEN_URL, json=token_body())
        assert client.get("/api/me").status_code == 200


def test_oversized_profile_is_trimmed_to_fit_the_cookie() -> None:
    """A profile larger than a cookie made the browser drop the whole login."""
    profile = {
        "open_id": "open-id-alice",
        "display_name": "Alice",
        "avatar_url": "https://p16.tiktokcdn.com/a.jpeg",
        # Random text: zlib would shrink a repeated letter to nothing.
        "bio_description": "".join(
            hashlib.sha256(str(i).encode()).hexdigest() for i in range(300)
        ),
        "union_id": [hashlib.sha256(str(i).encode()).hexdigest() for i in range(50)],
    }
    client, response = logged_in_with(token_body(), profile)
    assert response.status_code == 302
    assert cookie_size(client) < 4000
    assert client.get("/").get_data(as_text=True) == "Hello Alice"
    assert "a.jpeg" in client.get("/me").get_data(as_text=True)


def test_a_token_answer_without_scope_does_not_break_scope_upgrades() -> None:
    """No ``scope`` in the answer stored the granted scopes as ``[""]``, and
    asking for one more scope crashed on the empty name (a 500)."""
    client, response = logged_in_with(
        {k: v for k, v in token_body().items() if k != "scope"}
    )
    assert response.status_code == 302
    upgrade = client.get("/stats")
    assert upgrade.status_code == 302
    query = parse_qs(urlsplit(upgrade.headers["Location"]).query)
    assert query["scope"] == ["user.info.basic,user.info.stats"]


@pytest.mark.parametrize("lifetime", [10**400, 1e300, float("inf"), "nan", "1e999"])
def test_token_expiry_of_absurd_lifetimes_is_unknown(lifetime: Any) -> None:
    tokens = OAuth2Tokens(token_body(expires_in=lifetime), issued_at=1_800_000_000)
    assert tokens.access_token_expires_at is None
    assert tokens.access_token_expired() is False


def test_longer_refreshed_tokens_still_fit_the_cookie() -> None:
    """A refresh re-sealed the new tokens next to a profile trimmed for the old
    ones: tokens grown to TikTok's longest accepted length pushed the cookie
    past what browsers keep."""
    profile = {
        "open_id": "open-id-alice",
        "display_name": "Alice",
        "bio_description": "".join(
            hashlib.sha256(str(i).encode()).hexdigest() for i in range(38)
        ),
    }
    # Its own refresh token: the module's app remembers earlier rotations.
    login = token_body(expires_in=30, refresh_token="rft.longer-1")
    client, response = logged_in_with(login, profile)
    assert response.status_code == 302
    before = cookie_size(client)
    with requests_mock.Mocker() as mock:
        mock.post(
            TOKEN_URL,
            json=token_body(access_token="a" * 1024, refresh_token="r" * 1024),
        )
        mock.get(USER_INFO_URL, json=user_info_body())
        assert client.get("/api/me").status_code == 200
        refreshes = [r for r in mock.request_history if r.url == TOKEN_URL]
        assert len(refreshes) == 1
        assert mock.request_history[-1].headers["Authorization"] == "Bearer " + (
            "a" * 1024
        )
    assert before < cookie_size(client) < 4000
    assert client.get("/").get_data(as_text=True) == "Hello Alice"
