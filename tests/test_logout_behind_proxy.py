"""examples/basic behind a reverse proxy that rewrites ``Host``, in Chromium.

As deployed with nginx's defaults and no ``ProxyFix``: the browser is on
``http://localhost:<proxy>``, the app sees ``Host: 127.0.0.1:<app>``, and
``TIKTOK_REDIRECT_URI`` is pinned to the site's address. A same-origin logout
works; a cross-site one is still refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from example_support import (
    LiveSite,
    clean_environment,
    example_app,
    example_sandbox,
    serve,
)
from flask import Flask
from proxy_support import forward_to, reverse_proxy

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveSite]:
    """The example served on loopback, reached through the proxy."""
    clean_environment(monkeypatch)
    with reverse_proxy() as (url, proxy):
        config = {
            "SECRET_KEY": "proxy-test-secret-key",
            "TIKTOK_REDIRECT_URI": f"{url}/tiktok/callback",
        }
        with example_app(config) as app, serve(app) as app_url:
            forward_to(proxy, app_url)
            yield LiveSite(url, app.config["SANDBOX_URL"], example_sandbox(app))


def log_in(page: Page, site: LiveSite) -> None:
    page.goto(f"{site.url}/")
    page.get_by_role("link", name="Log in with TikTok").first.click()
    page.wait_for_url(f"{site.sandbox_url}/v2/auth/authorize/**")
    page.click("#authorize")
    page.wait_for_url(f"{site.url}/profile")


def test_a_same_origin_logout_through_the_proxy_logs_out(
    page: Page, site: LiveSite
) -> None:
    log_in(page, site)
    with page.expect_response(f"{site.url}/tiktok/logout") as posted:
        page.click("#logout")
    assert posted.value.status == 302
    page.wait_for_url(f"{site.url}/")
    assert page.locator("#login").is_visible()
    assert len(site.sandbox.calls_to("revoke")) == 1
    assert site.sandbox.authorizations() == []


def test_a_cross_site_logout_through_the_proxy_is_refused(
    page: Page, site: LiveSite
) -> None:
    log_in(page, site)
    evil = Flask("evil")
    evil.add_url_rule(
        "/",
        "home",
        lambda: (
            f"<form method=post action='{site.url}/tiktok/logout'></form>"
            "<script>document.forms[0].submit()</script>"
        ),
    )
    with (
        serve(evil) as evil_url,
        page.expect_response(f"{site.url}/tiktok/logout") as posted,
    ):
        page.goto(f"{evil_url}/")
    assert posted.value.status == 403
    assert site.sandbox.calls_to("revoke") == []
    page.goto(f"{site.url}/profile")
    assert page.url == f"{site.url}/profile"  # still logged in
