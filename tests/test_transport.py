"""Every call to TikTok has an overall deadline and its answer a size cap,
and goes through the proxy the environment (or the app's session) names.

Against a loopback "TikTok" that drips or bombs (tests/hostile_upstream.py);
wall time and memory are bounded in a process of their own, with generous
bounds: these are properties, not speed.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from helpers import CLIENT_KEY, CLIENT_SECRET, USER_INFO_URL, create_app, log_in
from hostile_upstream import REQUEST_LINES, serve

from flask_tiktok import TikTokClient, TikTokFetchError, UnexpectedResponseError
from flask_tiktok.signals import tiktok_login_failed
from flask_tiktok.transport import DEFAULT_MAX_RESPONSE_BYTES, TikTokHTTPAdapter

HERE = Path(__file__).resolve().parent
MB = 1 << 20


def run_hostile(mode: str, timeout: float) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, str(HERE / "hostile_upstream.py"), mode, str(timeout)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


@pytest.mark.parametrize(
    "mode", ["drip-headers", "drip-body", "drip-close", "tls-drip"]
)
def test_a_dripping_answer_ends_at_the_deadline(mode: str) -> None:
    # 0.1 had no bound: the answer's ~180 bytes at 0.2 s each took 36 s; a
    # TLS handshake (16 kB) 55 minutes. A body that ends with its connection
    # must not pass for complete when the deadline cut it.
    outcome = run_hostile(mode, timeout=1.0)
    assert outcome["error"] == "TikTokFetchError"
    assert outcome["cause"] == "Timeout"
    assert outcome["seconds"] < 10


@pytest.mark.parametrize("mode", ["gzip-bomb", "big-body"])
def test_an_oversized_answer_is_refused_unread(mode: str) -> None:
    # 0.1 inflated the bomb to 512 MB in memory (1.1 GB RSS).
    outcome = run_hostile(mode, timeout=30.0)
    assert outcome["error"] == "UnexpectedResponseError"
    assert "larger than 1,048,576 bytes" in outcome["body"]
    assert outcome["rss_growth"] < 64 * MB


def test_a_prompt_answer_is_read_whole() -> None:
    outcome = run_hostile("ok", timeout=1.0)
    assert outcome["error"] is None


def client_for(base_url: str, **options: Any) -> TikTokClient:
    return TikTokClient(
        CLIENT_KEY,
        CLIENT_SECRET,
        "https://app.example/cb",
        api_base_url=base_url,
        **options,
    )


def test_a_connection_cut_at_its_deadline_is_not_reused() -> None:
    client = client_for(serve("drip-body", "ok"), timeout=0.5)
    with pytest.raises(TikTokFetchError) as caught:
        client.get_user_info("act.1", ["open_id"])
    assert isinstance(caught.value.cause, requests.Timeout)
    assert "within 0.5 s" in str(caught.value.cause)
    assert client.get_user_info("act.1", ["open_id"]) == {"open_id": "open-id-alice"}


def test_an_apps_session_with_the_adapter_keeps_the_whole_deadline() -> None:
    session = requests.Session()
    session.mount("http://", TikTokHTTPAdapter())
    client = client_for(serve("drip-headers"), timeout=0.5, session=session)
    with pytest.raises(TikTokFetchError) as caught:
        client.get_user_info("act.1", ["open_id"])
    assert isinstance(caught.value.cause, requests.Timeout)


def test_an_apps_plain_session_still_bounds_the_body() -> None:
    client = client_for(serve("drip-body"), timeout=0.5, session=requests.Session())
    with pytest.raises(TikTokFetchError) as caught:
        client.get_user_info("act.1", ["open_id"])
    assert isinstance(caught.value.cause, requests.Timeout)


def _call_in_child(base_url: str, answers: Any) -> None:
    try:
        client_for(base_url, timeout=0.5).get_user_info("act.1", ["open_id"])
    except TikTokFetchError as exc:
        answers.put(type(exc.cause).__name__)
    else:
        answers.put("answered")


def test_an_apps_session_decides_the_proxy() -> None:
    proxy = serve("ok")
    session = requests.Session()
    session.proxies = {"http": proxy.removesuffix("/v2/")}
    client = client_for("http://api.example.invalid/v2/", session=session)
    assert client.get_user_info("act.1", ["open_id"]) == {"open_id": "open-id-alice"}
    assert REQUEST_LINES[-1] == (
        b"GET http://api.example.invalid/v2/user/info/?fields=open_id HTTP/1.1"
    )


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
API = "https://open.tiktokapis.com/v2/"


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy or CA bundle variables but the test's own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_environments_proxy_is_used(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("HTTP_PROXY", serve("ok").removesuffix("/v2/"))
    client = client_for("http://api.example.invalid/v2/")
    assert client.get_user_info("act.1", ["open_id"]) == {"open_id": "open-id-alice"}
    assert REQUEST_LINES[-1] == (
        b"GET http://api.example.invalid/v2/user/info/?fields=open_id HTTP/1.1"
    )


def test_no_proxy_goes_direct(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nobody listens
    environ.setenv("NO_PROXY", "127.0.0.1")
    client = client_for(serve("ok"))
    assert client.get_user_info("act.1", ["open_id"]) == {"open_id": "open-id-alice"}
    assert REQUEST_LINES[-1] == b"GET /v2/user/info/?fields=open_id HTTP/1.1"


def test_the_environment_is_read_once_per_client(environ: pytest.MonkeyPatch) -> None:
    # As documented (deployment.rst): requests would read it on every call.
    url = serve("ok", "ok")
    client = client_for(url)
    client.get_user_info("act.1", ["open_id"])
    environ.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert client.get_user_info("act.1", ["open_id"]) == {"open_id": "open-id-alice"}
    with pytest.raises(TikTokFetchError):  # a client made now sees the change
        client_for(url).get_user_info("act.1", ["open_id"])


def test_the_environments_ca_bundle_is_used(
    environ: pytest.MonkeyPatch, tiktok_mock: Any, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    environ.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    client_for(API).get_user_info("act.1", ["open_id"])
    assert tiktok_mock.last_request.verify == str(bundle)


def test_a_calls_own_proxy_and_verify_win_over_the_environment(
    environ: pytest.MonkeyPatch, tiktok_mock: Any, tmp_path: Path
) -> None:
    environ.setenv("HTTPS_PROXY", "http://from-the-environment:3128")
    environ.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    client = client_for(API)
    client.send("GET", "user/info/", "act.1")  # the environment, remembered
    assert tiktok_mock.last_request.proxies["https"] == (
        "http://from-the-environment:3128"
    )
    mine = {"https": "http://mine:3128"}
    client.send("GET", "user/info/", "act.1", proxies=mine, verify=False)
    assert tiktok_mock.last_request.proxies["https"] == "http://mine:3128"
    assert tiktok_mock.last_request.verify is False


def test_a_no_proxy_given_with_a_call_counts(
    environ: pytest.MonkeyPatch, tiktok_mock: Any
) -> None:
    environ.setenv("HTTPS_PROXY", "http://from-the-environment:3128")
    client = client_for(API)
    client.send("GET", "user/info/", "act.1", proxies={"no_proxy": "tiktokapis.com"})
    assert "https" not in tiktok_mock.last_request.proxies
    client.send("GET", "user/info/", "act.1", proxies={"no_proxy": "other.example"})
    assert "https" in tiktok_mock.last_request.proxies


def test_trust_env_off_leaves_the_environment_out(
    environ: pytest.MonkeyPatch, tiktok_mock: Any, tmp_path: Path
) -> None:
    environ.setenv("HTTPS_PROXY", "http://from-the-environment:3128")
    environ.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    client = client_for(API)
    client.http.trust_env = False  # requests' own switch still works
    client.get_user_info("act.1", ["open_id"])
    assert "https" not in tiktok_mock.last_request.proxies
    assert tiktok_mock.last_request.verify is True


def test_a_netrc_entry_never_replaces_the_token(
    environ: pytest.MonkeyPatch, tiktok_mock: Any, tmp_path: Path
) -> None:
    # requests puts a ~/.netrc password for the host in Authorization, over
    # the Bearer token: TikTok would get the password, and answer 401.
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "machine open.tiktokapis.com login bob password hunter2\n"
        "machine open-upload.tiktokapis.com login bob password hunter2\n"
    )
    netrc.chmod(0o600)
    environ.setenv("NETRC", str(netrc))
    client = client_for(API)
    client.get_user_info("act.1", ["open_id"])
    assert tiktok_mock.last_request.headers["Authorization"] == "Bearer act.1"
    # Nor is it sent where no token goes (an upload's signed URL).
    upload_url = "https://open-upload.tiktokapis.com/upload/?upload_id=1"
    tiktok_mock.put(upload_url, status_code=201)
    client.http.put(upload_url, data=b"chunk", withhold_token=True)
    assert "Authorization" not in tiktok_mock.last_request.headers


def test_the_deadline_holds_in_a_forked_worker() -> None:
    # gunicorn forks after the app is loaded: the watchdog thread is not
    # inherited, and must start again in the child.
    url = serve("ok", "drip-body")
    client_for(url, timeout=0.5).get_user_info("act.1", ["open_id"])
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=_call_in_child, args=(url, answers))
    child.start()
    child.join(30)
    assert answers.get(timeout=1) == "Timeout"
    answers.close()
    answers.join_thread()


def test_the_login_callback_gives_up_at_the_deadline() -> None:
    app = create_app(
        TIKTOK_TOKEN_URL=serve("drip-body").replace("/v2/", "/v2/oauth/token/"),
        TIKTOK_HTTP_TIMEOUT=0.5,
    )
    failures: list[Any] = []
    tiktok_login_failed.connect(lambda app, **kw: failures.append(kw), app, weak=False)
    response = log_in(app.test_client())
    assert response.status_code == 504
    assert failures[0]["error"] == "tiktok_unreachable"
    assert isinstance(failures[0]["exception"].cause, requests.Timeout)


def test_config_sets_the_cap(tiktok_mock: Any) -> None:
    app = create_app(TIKTOK_MAX_RESPONSE_BYTES=100)
    tiktok_mock.get(
        USER_INFO_URL, text=json.dumps({"data": {"user": {}}, "x": "y" * 100})
    )
    client = app.extensions["tiktok"].client
    assert client.max_response_bytes == 100
    with pytest.raises(UnexpectedResponseError, match=r"HTTP 200"):
        client.get_user_info("act.1", ["open_id"])


@pytest.mark.parametrize("value", [0, -1, "many", True, 1.5])
def test_a_bad_cap_names_its_key(value: Any) -> None:
    with pytest.raises(ValueError, match="TIKTOK_MAX_RESPONSE_BYTES"):
        create_app(TIKTOK_MAX_RESPONSE_BYTES=value)


def envelope(**user: Any) -> bytes:
    return json.dumps({"data": {"user": user}, "error": {"code": "ok"}}).encode()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("identity", lambda body: body),
    ],
)
def test_compressed_answers_are_decoded(
    tiktok_mock: Any, encoding: str, encode: Any
) -> None:
    tiktok_mock.get(
        USER_INFO_URL,
        content=encode(envelope(open_id="open-id-alice")),
        headers={"Content-Encoding": encoding},
    )
    client = client_for("https://open.tiktokapis.com/v2/")
    assert client.get_user_info("act.1", ["open_id"]) == {"open_id": "open-id-alice"}
    assert tiktok_mock.last_request.headers["Accept-Encoding"] == "gzip, deflate"


def test_a_bomb_stops_at_the_cap_while_inflating(tiktok_mock: Any) -> None:
    # 64 MB of zeros in 64 kB of gzip: refused after the first decoded MB.
    bomb = gzip.compress(b"\0" * (64 * MB), compresslevel=9)
    tiktok_mock.get(USER_INFO_URL, content=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(UnexpectedResponseError) as caught:
        client_for("https://open.tiktokapis.com/v2/").get_user_info("act.1", ["id"])
    assert caught.value.body == (
        f"answer larger than {DEFAULT_MAX_RESPONSE_BYTES:,} bytes: not read"
    )


def test_an_answer_exactly_at_the_cap_is_read(tiktok_mock: Any) -> None:
    body = envelope(open_id="x")
    tiktok_mock.get(USER_INFO_URL, content=body)
    client = client_for("https://open.tiktokapis.com/v2/", max_response_bytes=len(body))
    assert client.get_user_info("act.1", ["open_id"]) == {"open_id": "x"}
    tiktok_mock.get(USER_INFO_URL, content=body + b" ")
    with pytest.raises(UnexpectedResponseError):
        client.get_user_info("act.1", ["open_id"])


@pytest.mark.parametrize("encoding", ["br", "compress"])
def test_an_encoding_not_asked_for_is_refused(tiktok_mock: Any, encoding: str) -> None:
    tiktok_mock.get(
        USER_INFO_URL, content=b"xx", headers={"Content-Encoding": encoding}
    )
    with pytest.raises(UnexpectedResponseError) as caught:
        client_for("https://open.tiktokapis.com/v2/").get_user_info("act.1", ["id"])
    assert f"unsupported Content-Encoding {encoding!r}" in caught.value.body


@pytest.mark.parametrize(
    "body",
    [
        gzip.compress(envelope(open_id="x"))[:-6],  # cut short
        gzip.compress(envelope(open_id="x")) + gzip.compress(b"more"),  # two members
    ],
)
def test_gzip_cut_short_or_followed_by_more_is_refused(
    tiktok_mock: Any, body: bytes
) -> None:
    tiktok_mock.get(USER_INFO_URL, content=body, headers={"Content-Encoding": "gzip"})
    with pytest.raises(UnexpectedResponseError) as caught:
        client_for("https://open.tiktokapis.com/v2/").get_user_info("act.1", ["id"])
    assert caught.value.body == "compressed body cut short, or followed by other data"


def test_corrupt_gzip_is_an_unexpected_answer(tiktok_mock: Any) -> None:
    tiktok_mock.get(
        USER_INFO_URL, content=b"\x1f\x8bnot gzip", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(UnexpectedResponseError, match="HTTP 200"):
        client_for("https://open.tiktokapis.com/v2/").get_user_info("act.1", ["id"])


def test_redirects_are_not_followed(tiktok_mock: Any) -> None:
    tiktok_mock.get(
        USER_INFO_URL, status_code=302, headers={"Location": "https://evil.example/"}
    )
    tiktok_mock.get("https://evil.example/", json={"data": {"user": {}}})
    with pytest.raises(UnexpectedResponseError) as caught:
        client_for("https://open.tiktokapis.com/v2/").get_user_info("act.1", ["id"])
    assert caught.value.status_code == 302
    assert [r.hostname for r in tiktok_mock.request_history] == ["open.tiktokapis.com"]


@pytest.mark.parametrize("option", [{"timeout": 0}, {"max_response_bytes": 0}])
def test_client_refuses_bounds_that_bound_nothing(option: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(option))):
        client_for("https://open.tiktokapis.com/v2/", **option)


def test_the_app_client_has_the_configured_deadline(app: Flask) -> None:
    assert app.extensions["tiktok"].client.timeout == 10
