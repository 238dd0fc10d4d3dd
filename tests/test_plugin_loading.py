"""The pytest plugin as users load and use it: by entry point and by name, and
under an APPLICATION_ROOT."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_tiktok import TikTok, current_tiktok_user
from flask_tiktok.testing import LiveSandbox, login_as

pytest_plugins = ["pytester"]

BOB = "sandbox-open-id-bob"


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
