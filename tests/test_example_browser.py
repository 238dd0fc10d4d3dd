"""examples/basic in a real browser (Debian's Chromium driven by Playwright).

The example and its sandbox are served on loopback; the browser (the
``browser`` and ``page`` fixtures of conftest.py) clicks through the sandbox's
consent page like a user.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import pytest
from example_support import (
    LiveSite,
    clean_environment,
    docs_screenshot,
    example_app,
    example_sandbox,
    serve,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request

ALICE = "sandbox-open-id-alice"


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveSite]:
    """The example served on loopback, wired to its own sandbox."""
    clean_environment(monkeypatch)
    with (
        example_app({"SECRET_KEY": "browser-test-secret-key"}) as app,
        serve(app) as url,
    ):
        yield LiveSite(url, app.config["SANDBOX_URL"], example_sandbox(app))


def _images_loaded(page: Page, selector: str) -> list[int]:
    """``naturalWidth`` of every image ``selector`` matches, once they finished."""
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete)", arg=selector
    )
    widths: list[int] = page.eval_on_selector_all(
        selector, "images => images.map(i => i.naturalWidth)"
    )
    return widths


def test_log_in_see_profile_and_videos_then_log_out(page: Page, site: LiveSite) -> None:
    url = site.url
    page.goto(f"{url}/")
    assert page.locator("#sandbox-banner").is_visible()

    page.get_by_role("link", name="Log in with TikTok").first.click()
    page.wait_for_url(f"{site.sandbox_url}/v2/auth/authorize/**")
    assert "would like to access your TikTok account" in page.content()
    docs_screenshot(page, "basic-consent")
    page.click("#authorize")

    page.wait_for_url(f"{url}/profile")
    assert page.locator("#display-name").inner_text() == "Alice Sandbox"
    assert _images_loaded(page, "#avatar")[0] > 0
    docs_screenshot(page, "basic-profile")

    page.click("#my-videos")
    # The login asked for user.info.* only: back through consent for video.list.
    page.wait_for_url(f"{site.sandbox_url}/v2/auth/authorize/**")
    assert "video.list" in page.locator("ul.scopes").inner_text()
    page.click("#authorize")
    page.wait_for_url(f"{url}/videos")
    covers = _images_loaded(page, "#videos img")
    assert len(covers) == 24
    assert all(width > 0 for width in covers)
    titles = page.locator("#videos .title").all_inner_texts()
    assert all(titles)
    docs_screenshot(page, "basic-videos")

    page.click("#logout")
    page.wait_for_url(f"{url}/")
    assert page.locator("#login").is_visible()
    assert page.locator("#logout").count() == 0
    assert len(site.sandbox.calls_to("revoke")) == 1
    assert site.sandbox.authorizations() == []


def test_cancel_on_the_consent_page_comes_back_with_a_message(
    page: Page, site: LiveSite, tmp_path: Path
) -> None:
    page.goto(f"{site.url}/")
    page.get_by_role("link", name="Log in with TikTok").first.click()
    page.wait_for_url(f"{site.sandbox_url}/v2/auth/authorize/**")

    page.click("#cancel")

    page.wait_for_url(f"{site.url}/")
    assert page.locator(".flash").inner_text() == "TikTok login was cancelled."
    assert page.locator("#login").is_visible()
    assert site.sandbox.calls_to("token") == []
    page.screenshot(path=tmp_path / "cancelled.png")


def test_unticking_video_list_says_so_once_then_try_again_grants_it(
    page: Page, site: LiveSite, tmp_path: Path
) -> None:
    url, authorize_url = site.url, f"{site.sandbox_url}/v2/auth/authorize/"
    asked: list[str] = []  # every GET of the consent URL, redirects included
    decisions: list[dict[str, list[str]]] = []  # what the consent form posted

    def on_request(request: Request) -> None:
        if request.url.startswith(authorize_url):
            if request.method == "GET":
                asked.append(request.url)
            else:
                decisions.append(parse_qs(request.post_data or ""))

    page.on("request", on_request)
    page.goto(f"{url}/")
    page.get_by_role("link", name="Log in with TikTok").first.click()
    page.wait_for_url(f"{authorize_url}**")
    page.click("#authorize")
    page.wait_for_url(f"{url}/profile")
    asked.clear()

    page.click("#my-videos")
    page.wait_for_url(f"{authorize_url}**")
    video_list = page.locator('input[name="granted_scope"][value="video.list"]')
    assert video_list.is_checked()
    basic = page.locator('input[name="granted_scope"][value="user.info.basic"]')
    assert basic.is_checked() and basic.is_disabled()
    video_list.uncheck()
    page.screenshot(path=tmp_path / "consent-unticked.png")
    with page.expect_response(f"{url}/videos") as answer:
        page.click("#authorize")

    assert answer.value.status == 403
    page.wait_for_load_state("networkidle")
    assert page.url == f"{url}/videos"
    assert page.locator("h1").inner_text() == "TikTok permission not granted"
    error = page.locator("#tiktok-error").inner_text()
    assert "video.list" in error
    assert "scope_declined" in error
    assert len(asked) == 1  # asked once, not sent round in a loop
    assert decisions[-1]["granted_scope"] == ["user.info.profile", "user.info.stats"]
    assert "video.list" in decisions[-1]["scope"][0]
    (authorization,) = site.sandbox.authorizations()
    assert "video.list" not in authorization.scopes
    page.screenshot(path=tmp_path / "declined.png", full_page=True)

    assert page.locator("#try-again").get_attribute("href") == "/videos"
    page.click("#try-again")
    page.wait_for_url(f"{authorize_url}**")
    assert len(asked) == 2
    page.check('input[name="granted_scope"][value="video.list"]')
    page.click("#authorize")
    page.wait_for_url(f"{url}/videos")
    assert len(_images_loaded(page, "#videos img")) == 24
    assert "video.list" in decisions[-1]["granted_scope"]
    (authorization,) = site.sandbox.authorizations()
    assert "video.list" in authorization.scopes
    assert len(asked) == 2
    page.screenshot(path=tmp_path / "granted.png", full_page=True)
