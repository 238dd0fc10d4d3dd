"""The pytest plugin (``flask_tiktok.testing``) used as an app's own tests would.

The login flow also runs end to end against the sandbox here: the client and the
sandbox share no code, so this is the core checked against a second, independent
reading of TikTok's wire format (the requests-mock tests are the first).
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask, get_flashed_messages, render_template_string

from flask_tiktok import TikTok, current_tiktok_user, signals, tiktok_login_required
from flask_tiktok.sandbox import Sandbox, SandboxApp
from flask_tiktok.testing import LiveSandbox, login_as, sandbox_config

pytest_plugins = ["pytester"]

ALICE = "sandbox-open-id-alice"
BOB = "sandbox-open-id-bob"

#: A test of a user's own, run by pytester with the plugin loaded.
USER_TEST = """
from flask import Flask
from flask_tiktok import TikTok, current_tiktok_user
from flask_tiktok.testing import login_as

def test_user_app(tiktok_sandbox, tiktok_sandbox_config):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="user-secret-key", **tiktok_sandbox_config)
    TikTok(app)
    app.get("/")(lambda: str(current_tiktok_user.display_name))
    client = app.test_client()
    login_as(client, tiktok_sandbox, "sandbox-open-id-bob")
    assert client.get("/").get_data(as_text=True) == "Bob Sandbox <test>"
"""


def make_app(config: dict[str, Any]) -> Flask:
    """A user's app: a home page, a profile page and a page calling the API."""
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="plugin-test-secret-key-0123")
    app.config.update(config)
    tiktok = TikTok(app)

    @app.get("/")
    def home() -> str:
        return render_template_string(
            "{% for m in get_flashed_messages() %}<p>{{ m }}</p>{% endfor %}"
            "{% if current_tiktok_user.is_authenticated %}"
            "Hello {{ current_tiktok_user.display_name }}"
            "{% else %}Anonymous{% endif %}",
            get_flashed_messages=get_flashed_messages,
        )

    @app.get("/profile")
    @tiktok_login_required
    def profile() -> str:
        return render_template_string(
            "<img src='{{ current_tiktok_user.avatar_url }}'>"
            "<h1>{{ current_tiktok_user.display_name }}</h1>"
        )

    @app.get("/followers")
    @tiktok_login_required
    def followers() -> dict[str, Any]:
        data = tiktok.api.call(
            "GET", "user/info/", params={"fields": "open_id,display_name"}
        )
        user: dict[str, Any] = data["user"]
        return user

    @app.get("/videos")
    @tiktok_login_required(scopes=["video.list"])
    def videos() -> dict[str, Any]:
        return {"videos": tiktok.videos(["id", "title"], limit=25)}

    return app


@pytest.fixture
def app(tiktok_sandbox_config: dict[str, Any]) -> Flask:
    return make_app(tiktok_sandbox_config)


def test_fixtures_serve_a_sandbox_and_point_the_config_at_it(
    tiktok_sandbox: LiveSandbox, tiktok_sandbox_config: dict[str, Any]
) -> None:
    assert isinstance(tiktok_sandbox, Sandbox)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", tiktok_sandbox.url)
    base = tiktok_sandbox.url
    assert tiktok_sandbox_config == {
        "TIKTOK_CLIENT_KEY": "sandbox-client-key",
        "TIKTOK_CLIENT_SECRET": "sandbox-client-secret",
        "TIKTOK_AUTHORIZATION_URL": f"{base}/v2/auth/authorize/",
        "TIKTOK_TOKEN_URL": f"{base}/v2/oauth/token/",
        "TIKTOK_REVOKE_URL": f"{base}/v2/oauth/revoke/",
        "TIKTOK_API_BASE_URL": f"{base}/v2/",
    }
    assert tiktok_sandbox_config == sandbox_config(
        base + "/", "sandbox-client-key", "sandbox-client-secret"
    )
    assert requests.get(f"{base}/", timeout=5).status_code == 200


