"""The sandbox behaves like TikTok's v2 endpoints, over real loopback HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from flask_tiktok.sandbox import (
    Sandbox,
    SandboxApp,
    SandboxServer,
    SandboxUser,
    SandboxVideo,
)

KEY = "sandbox-client-key"
SECRET = "sandbox-client-secret"
REDIRECT = "http://127.0.0.1:5000/tiktok/callback"
ALICE = "sandbox-open-id-alice"
BOB = "sandbox-open-id-bob"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnopqrstuvwxyz"
ALL_USER_SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"


def http_request(method: str, url: str, **kwargs: Any) -> requests.Response:
    """A loopback request that cannot hang the test run."""
    timeout = kwargs.pop("timeout", 10)
    return requests.request(method, url, timeout=timeout, **kwargs)


def http_get(url: str, **kwargs: Any) -> requests.Response:
    return http_request("GET", url, **kwargs)


def http_post(url: str, **kwargs: Any) -> requests.Response:
    return http_request("POST", url, **kwargs)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return Sandbox(clock=clock)


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    with sandbox.serve() as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> FlaskClient:
    return sandbox.wsgi_app.test_client()


def challenge(verifier: str = VERIFIER) -> str:
    return hashlib.sha256(verifier.encode()).hexdigest()


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {
        "client_key": KEY,
        "scope": "user.info.basic,video.list",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "state-123",
        "code_challenge": challenge(),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class ConsentForm(HTMLParser):
    """The consent page's form fields: hidden inputs and scope checkboxes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hidden: list[tuple[str, str]] = []
        #: (scope, checked, disabled) for each checkbox, in page order.
        self.checkboxes: list[tuple[str, bool, bool]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "input":
            return
        attr = dict(attrs)
        if attr.get("type") == "hidden":
            self.hidden.append((attr["name"] or "", attr["value"] or ""))
        elif attr.get("type") == "checkbox":
            assert attr["name"] == "granted_scope"
            self.checkboxes.append(
                (attr["value"] or "", "checked" in attr, "disabled" in attr)
            )

    def submission(
        self, untick: Iterable[str] = (), **fields: str
    ) -> list[tuple[str, str]]:
        """What a browser posts with the ``untick`` boxes cleared (disabled: kept)."""
        ticked = [
            ("granted_scope", name)
            for name, checked, disabled in self.checkboxes
            if checked and not disabled and name not in set(untick)
        ]
        return [*self.hidden, *ticked, *fields.items()]


def consent_form(url: str, **overrides: str) -> ConsentForm:
    """The consent page for :func:`authorize_params` with ``overrides``."""
    page = http_get(f"{url}/v2/auth/authorize/", params=authorize_params(**overrides))
    assert page.status_code == 200
    return ConsentForm(page.text)


def consent(
    url: str,
    decision: str = "authorize",
    open_id: str = ALICE,
    untick: Iterable[str] = (),
    **overrides: str,
) -> requests.Response:
    """Show the consent page, then post what its form sends on ``decision``."""
    form = consent_form(url, **overrides)
    data = form.submission(untick, action=decision, open_id=open_id)
    return http_post(f"{url}/v2/auth/authorize/", data=data, allow_redirects=False)


def token(url: str, **form: str) -> requests.Response:
    return http_post(f"{url}/v2/oauth/token/", data=form)


def exchange(url: str, code: str, **overrides: str) -> requests.Response:
    form = {
        "client_key": KEY,
        "client_secret": SECRET,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    form.update(overrides)
    return token(url, **{k: v for k, v in form.items() if v is not None})


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def assert_oauth_error(response: requests.Response, error: str) -> None:
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert body["log_id"]
    assert "access_token" not in body


def assert_api_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert body["data"] == {}
    assert body["error"]["code"] == code
    assert body["error"]["log_id"]


# -- authorize --------------------------------------------------------------


def test_full_code_flow_with_hex_pkce(server: SandboxServer, sandbox: Sandbox) -> None:
    page = http_get(f"{server.url}/v2/auth/authorize/", params=authorize_params())
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "Sandbox Demo App" in page.text
    assert 'id="authorize"' in page.text
    assert 'id="cancel"' in page.text
    assert "SANDBOX — not TikTok" in page.text
    assert "Read your public videos on TikTok" in page.text

    answer = consent(server.url)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(REDIRECT + "?")
    callback = query_of(answer.headers["Location"])
    assert callback["scopes"] == "user.info.basic,video.list"
    assert callback["state"] == "state-123"

    response = exchange(server.url, callback["code"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert list(body) == [
        "access_token",
        "expires_in",
        "open_id",
        "refresh_expires_in",
        "refresh_token",
        "scope",
        "token_type",
    ]
    assert body["access_token"].startswith("act.")
    assert body["refresh_token"].startswith("rft.")
    assert body["expires_in"] == 86400
    assert body["refresh_expires_in"] == 31536000
    assert body["open_id"] == ALICE
    assert body["scope"] == "user.info.basic,video.list"
    assert body["token_type"] == "Bearer"

    (call,) = sandbox.calls_to("token")
    assert call.method == "POST"
    assert call.form["code"] == callback["code"]
    assert call.form["code_verifier"] == VERIFIER
    assert [c.endpoint for c in sandbox.calls] == ["authorize"] * 3 + ["token"]


def test_cancel_redirects_with_access_denied(server: SandboxServer) -> None:
    answer = consent(server.url, decision="cancel")
    assert answer.status_code == 302
    callback = query_of(answer.headers["Location"])
    assert callback["error"] == "access_denied"
    assert callback["error_description"]
    assert callback["state"] == "state-123"
    assert "code" not in callback


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "user.info.basic,user.info.everything"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_bad_authorize_request_redirects_with_error(
    client: FlaskClient, overrides: dict[str, str], error: str
) -> None:
    response = client.get(
        "/v2/auth/authorize/", query_string=authorize_params(**overrides)
    )
    assert response.status_code == 302
    callback = query_of(response.location)
    assert callback["error"] == error
    assert callback["state"] == "state-123"


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_key": "nobody"},
        {"redirect_uri": "https://evil.example/tiktok/callback"},
        {"redirect_uri": "http://127.0.0.1:5000/tiktok/callback/other"},
        {"redirect_uri": "http://127.0.0.1.evil.example/tiktok/callback"},
        {"redirect_uri": ""},
    ],
)
def test_unknown_client_or_redirect_uri_gets_a_page_not_a_redirect(
    client: FlaskClient, overrides: dict[str, str]
) -> None:
    response = client.get(
        "/v2/auth/authorize/", query_string=authorize_params(**overrides)
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"


def test_redirect_uri_rules() -> None:
    app = SandboxApp(
        redirect_uris=["https://app.example/cb", "http://127.0.0.1/tiktok/callback"]
    )
    assert app.allows_redirect_uri("https://app.example/cb")
    assert not app.allows_redirect_uri("https://app.example:8443/cb")
    assert not app.allows_redirect_uri("https://app.example/cb?x=1")
    assert app.allows_redirect_uri("http://127.0.0.1:53124/tiktok/callback")
    assert app.allows_redirect_uri("http://localhost:5000/tiktok/callback")
    assert app.allows_redirect_uri("http://[::1]:5000/tiktok/callback")
    assert not app.allows_redirect_uri("https://127.0.0.1:5000/tiktok/callback")
    assert not app.allows_redirect_uri("http://127.0.0.1:99999/tiktok/callback")
    assert not app.allows_redirect_uri("http://127.0.0.1:5000/tiktok/callback#x")


def test_consent_page_escapes_everything_from_the_request() -> None:
    evil = '"><script>alert(1)</script>'
    sandbox = Sandbox(
        apps=[SandboxApp(name=f"<b>App</b>{evil}")],
        users=[SandboxUser(open_id="u1", display_name=f"<i>{evil}")],
    )
    response = sandbox.wsgi_app.test_client().get(
        "/v2/auth/authorize/", query_string=authorize_params(state=evil)
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>" not in html
    assert "<b>App</b>" not in html
    assert "&lt;b&gt;App&lt;/b&gt;" in html
    assert 'value="&#34;&gt;&lt;script&gt;' in html


def test_auto_approve_skips_consent_unless_disabled(sandbox: Sandbox) -> None:
    sandbox.auto_approve_as = BOB
    client = sandbox.wsgi_app.test_client()
    response = client.get("/v2/auth/authorize/", query_string=authorize_params())
    assert response.status_code == 302
    code = query_of(response.location)["code"]
    assert sandbox.store.redeem_code(KEY, code, REDIRECT, VERIFIER)["open_id"] == BOB
    forced = client.get(
        "/v2/auth/authorize/", query_string=authorize_params(disable_auto_auth="1")
    )
    assert forced.status_code == 200


# -- choosing scopes on the consent page --------------------------------------


def test_consent_page_has_a_ticked_checkbox_per_requested_scope(
    server: SandboxServer,
) -> None:
    form = consent_form(server.url, scope=ALL_USER_SCOPES)
    assert form.checkboxes == [
        ("user.info.basic", True, True),  # required: ticked and disabled
        ("user.info.profile", True, False),
        ("user.info.stats", True, False),
        ("video.list", True, False),
    ]
    assert ("scope", ALL_USER_SCOPES) in form.hidden
    assert [name for name, _ in form.hidden].count("consent_signature") == 1


def test_unticked_scopes_are_left_out_of_the_code_callback_and_token(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    answer = consent(server.url, untick=["user.info.stats"], scope=ALL_USER_SCOPES)
    (decision,) = sandbox.calls_to("authorize", open_id=ALICE)
    assert decision.method == "POST"
    assert decision.form["scope"] == ALL_USER_SCOPES

    callback = query_of(answer.headers["Location"])
    assert callback["scopes"] == "user.info.basic,user.info.profile,video.list"
    body = exchange(server.url, callback["code"]).json()
    assert body["scope"] == "user.info.basic,user.info.profile,video.list"
    (authorization,) = sandbox.authorizations()
    assert authorization.scopes == (
        "user.info.basic",
        "user.info.profile",
        "video.list",
    )

    access = bearer(body["access_token"])
    info = http_get(
        f"{server.url}/v2/user/info/",
        params={"fields": "open_id,username"},
        headers=access,
    )
    assert info.json()["data"]["user"] == {
        "open_id": ALICE,
        "username": "alice.sandbox",
    }
    refused = http_get(
        f"{server.url}/v2/user/info/",
        params={"fields": "open_id,follower_count"},
        headers=access,
    )
    assert_api_error(refused, 401, "scope_not_authorized")
    assert "user.info.stats" in refused.json()["error"]["message"]
    videos = http_post(
        f"{server.url}/v2/video/list/", params={"fields": "id"}, headers=access
    )
    assert videos.json()["error"]["code"] == "ok"


def test_an_unticked_video_list_is_refused_by_the_video_endpoints(
    server: SandboxServer,
) -> None:
    answer = consent(server.url, untick=["video.list"])
    callback = query_of(answer.headers["Location"])
    assert callback["scopes"] == "user.info.basic"
    body = exchange(server.url, callback["code"]).json()
    assert body["scope"] == "user.info.basic"
    access = bearer(body["access_token"])
    listed = http_post(
        f"{server.url}/v2/video/list/", params={"fields": "id"}, headers=access
    )
    assert_api_error(listed, 401, "scope_not_authorized")
    queried = http_post(
        f"{server.url}/v2/video/query/",
        params={"fields": "id"},
        json={"filters": {"video_ids": ["1"]}},
        headers=access,
    )
    assert_api_error(queried, 401, "scope_not_authorized")


def test_user_info_basic_is_granted_even_if_the_form_leaves_it_out(
    server: SandboxServer,
) -> None:
    form = consent_form(server.url, scope=ALL_USER_SCOPES)
    data = [(name, value) for name, value in form.hidden if name != "granted_scope"] + [
        ("action", "authorize"),
        ("open_id", ALICE),
    ]
    answer = http_post(
        f"{server.url}/v2/auth/authorize/", data=data, allow_redirects=False
    )
    assert query_of(answer.headers["Location"])["scopes"] == "user.info.basic"


def test_unticking_every_scope_asks_again(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    answer = consent(server.url, untick=["video.list"], scope="video.list")
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert "Allow at least one permission, or Cancel." in answer.text
    assert ConsentForm(answer.text).checkboxes == [("video.list", True, False)]
    assert sandbox.authorizations() == []


def test_no_account_chosen_shows_the_page_again(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    answer = consent(server.url, open_id="")
    assert answer.status_code == 400
    assert "Choose an account." in answer.text
    again = ConsentForm(answer.text)
    assert [name for name, *_ in again.checkboxes] == ["user.info.basic", "video.list"]
    assert sandbox.authorizations() == []


def refused_submission(url: str, data: Any) -> str:
    """POST a consent form to the sandbox: it answers with a 400 page, no
    redirect; return the page."""
    answer = http_post(f"{url}/v2/auth/authorize/", data=data, allow_redirects=False)
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    return answer.text


def test_a_form_granting_a_scope_that_was_not_requested_is_refused(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    form = consent_form(server.url)  # user.info.basic,video.list
    data = form.submission(action="authorize", open_id=ALICE)
    added = refused_submission(
        server.url, [*data, ("granted_scope", "user.info.stats")]
    )
    assert "grants a scope the app did not ask for" in added
    assert "user.info.stats" in added

    # Widening the request itself breaks the page's signature.
    widened = [
        (name, f"{value},user.info.stats" if name == "scope" else value)
        for name, value in data
    ]
    changed = refused_submission(
        server.url, [*widened, ("granted_scope", "user.info.stats")]
    )
    assert "consent form was changed" in changed

    refused_submission(
        server.url, {**authorize_params(), "action": "authorize", "open_id": ALICE}
    )
    assert sandbox.authorizations() == []
    assert sandbox.store._codes == {}


def test_auto_approve_can_decline_scopes(sandbox: Sandbox) -> None:
    sandbox.auto_approve_as = BOB
    sandbox.auto_decline_scopes = {"video.list", "user.info.basic"}
    client = sandbox.wsgi_app.test_client()
    response = client.get("/v2/auth/authorize/", query_string=authorize_params())
    callback = query_of(response.location)
    assert callback["scopes"] == "user.info.basic"  # required, so never declined
    body = sandbox.store.redeem_code(KEY, callback["code"], REDIRECT, VERIFIER)
    assert body["scope"] == "user.info.basic"

    nothing = client.get(
        "/v2/auth/authorize/", query_string=authorize_params(scope="video.list")
    )
    assert query_of(nothing.location)["error"] == "access_denied"


def test_programmatic_grants_take_a_subset(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    sandbox_made = Sandbox(auto_approve_as=ALICE, auto_decline_scopes=["video.list"])
    assert sandbox_made.auto_decline_scopes == {"video.list"}
    code = sandbox.issue_code(KEY, ALICE, ["user.info.basic"], REDIRECT)
    assert exchange(server.url, code, code_verifier="").json()["scope"] == (
        "user.info.basic"
    )
    assert sandbox.authorize(KEY, BOB, "user.info.stats")["scope"] == "user.info.stats"


# -- token --------------------------------------------------------------------


def test_wrong_verifier_is_refused(server: SandboxServer) -> None:
    code = query_of(consent(server.url).headers["Location"])["code"]
    response = exchange(server.url, code, code_verifier="w" * 43)
    assert_oauth_error(response, "invalid_grant")
    assert exchange(server.url, code).status_code == 200


def test_base64url_challenge_is_refused_by_default_and_accepted_when_asked() -> None:
    import base64

    digest = hashlib.sha256(VERIFIER.encode()).digest()
    b64 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    strict = Sandbox()
    code = strict.issue_code(KEY, ALICE, ["user.info.basic"], REDIRECT, b64)
    with pytest.raises(Exception, match="code_verifier does not match"):
        strict.store.redeem_code(KEY, code, REDIRECT, VERIFIER)
    lenient = Sandbox(pkce="any")
    code = lenient.issue_code(KEY, ALICE, ["user.info.basic"], REDIRECT, b64)
    assert lenient.store.redeem_code(KEY, code, REDIRECT, VERIFIER)["open_id"] == ALICE


def test_missing_verifier_is_refused(server: SandboxServer) -> None:
    code = query_of(consent(server.url).headers["Location"])["code"]
    assert_oauth_error(exchange(server.url, code, code_verifier=""), "invalid_request")


def test_reused_code_is_refused_and_revokes_its_tokens(server: SandboxServer) -> None:
    code = query_of(consent(server.url).headers["Location"])["code"]
    first = exchange(server.url, code).json()
    assert_oauth_error(exchange(server.url, code), "invalid_grant")
    user_info = http_get(
        f"{server.url}/v2/user/info/?fields=open_id",
        headers=bearer(first["access_token"]),
    )
    assert_api_error(user_info, 401, "access_token_invalid")


def test_expired_code_is_refused(server: SandboxServer, clock: FakeClock) -> None:
    code = query_of(consent(server.url).headers["Location"])["code"]
    clock.now += 601
    assert_oauth_error(exchange(server.url, code), "invalid_grant")


def test_code_is_bound_to_redirect_uri_and_client(server: SandboxServer) -> None:
    code = query_of(consent(server.url).headers["Location"])["code"]
    wrong_uri = exchange(server.url, code, redirect_uri="http://127.0.0.1:5001/x")
    assert_oauth_error(wrong_uri, "invalid_grant")
    other_app = Sandbox(apps=[SandboxApp(), SandboxApp(client_key="k2")])
    code = other_app.issue_code(KEY, ALICE, "user.info.basic", REDIRECT, challenge())
    with pytest.raises(Exception, match="invalid"):
        other_app.store.redeem_code("k2", code, REDIRECT, VERIFIER)
    assert other_app.store.redeem_code(KEY, code, REDIRECT, VERIFIER)["open_id"]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_id": KEY, "client_secret": SECRET}, "invalid_client"),
        ({"client_key": KEY}, "invalid_client"),
        ({"client_key": KEY, "client_secret": "wrong"}, "invalid_client"),
        ({"client_key": "nobody", "client_secret": SECRET}, "invalid_client"),
    ],
)
def test_client_authentication(
    server: SandboxServer, form: dict[str, str], error: str
) -> None:
    code = query_of(consent(server.url).headers["Location"])["code"]
    body = {
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
        **form,
    }
    response = token(server.url, **body)
    assert response.status_code == 401
    assert_oauth_error(response, error)


def test_http_basic_auth_is_no_substitute_for_form_credentials(
    server: SandboxServer,
) -> None:
    code = query_of(consent(server.url).headers["Location"])["code"]
    response = http_post(
        f"{server.url}/v2/oauth/token/",
        data={
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
        auth=(KEY, SECRET),
    )
    assert_oauth_error(response, "invalid_client")


def test_json_token_request_is_refused(server: SandboxServer) -> None:
    response = http_post(
        f"{server.url}/v2/oauth/token/",
        json={"client_key": KEY, "client_secret": SECRET, "grant_type": "x"},
    )
    assert_oauth_error(response, "invalid_request")


def test_unknown_grant_type(server: SandboxServer) -> None:
    response = token(server.url, client_key=KEY, client_secret=SECRET, grant_type="pw")
    assert_oauth_error(response, "unsupported_grant_type")


def test_refresh_rotates_the_refresh_token(server: SandboxServer) -> None:
    code = query_of(consent(server.url).headers["Location"])["code"]
    tokens = exchange(server.url, code).json()
    form = {"client_key": KEY, "client_secret": SECRET, "grant_type": "refresh_token"}
    rotated = token(server.url, **form, refresh_token=tokens["refresh_token"]).json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]
    assert rotated["scope"] == tokens["scope"]
    assert rotated["open_id"] == ALICE
    stale = token(server.url, **form, refresh_token=tokens["refresh_token"])
    assert_oauth_error(stale, "invalid_grant")
    again = token(server.url, **form, refresh_token=rotated["refresh_token"])
    assert again.status_code == 200
    other_client = token(
        server.url,
        **{**form, "client_key": "nobody"},
        refresh_token=again.json()["refresh_token"],
    )
    assert_oauth_error(other_client, "invalid_client")


def test_expired_access_token_is_refused_until_refreshed(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    tokens = sandbox.authorize(KEY, ALICE, ["user.info.basic"])
    url = f"{server.url}/v2/user/info/?fields=open_id"
    assert http_get(url, headers=bearer(tokens["access_token"])).status_code == 200
    sandbox.expire_all_access_tokens()
    stale = http_get(url, headers=bearer(tokens["access_token"]))
    assert_api_error(stale, 401, "access_token_invalid")
    refreshed = token(
        server.url,
        client_key=KEY,
        client_secret=SECRET,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    ).json()
    fresh = http_get(url, headers=bearer(refreshed["access_token"]))
    assert fresh.json()["data"]["user"] == {"open_id": ALICE}
    sandbox.expire_access_token(refreshed["access_token"])
    expired = http_get(url, headers=bearer(refreshed["access_token"]))
    assert_api_error(expired, 401, "access_token_invalid")


def test_client_credentials(server: SandboxServer) -> None:
    body = token(
        server.url,
        client_key=KEY,
        client_secret=SECRET,
        grant_type="client_credentials",
    ).json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["expires_in"] == 7200
    info = http_get(
        f"{server.url}/v2/user/info/?fields=open_id",
        headers=bearer(body["access_token"]),
    )
    assert_api_error(info, 401, "access_token_invalid")


def test_revoke_kills_access_and_refresh_tokens(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    tokens = sandbox.authorize(KEY, ALICE, ["user.info.basic"])
    bad = http_post(
        f"{server.url}/v2/oauth/revoke/",
        data={
            "client_key": KEY,
            "client_secret": "no",
            "token": tokens["access_token"],
        },
    )
    assert_oauth_error(bad, "invalid_client")
    response = http_post(
        f"{server.url}/v2/oauth/revoke/",
        data={
            "client_key": KEY,
            "client_secret": SECRET,
            "token": tokens["access_token"],
        },
    )
    assert response.status_code == 200
    assert response.json() == {}
    info = http_get(
        f"{server.url}/v2/user/info/?fields=open_id",
        headers=bearer(tokens["access_token"]),
    )
    assert_api_error(info, 401, "access_token_invalid")
    refresh = token(
        server.url,
        client_key=KEY,
        client_secret=SECRET,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert_oauth_error(refresh, "invalid_grant")
    assert sandbox.authorizations() == []


# -- user info --------------------------------------------------------------


def test_user_info_returns_only_the_asked_fields(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    tokens = sandbox.authorize(KEY, BOB, ALL_USER_SCOPES)
    response = http_get(
        f"{server.url}/v2/user/info/",
        params={"fields": "open_id,display_name,avatar_url_100,follower_count"},
        headers=bearer(tokens["access_token"]),
    )
    body = response.json()
    assert body["error"]["code"] == "ok"
    assert body["error"]["message"] == ""
    assert body["data"]["user"] == {
        "open_id": BOB,
        "display_name": "Bob Sandbox <test>",
        "avatar_url_100": f"{server.url}/static/avatar/{BOB}.svg?size=100",
        "follower_count": 42,
    }
    avatar = http_get(body["data"]["user"]["avatar_url_100"])
    assert avatar.headers["Content-Type"].startswith("image/svg+xml")
    assert avatar.text.startswith("<svg")


@pytest.mark.parametrize(
    ("scopes", "fields", "status", "code"),
    [
        ("user.info.basic", "open_id,bio_description", 401, "scope_not_authorized"),
        ("user.info.basic", "likes_count", 401, "scope_not_authorized"),
        ("user.info.basic", "open_id,email", 400, "invalid_params"),
        ("user.info.basic", "", 400, "invalid_params"),
    ],
)
def test_user_info_field_checks(
    server: SandboxServer,
    sandbox: Sandbox,
    scopes: str,
    fields: str,
    status: int,
    code: str,
) -> None:
    tokens = sandbox.authorize(KEY, ALICE, scopes)
    response = http_get(
        f"{server.url}/v2/user/info/",
        params={"fields": fields},
        headers=bearer(tokens["access_token"]),
    )
    assert_api_error(response, status, code)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer act.nope"}, {"Authorization": "Basic eDp5"}],
)
def test_user_info_without_a_valid_token(
    server: SandboxServer, headers: dict[str, str]
) -> None:
    response = http_get(f"{server.url}/v2/user/info/?fields=open_id", headers=headers)
    assert_api_error(response, 401, "access_token_invalid")


def test_missing_trailing_slash_is_not_routed(server: SandboxServer) -> None:
    for method, path in [
        ("POST", "/v2/oauth/token"),
        ("POST", "/v2/oauth/revoke"),
        ("GET", "/v2/user/info"),
        ("GET", "/v2/auth/authorize"),
        ("POST", "/v2/video/list"),
    ]:
        response = http_request(method, server.url + path, allow_redirects=False)
        assert response.status_code == 404, path
        assert response.text == "Unsupported path(Janus)"


# -- videos -------------------------------------------------------------------


def list_page(
    url: str, access_token: str, fields: str = "id,create_time", **body: Any
) -> requests.Response:
    return http_post(
        f"{url}/v2/video/list/",
        params={"fields": fields},
        json=body,
        headers=bearer(access_token),
    )


def test_video_list_pages_with_short_pages_until_has_more_is_false(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    access = sandbox.authorize(KEY, ALICE, "user.info.basic,video.list")["access_token"]
    seen: list[dict[str, Any]] = []
    sizes: list[tuple[int, bool]] = []
    cursor: int | None = None
    while True:
        body: dict[str, Any] = {"max_count": 10}
        if cursor is not None:
            body["cursor"] = cursor
        data = list_page(server.url, access, **body).json()["data"]
        sizes.append((len(data["videos"]), data["has_more"]))
        seen += data["videos"]
        cursor = data["cursor"]
        assert cursor == data["videos"][-1]["create_time"] * 1000
        if not data["has_more"]:
            break
    expected = sorted(
        sandbox.users[0].videos, key=lambda video: video.create_time, reverse=True
    )
    assert [video["id"] for video in seen] == [video.id for video in expected]
    assert any(size < 10 and more for size, more in sizes), sizes
    assert sizes[0] == (10, True)


def test_video_list_full_pages_when_short_pages_are_off() -> None:
    videos = [SandboxVideo(id=str(n), create_time=1_700_000_000 + n) for n in range(25)]
    sandbox = Sandbox(
        users=[SandboxUser(open_id="u", videos=videos)], short_pages=False
    )
    access = sandbox.authorize(KEY, "u", "video.list")["access_token"]
    with sandbox.serve() as server:
        first = list_page(server.url, access, max_count=20).json()["data"]
        second = list_page(
            server.url, access, max_count=20, cursor=first["cursor"]
        ).json()["data"]
        fields = list_page(server.url, access, fields="id,title,cover_image_url")
    assert [len(first["videos"]), first["has_more"]] == [20, True]
    assert [len(second["videos"]), second["has_more"]] == [5, False]
    assert first["videos"][0] == {"id": "24", "create_time": 1_700_000_024}
    assert set(fields.json()["data"]["videos"][0]) == {"id", "title", "cover_image_url"}


@pytest.mark.parametrize(
    ("scopes", "body", "fields", "status", "code"),
    [
        ("user.info.basic", {}, "id", 401, "scope_not_authorized"),
        ("video.list", {"max_count": 21}, "id", 400, "invalid_params"),
        ("video.list", {"max_count": 0}, "id", 400, "invalid_params"),
        ("video.list", {"cursor": "abc"}, "id", 400, "invalid_params"),
        ("video.list", {}, "id,nope", 400, "invalid_params"),
        ("video.list", {}, "", 400, "invalid_params"),
    ],
)
def test_video_list_checks(
    server: SandboxServer,
    sandbox: Sandbox,
    scopes: str,
    body: dict[str, Any],
    fields: str,
    status: int,
    code: str,
) -> None:
    access = sandbox.authorize(KEY, ALICE, scopes)["access_token"]
    assert_api_error(list_page(server.url, access, fields, **body), status, code)


def test_video_query(server: SandboxServer, sandbox: Sandbox) -> None:
    access = sandbox.authorize(KEY, ALICE, "video.list")["access_token"]
    alice_ids = [video.id for video in sandbox.users[0].videos[:3]]
    bob_id = sandbox.users[1].videos[0].id

    def query(ids: list[Any], fields: str = "id,title") -> requests.Response:
        return http_post(
            f"{server.url}/v2/video/query/",
            params={"fields": fields},
            json={"filters": {"video_ids": ids}},
            headers=bearer(access),
        )

    body = query([*alice_ids, bob_id, "404"]).json()
    assert body["error"]["code"] == "ok"
    assert [video["id"] for video in body["data"]["videos"]] == alice_ids
    assert set(body["data"]["videos"][0]) == {"id", "title"}
    assert_api_error(query([str(n) for n in range(21)]), 400, "invalid_params")
    assert_api_error(query([]), 400, "invalid_params")
    assert_api_error(query([123]), 400, "invalid_params")
    assert_api_error(query(alice_ids, "id,bogus"), 400, "invalid_params")


# -- faults -------------------------------------------------------------------


def user_info(url: str, access: str) -> requests.Response:
    return http_get(f"{url}/v2/user/info/?fields=open_id", headers=bearer(access))


def test_api_faults(server: SandboxServer, sandbox: Sandbox) -> None:
    access = sandbox.authorize(KEY, ALICE, "user.info.basic")["access_token"]
    sandbox.inject_fault("user_info", "rate_limit", retry_after=3)
    sandbox.inject_fault("user_info", "server_error")
    sandbox.inject_fault("user_info", "html_502", times=2)
    sandbox.inject_fault("user_info", "error_200")

    limited = user_info(server.url, access)
    assert_api_error(limited, 429, "rate_limit_exceeded")
    assert limited.headers["Retry-After"] == "3"
    assert_api_error(user_info(server.url, access), 500, "internal_error")
    for _ in range(2):
        gateway = user_info(server.url, access)
        assert gateway.status_code == 502
        assert gateway.headers["Content-Type"].startswith("text/html")
        assert "<html>" in gateway.text
    assert_api_error(user_info(server.url, access), 200, "invalid_request")
    assert user_info(server.url, access).json()["error"]["code"] == "ok"
    assert len(sandbox.calls_to("user_info")) == 6


@pytest.mark.parametrize(
    ("kind", "status", "expected_status"),
    [
        ("error_200", None, 200),
        ("error_400", None, 400),
        ("error_400", 401, 401),
        ("server_error", None, 500),
        ("rate_limit", None, 429),
    ],
)
def test_token_faults_use_the_oauth_error_shape(
    server: SandboxServer,
    sandbox: Sandbox,
    kind: Any,
    status: int | None,
    expected_status: int,
) -> None:
    sandbox.inject_fault("token", kind, status=status)
    response = token(
        server.url,
        client_key=KEY,
        client_secret=SECRET,
        grant_type="client_credentials",
    )
    assert response.status_code == expected_status
    assert "error" in response.json()
    assert "access_token" not in response.json()


def test_slow_fault_delays_then_answers(
    server: SandboxServer, sandbox: Sandbox
) -> None:
    sandbox.inject_fault("revoke", "slow", delay=0.3)
    started = time.monotonic()
    response = http_post(
        f"{server.url}/v2/oauth/revoke/",
        data={"client_key": KEY, "client_secret": SECRET, "token": "act.x"},
    )
    assert time.monotonic() - started >= 0.3
    assert response.json() == {}
    with pytest.raises(requests.Timeout):
        sandbox.inject_fault("revoke", "slow", delay=0.5)
        http_post(f"{server.url}/v2/oauth/revoke/", data={}, timeout=0.1)


def test_inject_fault_rejects_unknown_names(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="Unknown endpoint"):
        sandbox.inject_fault("userinfo", "slow")
    with pytest.raises(ValueError, match="Unknown fault kind"):
        sandbox.inject_fault("token", "boom")  # type: ignore[arg-type]


def test_reset_forgets_state(sandbox: Sandbox, client: FlaskClient) -> None:
    tokens = sandbox.authorize(KEY, ALICE, "user.info.basic")
    sandbox.inject_fault("token", "server_error")
    client.get("/v2/auth/authorize/", query_string=authorize_params())
    sandbox.reset()
    assert sandbox.calls == []
    assert sandbox.authorizations() == []
    assert sandbox.store.access_token(tokens["access_token"]) is None
    response = client.post(
        "/v2/oauth/token/",
        data={"client_key": KEY, "client_secret": SECRET, "grant_type": "x"},
    )
    assert response.json is not None
    assert response.json["error"] == "unsupported_grant_type"


def test_calls_to_filters_on_parameters(sandbox: Sandbox, client: FlaskClient) -> None:
    for grant_type in ("client_credentials", "refresh_token", "client_credentials"):
        client.post(
            "/v2/oauth/token/",
            data={"client_key": KEY, "client_secret": SECRET, "grant_type": grant_type},
        )
    assert len(sandbox.calls_to("token", grant_type="client_credentials")) == 2
    (call,) = sandbox.calls_to("token", grant_type="refresh_token")
    assert call.form["client_secret"] == SECRET
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"


# -- webhooks and the home page ----------------------------------------------


class Receiver:
    """A loopback HTTP server that keeps what it is sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.port}/tiktok/webhook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}
        )

    def _app(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        self.requests.append((dict(request.headers), request.get_data()))
        return Response("ok")(environ, start_response)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def verify(secret: str, header: str, body: bytes) -> int:
    parts = dict(part.split("=", 1) for part in header.split(","))
    signed = parts["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["s"])
    return int(parts["t"])


def test_send_webhook_is_signed_like_tiktok(sandbox: Sandbox) -> None:
    with Receiver() as receiver:
        response = sandbox.send_webhook(
            "post.publish.complete",
            ALICE,
            {"publish_id": "p_1"},
            url=receiver.url,
            timestamp=1_700_000_123,
        )
    assert response.status_code == 200
    ((headers, raw),) = receiver.requests
    assert verify(SECRET, headers["Tiktok-Signature"], raw) == 1_700_000_123
    body = json.loads(raw)
    assert body == {
        "client_key": KEY,
        "event": "post.publish.complete",
        "create_time": 1_700_000_123,
        "user_openid": ALICE,
        "content": '{"publish_id": "p_1"}',
    }
    assert headers["Content-Type"] == "application/json"


def test_send_webhook_needs_a_url(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="webhook_url"):
        sandbox.send_webhook("authorization.removed", ALICE, {"reason": 1})


def test_home_page_disconnect_revokes_and_sends_authorization_removed(
    clock: FakeClock,
) -> None:
    with Receiver() as receiver:
        sandbox = Sandbox(apps=[SandboxApp(webhook_url=receiver.url)], clock=clock)
        tokens = sandbox.authorize(KEY, BOB, "user.info.basic,video.list")
        with sandbox.serve() as server:
            home = http_get(server.url + "/")
            assert "Disconnect this app" in home.text
            assert "Bob Sandbox &lt;test&gt;" in home.text
            answer = http_post(
                f"{server.url}/sandbox/disconnect",
                data={"client_key": KEY, "open_id": BOB},
            )
            assert answer.status_code == 200
            assert "Webhook answered 200" in answer.text
            assert "Disconnect this app" not in answer.text
            info = user_info(server.url, tokens["access_token"])
    assert_api_error(info, 401, "access_token_invalid")
    ((headers, raw),) = receiver.requests
    assert verify(SECRET, headers["Tiktok-Signature"], raw) == int(clock.now)
    body = json.loads(raw)
    assert body["event"] == "authorization.removed"
    assert body["user_openid"] == BOB
    assert json.loads(body["content"]) == {"reason": 1}


# -- mounting, serving, command line ----------------------------------------


def test_mounted_under_a_prefix_builds_urls_with_it(sandbox: Sandbox) -> None:
    mounted = DispatcherMiddleware(Response("app", 200), {"/tiktok-sandbox": sandbox})
    client = Client(mounted)
    page = client.get(
        "/tiktok-sandbox/v2/auth/authorize/", query_string=authorize_params()
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'action="/tiktok-sandbox/v2/auth/authorize/"' in html
    access = sandbox.authorize(KEY, ALICE, "user.info.basic")["access_token"]
    info = client.get(
        "/tiktok-sandbox/v2/user/info/?fields=avatar_url", headers=bearer(access)
    )
    assert info.json is not None
    avatar = info.json["data"]["user"]["avatar_url"]
    assert avatar == f"http://localhost/tiktok-sandbox/static/avatar/{ALICE}.svg"


def test_config_for_points_every_url_at_the_sandbox(sandbox: Sandbox) -> None:
    config = sandbox.config_for("http://127.0.0.1:9/")
    assert config == {
        "TIKTOK_CLIENT_KEY": KEY,
        "TIKTOK_CLIENT_SECRET": SECRET,
        "TIKTOK_AUTHORIZATION_URL": "http://127.0.0.1:9/v2/auth/authorize/",
        "TIKTOK_TOKEN_URL": "http://127.0.0.1:9/v2/oauth/token/",
        "TIKTOK_REVOKE_URL": "http://127.0.0.1:9/v2/oauth/revoke/",
        "TIKTOK_API_BASE_URL": "http://127.0.0.1:9/v2/",
    }


def test_issue_code_validates_its_arguments(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="client_key"):
        sandbox.issue_code("nobody", ALICE, ["user.info.basic"], REDIRECT)
    with pytest.raises(ValueError, match="open_id"):
        sandbox.issue_code(KEY, "nobody", ["user.info.basic"], REDIRECT)
    with pytest.raises(ValueError, match="Unknown scope"):
        sandbox.issue_code(KEY, ALICE, ["user.info.all"], REDIRECT)
    with pytest.raises(ValueError, match="not registered"):
        sandbox.issue_code(KEY, ALICE, ["user.info.basic"], "https://evil.example/")


def test_default_sandbox_has_demo_users_with_videos() -> None:
    sandbox = Sandbox()
    assert [app.client_key for app in sandbox.apps] == [KEY]
    assert [user.open_id for user in sandbox.users] == [
        ALICE,
        BOB,
        "sandbox-open-id-carol",
    ]
    for user in sandbox.users:
        assert len(user.videos) >= (45 if user.open_id in (ALICE, BOB) else 10)
        times = [video.create_time for video in user.videos]
        assert len(set(times)) == len(times)


def test_server_shuts_down_and_frees_the_port(sandbox: Sandbox) -> None:
    server = sandbox.serve()
    assert http_get(server.url + "/").status_code == 200
    server.shutdown()
    server.shutdown()
    with pytest.raises(requests.ConnectionError):
        http_get(server.url + "/", timeout=2)


def test_command_line_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flask_tiktok.sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--port" in result.stdout
    assert "--host" in result.stdout
    assert "--verified-url-prefix" in result.stdout


def test_python_m_sandbox_serves_until_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m flask_tiktok.sandbox``: prints what a client needs, serves it
    (here: an auto-approved authorize request answered over loopback) and
    stops cleanly on Ctrl+C."""
    from types import SimpleNamespace
    from urllib.parse import parse_qs, urlsplit

    import requests

    from flask_tiktok.sandbox import __main__ as cli

    answers: list[requests.Response] = []

    class CtrlC:
        """Stands in for the wait: make one request, then press Ctrl+C."""

        def wait(self) -> None:
            printed = capsys.readouterr().out
            url = next(
                line.split(" = ")[1]
                for line in printed.splitlines()
                if "TIKTOK_AUTHORIZATION_URL" in line
            )
            answers.append(
                requests.get(
                    url,
                    params={
                        "client_key": "sandbox-client-key",
                        "scope": "user.info.basic",
                        "response_type": "code",
                        "redirect_uri": "http://127.0.0.1:5000/tiktok/callback",
                        "state": "s" * 32,
                        "code_challenge": "a" * 64,
                        "code_challenge_method": "S256",
                    },
                    allow_redirects=False,
                    timeout=5,
                )
            )
            print(printed, end="")
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "threading", SimpleNamespace(Event=CtrlC))
    code = cli.main(["--port", "0", "--auto-approve-as", "sandbox-open-id-alice"])

    assert code == 0
    out = capsys.readouterr().out
    assert "TikTok sandbox (NOT TikTok) on http://127.0.0.1:" in out
    assert "TIKTOK_CLIENT_KEY = sandbox-client-key" in out
    assert "user sandbox-open-id-alice (Alice Sandbox)" in out
    assert "Press Ctrl+C to stop." in out
    (answer,) = answers
    assert answer.status_code == 302
    callback = urlsplit(answer.headers["Location"])
    assert callback.path == "/tiktok/callback"
    assert parse_qs(callback.query)["state"] == ["s" * 32]
    assert "code" in parse_qs(callback.query)


def run_sandbox_main(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    """``python -m flask_tiktok.sandbox ARGS``, stopped at once (Ctrl+C)."""
    from types import SimpleNamespace

    from flask_tiktok.sandbox import __main__ as cli

    class CtrlC:
        def wait(self) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "threading", SimpleNamespace(Event=CtrlC))
    assert cli.main(args) == 0


def test_python_m_sandbox_env_prints_settings_alone_on_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--env``: stdout is ``FLASK_TIKTOK_...=value`` lines (shell-quoted,
    the names ``app.config.from_prefixed_env()`` reads) and nothing else, so
    ``> .env`` keeps them; the prose goes to stderr."""
    import shlex

    from flask import Flask

    run_sandbox_main(monkeypatch, ["--port", "0", "--env"])
    printed = capsys.readouterr()
    for line in printed.out.splitlines():
        name, value = shlex.split(line)[0].split("=", 1)
        monkeypatch.setenv(name, value)
    app = Flask(__name__)
    app.config.from_prefixed_env()
    settings = {k: v for k, v in app.config.items() if k.startswith("TIKTOK_")}
    base = settings["TIKTOK_API_BASE_URL"].removesuffix("/v2/")
    assert settings == Sandbox().config_for(base)
    assert "TikTok sandbox (NOT TikTok) on" in printed.err
    assert "user sandbox-open-id-alice (Alice Sandbox)" in printed.err


@pytest.mark.parametrize(
    ("host", "warned"),
    [("0.0.0.0", True), ("127.0.0.1", False), ("localhost", False)],  # noqa: S104
)
def test_python_m_sandbox_warns_loudly_beyond_loopback(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    host: str,
    warned: bool,
) -> None:
    run_sandbox_main(monkeypatch, ["--host", host, "--port", "0"])
    err = capsys.readouterr().err
    assert ("WARNING: the sandbox listens beyond loopback" in err) is warned
    assert ("log in as its users" in err) is warned


def test_a_non_ascii_consent_signature_is_refused_not_a_500() -> None:
    """A consent signature that is not ASCII (on which hmac.compare_digest
    raises TypeError) is a bad request: a 400 page, no redirect with a code."""
    sandbox = Sandbox()
    app = sandbox.apps[0]
    client = sandbox.wsgi_app.test_client()
    response = client.post(
        "/v2/auth/authorize/",
        data={
            "client_key": app.client_key,
            "scope": "user.info.basic",
            "response_type": "code",
            "redirect_uri": "http://127.0.0.1:5000/tiktok/callback",
            "state": "s",
            "code_challenge": "c" * 64,
            "code_challenge_method": "S256",
            "consent_signature": "\u00e9" * 64,
            "action": "authorize",
        },
    )
    assert response.status_code == 400
    assert "Location" not in response.headers  # no code goes back to the app
