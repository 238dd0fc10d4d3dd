"""TikTokClient against requests-mock: the exact wire format of every call."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests_mock
from helpers import (
    REVOKE_URL,
    TOKEN_URL,
    USER_INFO_URL,
    form,
    token_body,
    user_info_body,
)

from flask_tiktok import (
    OAuth2RequestError,
    TikTokAPIError,
    TikTokClient,
    TikTokFetchError,
    UnexpectedResponseError,
)

REDIRECT = "https://app.example/tiktok/callback"
VERIFIER = "v" * 20 + "-._~" + "A1" * 10


@pytest.fixture
def client() -> TikTokClient:
    return TikTokClient("ck-1", "cs-secret-1", REDIRECT, timeout=7.5)


def assert_client_auth_in_body_only(
    request: requests_mock.request._RequestObjectProxy,
) -> None:
    assert "Authorization" not in request.headers  # no HTTP Basic
    assert request.headers["Content-Type"].startswith(
        "application/x-www-form-urlencoded"
    )
    assert urlsplit(request.url).query == ""  # the secret never travels in a URL
    assert "client_id" not in form(request)


def test_authorization_url_has_tiktok_params(client: TikTokClient) -> None:
    url = client.create_authorization_url(
        "state-1", ["user.info.basic", "video.list"], code_verifier=VERIFIER
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://www.tiktok.com/v2/auth/authorize/"
    )
    query = parse_qs(parts.query, strict_parsing=True)
    assert query == {
        "client_key": ["ck-1"],
        "response_type": ["code"],
        "scope": ["user.info.basic,video.list"],
        "redirect_uri": [REDIRECT],
        "state": ["state-1"],
        "code_challenge": [hashlib.sha256(VERIFIER.encode()).hexdigest()],
        "code_challenge_method": ["S256"],
    }


def test_authorization_url_s256_and_auto_auth() -> None:
    client = TikTokClient("ck", "cs", REDIRECT, pkce="S256")
    url = client.create_authorization_url(
        "s", ["user.info.basic"], code_verifier=VERIFIER, disable_auto_auth=True
    )
    query = parse_qs(urlsplit(url).query)
    digest = hashlib.sha256(VERIFIER.encode()).digest()
    assert query["code_challenge"] == [
        base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    ]
    assert query["disable_auto_auth"] == ["1"]


@pytest.mark.parametrize("scopes", [[], ["a,b"], ["a b"], [""]])
def test_authorization_url_refuses_bad_scopes(
    client: TikTokClient, scopes: list[str]
) -> None:
    with pytest.raises(ValueError, match="invalid scopes"):
        client.create_authorization_url("s", scopes, code_verifier=VERIFIER)


def test_authorization_url_refuses_a_scope_string(client: TikTokClient) -> None:
    with pytest.raises(TypeError):
        client.create_authorization_url("s", "user.info.basic", code_verifier=VERIFIER)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="client_key"):
        TikTokClient("", "cs", REDIRECT)
    with pytest.raises(ValueError, match="pkce"):
        TikTokClient("ck", "cs", REDIRECT, pkce="plain")  # type: ignore[arg-type]


def test_code_exchange_sends_tiktok_form(client: TikTokClient) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=token_body(scope="user.info.basic,video.list"))
        before = datetime.now(timezone.utc)
        tokens = client.validate_authorization_code(
            "code/with+chars", code_verifier=VERIFIER
        )
        sent = mock.last_request
    assert sent.method == "POST"
    assert sent.url == TOKEN_URL
    assert form(sent) == {
        "client_key": "ck-1",
        "client_secret": "cs-secret-1",
        "code": "code/with+chars",
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    assert_client_auth_in_body_only(sent)
    assert sent.timeout == 7.5
    assert tokens.access_token == "act.alice-1"
    assert tokens.refresh_token == "rft.alice-1"
    assert tokens.open_id == "open-id-alice"
    assert tokens.scopes == ["user.info.basic", "video.list"]
    assert tokens.token_type == "Bearer"
    expires = tokens.access_token_expires_at
    assert expires is not None and expires.tzinfo is not None
    assert before + timedelta(seconds=86399) <= expires
    assert expires <= datetime.now(timezone.utc) + timedelta(seconds=86401)
    refresh_expires = tokens.refresh_token_expires_at
    assert refresh_expires is not None
    assert refresh_expires - expires == timedelta(seconds=31536000 - 86400)
    assert "act." not in repr(tokens) and "rft." not in repr(tokens)


def test_lifetimes_come_from_the_answer(client: TikTokClient) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(
            TOKEN_URL, json=token_body(expires_in=7200, refresh_expires_in=15552000)
        )
        tokens = client.validate_authorization_code("c", code_verifier=VERIFIER)
    assert tokens.access_token_expires_at is not None
    assert tokens.refresh_token_expires_at is not None
    lifetime = tokens.access_token_expires_at.timestamp() - tokens.issued_at
    assert lifetime == pytest.approx(7200)
    assert not tokens.access_token_expired()
    assert tokens.access_token_expired(now=tokens.issued_at + 7200)
    assert tokens.access_token_expired(leeway=60, now=tokens.issued_at + 7141)


@pytest.mark.parametrize("status", [200, 400, 401])
def test_oauth_error_body_raises_whatever_the_status(
    client: TikTokClient, status: int
) -> None:
    body = {
        "error": "invalid_grant",
        "error_description": "Authorization code is expired.",
        "log_id": "202611240000001",
    }
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=body, status_code=status)
        with pytest.raises(OAuth2RequestError) as info:
            client.validate_authorization_code("c", code_verifier=VERIFIER)
    assert info.value.code == "invalid_grant"
    assert info.value.description == "Authorization code is expired."
    assert info.value.log_id == "202611240000001"


def test_html_gateway_page_is_unexpected(client: TikTokClient) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(
            TOKEN_URL, text="<html><body>502 Bad Gateway</body></html>", status_code=502
        )
        with pytest.raises(UnexpectedResponseError) as info:
            client.validate_authorization_code("c", code_verifier=VERIFIER)
    assert info.value.status_code == 502
    assert "Bad Gateway" in info.value.body


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b'"text"',
        b"null",
        b'{"token_type": "Bearer"}',
        b'{"access_token": 5}',
        b"\xff\xfe",
    ],
)
def test_answers_that_are_not_token_objects(
    client: TikTokClient, payload: bytes
) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, content=payload)
        with pytest.raises(UnexpectedResponseError):
            client.validate_authorization_code("c", code_verifier=VERIFIER)


def test_unexpected_body_hides_tokens(client: TikTokClient) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json={"refresh_token": "rft.secret"}, status_code=500)
        with pytest.raises(UnexpectedResponseError) as info:
            client.validate_authorization_code("c", code_verifier=VERIFIER)
    assert "rft.secret" not in info.value.body


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectTimeout,
        requests.exceptions.ReadTimeout,
        requests.exceptions.SSLError,
    ],
)
def test_no_answer_is_a_fetch_error(client: TikTokClient, exc: type[Exception]) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, exc=exc)
        with pytest.raises(TikTokFetchError) as info:
            client.refresh_access_token("rft.1")
    assert isinstance(info.value.cause, exc)
    assert info.value.__cause__ is info.value.cause


def test_refused_connection_is_a_fetch_error() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = TikTokClient(
        "ck", "cs", REDIRECT, token_url=f"http://127.0.0.1:{port}/v2/oauth/token/"
    )
    with pytest.raises(TikTokFetchError) as info:
        client.validate_authorization_code("c", code_verifier=VERIFIER)
    assert isinstance(info.value.cause, requests.exceptions.ConnectionError)


def test_refresh_sends_tiktok_form(client: TikTokClient) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(
            TOKEN_URL, json=token_body(access_token="act.2", refresh_token="rft.2")
        )
        tokens = client.refresh_access_token("rft.1")
        sent = mock.last_request
    assert form(sent) == {
        "client_key": "ck-1",
        "client_secret": "cs-secret-1",
        "grant_type": "refresh_token",
        "refresh_token": "rft.1",
    }
    assert_client_auth_in_body_only(sent)
    assert (tokens.access_token, tokens.refresh_token) == ("act.2", "rft.2")


def test_rotated_refresh_token_is_refused(client: TikTokClient) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(
            TOKEN_URL,
            json={
                "error": "invalid_grant",
                "error_description": "Refresh token is invalid or expired.",
                "log_id": "L1",
            },
        )
        with pytest.raises(OAuth2RequestError) as info:
            client.refresh_access_token("rft.already-used")
    assert info.value.code == "invalid_grant"


def test_revoke_sends_tiktok_form(client: TikTokClient) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(REVOKE_URL, json={})
        assert client.revoke_token("act.1") is None
        sent = mock.last_request
    assert sent.url == REVOKE_URL
    assert form(sent) == {
        "client_key": "ck-1",
        "client_secret": "cs-secret-1",
        "token": "act.1",
    }
    assert_client_auth_in_body_only(sent)


@pytest.mark.parametrize("status", [200, 400])
def test_revoke_error(client: TikTokClient, status: int) -> None:
    with requests_mock.Mocker() as mock:
        mock.post(
            REVOKE_URL,
            json={
                "error": "invalid_request",
                "error_description": "bad token",
                "log_id": "L2",
            },
            status_code=status,
        )
        with pytest.raises(OAuth2RequestError, match="invalid_request"):
            client.revoke_token("act.1")
        mock.post(REVOKE_URL, text="<html>oops</html>", status_code=503)
        with pytest.raises(UnexpectedResponseError):
            client.revoke_token("act.1")


def test_user_info_request(client: TikTokClient) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(USER_INFO_URL, json=user_info_body())
        user = client.get_user_info("act.1", ["open_id", "display_name", "avatar_url"])
        sent = mock.last_request
    assert sent.method == "GET"
    assert urlsplit(sent.url).path == "/v2/user/info/"
    assert parse_qs(urlsplit(sent.url).query) == {
        "fields": ["open_id,display_name,avatar_url"]
    }
    assert sent.headers["Authorization"] == "Bearer act.1"
    assert sent.timeout == 7.5
    assert user["display_name"] == "Alice <Creator>"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "access_token_invalid"),
        (401, "scope_not_authorized"),
        (400, "invalid_params"),
        (500, "internal_error"),
        (200, "access_token_invalid"),
    ],
)
def test_user_info_error_envelope(client: TikTokClient, status: int, code: str) -> None:
    body = {"data": {}, "error": {"code": code, "message": "nope", "log_id": "L3"}}
    with requests_mock.Mocker() as mock:
        mock.get(USER_INFO_URL, json=body, status_code=status)
        with pytest.raises(TikTokAPIError) as info:
            client.get_user_info("act.1", ["open_id"])
    assert (info.value.code, info.value.log_id, info.value.status_code) == (
        code,
        "L3",
        status,
    )


def test_rate_limit_keeps_retry_after(client: TikTokClient) -> None:
    body = {
        "data": {},
        "error": {
            "code": "rate_limit_exceeded",
            "message": "slow down",
            "log_id": "L4",
        },
    }
    with requests_mock.Mocker() as mock:
        mock.get(
            USER_INFO_URL, json=body, status_code=429, headers={"Retry-After": "30"}
        )
        with pytest.raises(TikTokAPIError) as info:
            client.get_user_info("act.1", ["open_id"])
    assert info.value.retry_after == 30.0


def test_user_info_gateway_page(client: TikTokClient) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(USER_INFO_URL, text="<html>bad gateway</html>", status_code=502)
        with pytest.raises(UnexpectedResponseError):
            client.get_user_info("act.1", ["open_id"])
        mock.get(USER_INFO_URL, json={"data": {"user": "x"}, "error": {"code": "ok"}})
        with pytest.raises(UnexpectedResponseError):
            client.get_user_info("act.1", ["open_id"])


def test_custom_endpoints_and_transport() -> None:
    transport = requests.Session()
    adapter = requests_mock.Adapter()
    transport.mount("http://tiktok.test/", adapter)
    adapter.register_uri("POST", "http://tiktok.test/oauth/token/", json=token_body())
    client = TikTokClient(
        "ck",
        "cs",
        REDIRECT,
        token_url="http://tiktok.test/oauth/token/",
        session=transport,
    )
    assert (
        client.validate_authorization_code("c", code_verifier=VERIFIER).open_id
        == "open-id-alice"
    )
    assert adapter.call_count == 1


def test_one_client_is_safe_across_threads(client: TikTokClient) -> None:
    def answer(
        request: requests_mock.request._RequestObjectProxy, context: object
    ) -> dict[str, object]:
        code = form(request)["code"]
        return token_body(access_token=f"act.{code}", open_id=f"user-{code}")

    results: dict[str, str] = {}
    with requests_mock.Mocker() as mock:
        mock.post(TOKEN_URL, json=answer)

        def worker(n: int) -> None:
            for i in range(25):
                code = f"{n}-{i}"
                tokens = client.validate_authorization_code(
                    code, code_verifier=VERIFIER
                )
                results[code] = tokens.access_token

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 200
    assert all(token == f"act.{code}" for code, token in results.items())
    assert client.http is client.http


def test_get_user_info_refuses_a_string_of_fields(tiktok_mock: Any) -> None:
    """Like list_videos/query_videos, get_user_info refuses a string of fields
    (it would send ``fields=o,p,e,n,_,i,d``), before any request."""
    client = TikTokClient("ck", "cs", "https://app.example/cb")
    with pytest.raises(TypeError):
        client.get_user_info("act.x", "open_id")  # type: ignore[arg-type]
    assert [r.url for r in tiktok_mock.request_history] == []


def test_revoke_non_ok_without_error_body_is_unexpected(tiktok_mock: Any) -> None:

    from flask_tiktok.errors import UnexpectedResponseError

    tiktok_mock.post(REVOKE_URL, status_code=503, json={})
    with pytest.raises(UnexpectedResponseError):
        TikTokClient("k", "s", None).revoke_token("act")


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