def test_login_as_runs_the_real_callback_and_sends_tiktoks_wire_format(
    app: Flask, tiktok_sandbox: LiveSandbox
) -> None:
    client = app.test_client()
    response = login_as(client, tiktok_sandbox, ALICE, next_url="/profile")

    assert response.status_code == 302
    assert response.location == "/profile"
    page = client.get("/profile")
    assert page.status_code == 200
    assert "<h1>Alice Sandbox</h1>" in page.get_data(as_text=True)
    # A login makes exactly two calls: the code exchange and the profile fetch.
    assert [c.endpoint for c in tiktok_sandbox.calls] == ["token", "user_info"]
    (exchange,) = tiktok_sandbox.calls_to("token", grant_type="authorization_code")
    assert exchange.form["client_key"] == "sandbox-client-key"
    assert exchange.form["client_secret"] == "sandbox-client-secret"
    assert exchange.form["redirect_uri"] == "http://localhost/tiktok/callback"
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", exchange.form["code_verifier"])
    assert "client_id" not in exchange.form
    assert "Authorization" not in exchange.headers
    (info,) = tiktok_sandbox.calls_to("user_info")
    assert info.method == "GET"
    assert info.path == "/v2/user/info/"
    assert info.args["fields"] == (
        "open_id,union_id,avatar_url,avatar_url_100,avatar_large_url,display_name"
    )
    assert info.headers["Authorization"].startswith("Bearer act.")


def test_login_as_grants_the_scopes_given(
    app: Flask, tiktok_sandbox: LiveSandbox
) -> None:
    client = app.test_client()
    login_as(client, tiktok_sandbox, BOB, "user.info.basic,video.list")

    response = client.get("/videos")

    assert response.status_code == 200
    videos = response.get_json()["videos"]
    assert len(videos) == 25
    assert set(videos[0]) == {"id", "title"}
    (authorization,) = tiktok_sandbox.authorizations()
    assert authorization.open_id == BOB
    assert set(authorization.scopes) == {"user.info.basic", "video.list"}


def test_login_as_follows_a_custom_url_prefix(tiktok_sandbox: LiveSandbox) -> None:
    tiktok_sandbox.apps[0].redirect_uris.append("http://127.0.0.1/auth/callback")
    app = make_app(
        tiktok_sandbox.config_for(tiktok_sandbox.url) | {"TIKTOK_URL_PREFIX": "/auth"}
    )
    client = app.test_client()

    response = login_as(client, tiktok_sandbox, ALICE)

    assert response.status_code == 302
    (exchange,) = tiktok_sandbox.calls_to("token")
    assert exchange.form["redirect_uri"] == "http://localhost/auth/callback"
    assert client.get("/").get_data(as_text=True) == "Hello Alice Sandbox"


def test_login_as_reports_a_login_route_that_does_not_redirect(
    tiktok_sandbox: LiveSandbox,
) -> None:
    app = make_app(tiktok_sandbox.config_for(tiktok_sandbox.url))

    with pytest.raises(AssertionError, match="/nowhere answered 404"):
        login_as(app.test_client(), tiktok_sandbox, ALICE, login_path="/nowhere")


@pytest.mark.parametrize(
    "tiktok_sandbox_options",
    [{"apps": [SandboxApp(client_key="my-key", client_secret="my-secret")]}],
)
def test_sandbox_options_fixture_configures_the_sandbox(
    tiktok_sandbox: LiveSandbox, tiktok_sandbox_config: dict[str, Any]
) -> None:
    assert tiktok_sandbox_config["TIKTOK_CLIENT_KEY"] == "my-key"
    client = make_app(tiktok_sandbox_config).test_client()

    login_as(client, tiktok_sandbox, ALICE)

    (exchange,) = tiktok_sandbox.calls_to("token")
    assert exchange.form["client_key"] == "my-key"
    assert exchange.form["client_secret"] == "my-secret"


def _consent_form(url: str) -> dict[str, str]:
    """The hidden fields of the sandbox's consent page at ``url``."""
    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    assert 'id="authorize"' in page.text
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))


