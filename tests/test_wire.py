"""TikTok's wire rules (``flask_tiktok.wire``) and how errors classify
themselves (``TikTokError.transient``, ``rate_limited``, ``token_rejected``)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from flask_tiktok import (
    OAuth2RequestError,
    TikTokAPIError,
    TikTokError,
    TikTokFetchError,
    TikTokLoginRequired,
    UnexpectedResponseError,
)
from flask_tiktok.errors import TRANSIENT_OAUTH_ERRORS
from flask_tiktok.wire import (
    api_error,
    fields_param,
    join_list,
    json_object,
    oauth_error,
    parse_lifetime,
    retry_after,
    scope_param,
    split_list,
)


def response(body: bytes, status: int = 200, **headers: str) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    resp.headers.update(headers)
    return resp


# -- comma-separated names --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("user.info.basic,video.list", ["user.info.basic", "video.list"]),
        (" user.info.basic , video.list ,", ["user.info.basic", "video.list"]),
        ("", []),
        (None, []),
        (",,", []),
    ],
)
def test_split_list_reads_tiktoks_comma_lists(
    text: str | None, names: list[str]
) -> None:
    assert split_list(text) == names


def test_join_list_round_trips_with_split_list() -> None:
    names = ["user.info.basic", "user.info.stats", "video.list"]
    assert join_list(names) == "user.info.basic,user.info.stats,video.list"
    assert split_list(join_list(names)) == names
    assert join_list([]) == ""


def test_scope_param_drops_duplicates_and_trims() -> None:
    assert scope_param([" video.list", "user.info.basic", "video.list"]) == (
        "video.list,user.info.basic"
    )


@pytest.mark.parametrize(
    "scopes", [[], [""], ["a,b"], ["user.info.basic video.list"], [" "]]
)
def test_scope_param_refuses_what_tiktok_would(scopes: list[str]) -> None:
    with pytest.raises(ValueError, match="invalid scopes"):
        scope_param(scopes)


def test_scope_and_fields_params_refuse_a_string() -> None:
    with pytest.raises(TypeError, match="list of scope names"):
        scope_param("user.info.basic")
    with pytest.raises(TypeError, match="list of field names"):
        fields_param("open_id")


def test_fields_param_reads_an_iterator_once() -> None:
    assert fields_param(iter(["open_id", "display_name", "open_id"])) == (
        "open_id,display_name"
    )
    with pytest.raises(ValueError, match="invalid fields"):
        fields_param(["open_id", "a,b"])


# -- lifetimes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (86400, 86400.0),
        (0.5, 0.5),
        ("3600", 3600.0),
        (-5, -5.0),
        (True, None),
        (None, None),
        ("soon", None),
        (float("nan"), None),
        (float("inf"), None),
        ("1" * 400, None),
        (10**400, None),
        ([60], None),
    ],
)
def test_parse_lifetime_never_passes_a_raw_value(
    value: Any, seconds: float | None
) -> None:
    assert parse_lifetime(value) == seconds


# -- answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"<html>502</html>", b"[1, 2]", b'"text"', b"[" * 100_000, b""]
)
def test_json_object_is_none_for_anything_but_an_object(body: bytes) -> None:
    assert json_object(response(body)) is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("-3", 0.0),
        ("1.5", 1.5),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
    ],
)
def test_retry_after_in_seconds(header: str, seconds: float | None) -> None:
    assert retry_after(response(b"{}", 429, **{"Retry-After": header})) == seconds
    assert retry_after(response(b"{}", 429)) is None


def test_oauth_error_in_either_form_whatever_the_status() -> None:
    plain = oauth_error(
        {"error": "invalid_grant", "error_description": "expired", "log_id": "L1"}
    )
    assert plain is not None
    assert (plain.code, plain.description, plain.log_id) == (
        "invalid_grant",
        "expired",
        "L1",
    )
    envelope = oauth_error(
        {"error": {"code": "invalid_client", "message": "bad key", "log_id": "L2"}}
    )
    assert envelope is not None
    assert (envelope.code, envelope.description, envelope.log_id) == (
        "invalid_client",
        "bad key",
        "L2",
    )
    assert oauth_error({"error": {"code": "ok"}}) is None
    assert oauth_error({"access_token": "act.1"}) is None
    assert oauth_error({"error": ""}) is None


def test_api_error_reads_the_envelope() -> None:
    resp = response(b"", 429, **{"Retry-After": "30"})
    error = api_error(
        {"error": {"code": "rate_limit_exceeded", "message": "slow", "log_id": "L3"}},
        resp,
    )
    assert isinstance(error, TikTokAPIError)
    assert (error.code, error.message, error.log_id, error.status_code) == (
        "rate_limit_exceeded",
        "slow",
        "L3",
        429,
    )
    assert error.retry_after == 30.0
    assert api_error({"data": {}, "error": {"code": "ok"}}, resp) is None
    assert api_error({"data": {}}, resp) is None
    odd = api_error({"error": "broken"}, response(b"", 500))
    assert odd is not None and odd.code == "unknown_error"


# -- errors classify themselves -------------------------------------------------------


def api(code: str, status: int) -> TikTokAPIError:
    return TikTokAPIError(code, None, None, status)


@pytest.mark.parametrize(
    ("error", "transient", "rate_limited", "token_rejected"),
    [
        (OAuth2RequestError("invalid_grant", None, None), False, False, False),
        (OAuth2RequestError("rate_limit_exceeded", None, None), True, True, False),
        (OAuth2RequestError("temporarily_unavailable", None, None), True, False, False),
        (TikTokFetchError(requests.ConnectTimeout()), True, False, False),
        (UnexpectedResponseError(502, "<html>"), True, False, False),
        (UnexpectedResponseError(429, ""), True, True, False),
        (UnexpectedResponseError(200, "{}"), False, False, False),
        (api("access_token_invalid", 401), False, False, True),
        (api("access_token_invalid", 200), False, False, False),
        (api("scope_not_authorized", 403), False, False, False),
        (api("rate_limit_exceeded", 200), True, True, False),
        (api("spam_risk", 429), True, True, False),
        (api("internal_error", 200), True, False, False),
        (api("unknown_error", 503), True, False, False),
        (TikTokLoginRequired("nobody"), False, False, False),
    ],
    ids=lambda v: v if isinstance(v, bool) else type(v).__name__,
)
def test_errors_say_what_kind_of_failure_they_are(
    error: TikTokError, transient: bool, rate_limited: bool, token_rejected: bool
) -> None:
    assert (error.transient, error.rate_limited, error.token_rejected) == (
        transient,
        rate_limited,
        token_rejected,
    )


def test_every_transient_oauth_code_keeps_a_login() -> None:
    assert {
        code
        for code in TRANSIENT_OAUTH_ERRORS
        if OAuth2RequestError(code, None, None).transient
    } == set(TRANSIENT_OAUTH_ERRORS)
    assert "rate_limit_exceeded" in TRANSIENT_OAUTH_ERRORS


def test_log_id_and_retry_after_are_on_every_error() -> None:
    assert TikTokFetchError(requests.ConnectionError()).log_id is None
    assert UnexpectedResponseError(500, "").retry_after is None
    error = TikTokAPIError("rate_limit_exceeded", None, "L9", 429, 12.0)
    assert (error.log_id, error.retry_after) == ("L9", 12.0)