def test_end_to_end_against_the_sandbox(
    app: Flask, tiktok_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consent page -> callback -> profile -> API -> refresh -> logout."""
    refreshed: list[str] = []
    logged_out: list[str] = []

    def on_refreshed(sender: Flask, open_id: str, **extra: Any) -> None:
        refreshed.append(open_id)

    def on_logged_out(sender: Flask, open_id: str, **extra: Any) -> None:
        logged_out.append(open_id)

    client = app.test_client()
    login = client.get("/profile")
    assert login.status_code == 302
    authorize = client.get(login.location)
    assert authorize.status_code == 302
    # The browser's part, by hand: the consent page, then Authorize as Alice.
    form = _consent_form(authorize.location)
    assert form["code_challenge_method"] == "S256"
    decision = requests.post(
        authorize.location.split("?")[0],
        data=form | {"open_id": ALICE, "action": "authorize"},
        allow_redirects=False,
        timeout=5,
    )
    assert decision.status_code == 302
    callback = urlsplit(decision.headers["Location"])
    assert parse_qs(callback.query)["scopes"] == ["user.info.basic"]
    landed = client.get(f"{callback.path}?{callback.query}")
    assert landed.location == "/profile"
    assert "Alice Sandbox" in client.get("/profile").get_data(as_text=True)

    assert client.get("/followers").get_json()["display_name"] == "Alice Sandbox"
    assert tiktok_sandbox.calls_to("token", grant_type="refresh_token") == []
    stale_token = tiktok_sandbox.calls_to("user_info")[-1].headers["Authorization"]

    # A day later: the token has expired for TikTok and for the app alike.
    tiktok_sandbox.expire_all_access_tokens()
    a_day_later = time.time() + 86_400
    monkeypatch.setattr(time, "time", lambda: a_day_later)
    with (
        signals.tiktok_token_refreshed.connected_to(on_refreshed, app),
        signals.tiktok_logged_out.connected_to(on_logged_out, app),
    ):
        assert client.get("/followers").get_json()["open_id"] == ALICE
        assert client.get("/followers").status_code == 200
        (refresh,) = tiktok_sandbox.calls_to("token", grant_type="refresh_token")
        old = tiktok_sandbox.calls_to("token", grant_type="authorization_code")
        assert refresh.form["client_key"] == "sandbox-client-key"
        assert refresh.form["client_secret"] == "sandbox-client-secret"
        assert refresh.form["refresh_token"].startswith("rft.")
        assert len(old) == 1
        assert refreshed == [ALICE]
        fresh_token = tiktok_sandbox.calls_to("user_info")[-1].headers["Authorization"]
        assert fresh_token != stale_token

        logout = client.post("/tiktok/logout")
        assert logout.status_code == 302
        (revoke,) = tiktok_sandbox.calls_to("revoke")
        assert f"Bearer {revoke.form['token']}" == fresh_token
        assert revoke.form["client_key"] == "sandbox-client-key"
        assert logged_out == [ALICE]

    assert client.get("/").get_data(as_text=True) == "Anonymous"
    assert tiktok_sandbox.authorizations() == []
    assert len(tiktok_sandbox.calls_to("token", grant_type="refresh_token")) == 1


def test_cancel_on_the_consent_page_flashes_and_goes_home(
    app: Flask, tiktok_sandbox: Sandbox
) -> None:
    client = app.test_client()
    authorize = client.get("/tiktok/login")
    form = _consent_form(authorize.location)

    decision = requests.post(
        authorize.location.split("?")[0],
        data=form | {"action": "cancel"},
        allow_redirects=False,
        timeout=5,
    )
    callback = urlsplit(decision.headers["Location"])
    assert parse_qs(callback.query)["error"] == ["access_denied"]
    response = client.get(f"{callback.path}?{callback.query}", follow_redirects=True)

    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        "<p>TikTok login was cancelled.</p>Anonymous"
    )
    assert tiktok_sandbox.calls_to("token") == []


def test_plugin_is_loaded_from_its_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USER_TEST)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)


# -- the plugin loaded by name too; login_as under an APPLICATION_ROOT ---------


@pytest.mark.parametrize(
    "extra",
    [
        {"APPLICATION_ROOT": "/app"},
        {"APPLICATION_ROOT": "/app", "SERVER_NAME": "127.0.0.1:5000"},
    ],
)
def test_login_as_works_under_an_application_root(
    tiktok_sandbox: LiveSandbox,
    tiktok_sandbox_config: dict[str, Any],
    extra: dict[str, str],
) -> None:
    """The test client prefixes APPLICATION_ROOT itself; url_for() includes it."""
    tiktok_sandbox.apps[0].redirect_uris.append("http://127.0.0.1/app/tiktok/callback")
    app = Flask(__name__)
    app.config.update(SECRET_KEY="user-secret-key", **tiktok_sandbox_config, **extra)
    TikTok(app)
    app.get("/")(lambda: str(current_tiktok_user.display_name))
    client = app.test_client()

    response = login_as(client, tiktok_sandbox, BOB, next_url="/")

    assert response.status_code == 302
    (exchange,) = tiktok_sandbox.calls_to("token")
    assert exchange.form["redirect_uri"].endswith("/app/tiktok/callback")
    assert client.get("/").get_data(as_text=True) == "Bob Sandbox <test>"


def test_the_plugin_can_also_be_named_in_pytest_plugins(
    pytester: pytest.Pytester,
) -> None:
    """Installed (entry point) and named by a user's conftest: loaded once.

    With the entry point named otherwise than the module, pytest registered
    the module twice and stopped with "Plugin already registered under a
    different name". (Needs the package's metadata reinstalled: pip install -e .)
    """
    pytester.makeconftest('pytest_plugins = ["flask_tiktok.testing"]')
    pytester.makepyfile(USER_TEST)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)


def test_the_plugin_can_also_be_named_with_dash_p(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USER_TEST)

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "flask_tiktok.testing"
    )

    result.assert_outcomes(passed=1)


def test_connect_as_connects_a_sandbox_account_to_the_app_user(
    tiktok_sandbox: LiveSandbox, tiktok_sandbox_config: dict[str, Any], tmp_path: Any
) -> None:
    from flask import session
    from sqlalchemy import create_engine

    from flask_tiktok.sqla import SQLAlchemyStorage
    from flask_tiktok.testing import connect_as

    engine = create_engine(f"sqlite:///{tmp_path / 'accounts.db'}")
    try:
        storage = SQLAlchemyStorage(engine)
        with Flask(__name__).app_context():
            storage.create_all()
        app = Flask(__name__)
        app.config.update(SECRET_KEY="k", **tiktok_sandbox_config)
        tiktok = TikTok(app, storage=storage)
        tiktok.owner_loader(lambda: session.get("uid"))
        app.get("/signin")(lambda: session.update(uid="ann") or "ok")
        client = app.test_client()
        client.get("/signin")
        bob = "sandbox-open-id-bob"
        answer = connect_as(client, tiktok_sandbox, bob, next_url="/accounts")
        assert (answer.status_code, answer.location) == (302, "/accounts")
        [exchange] = tiktok_sandbox.calls_to("token")
        assert exchange.form["grant_type"] == "authorization_code"
        assert exchange.form["code_verifier"]
        with app.test_request_context():
            session["uid"] = "ann"
            [account] = tiktok.accounts()
        assert (account.open_id, account.display_name) == (bob, "Bob Sandbox <test>")
    finally:
        engine.dispose()


def test_deliver_webhook_posts_a_signed_event_through_the_test_client(
    tiktok_sandbox: LiveSandbox, tiktok_sandbox_config: dict[str, Any]
) -> None:
    from flask_tiktok.testing import deliver_webhook

    app = make_app({**tiktok_sandbox_config, "TIKTOK_REMEMBER_REMOVED": True})
    received: list[Any] = []
    signals.tiktok_webhook_received.connect(
        lambda sender, event: received.append(event), app, weak=False
    )
    client = app.test_client()
    login_as(client, tiktok_sandbox, ALICE)
    assert "Hello Alice" in client.get("/").text
    answer = deliver_webhook(
        client, tiktok_sandbox, "authorization.removed", ALICE, {"reason": 1}
    )
    assert (answer.status_code, answer.get_json()) == (200, {"status": "ok"})
    [event] = received
    assert (event.event, event.user_openid, event.content) == (
        "authorization.removed",
        ALICE,
        {"reason": 1},
    )
    assert client.get("/").text == "Anonymous"  # the removal logged Alice out
    again = deliver_webhook(
        client,
        tiktok_sandbox,
        "authorization.removed",
        ALICE,
        {"reason": 1},
        timestamp=event.create_time,
    )
    assert again.get_json() == {"status": "duplicate"}  # the same delivery


def test_deliver_webhook_signs_with_the_sandbox_apps_secret() -> None:
    """Signed with the secret of the app named: another app's is refused, as
    TikTok's would be; an app the sandbox does not have is an error."""
    from flask_tiktok.testing import deliver_webhook

    other = SandboxApp(client_key="other-key", client_secret="other-secret")
    sandbox = Sandbox(apps=[SandboxApp(), other])
    app = make_app(sandbox.config_for("http://127.0.0.1:1"))
    client = app.test_client()
    refused = deliver_webhook(
        client, sandbox, "post.publish.complete", ALICE, client_key="other-key"
    )
    assert (refused.status_code, refused.get_json()) == (
        401,
        {"error": "invalid_signature"},
    )
    with pytest.raises(ValueError, match="no app 'nope'"):
        deliver_webhook(client, sandbox, "x", ALICE, client_key="nope")
