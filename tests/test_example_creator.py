"""examples/creator: the app's own users connect TikTok accounts (through the
test client, then in a real browser on the sandbox's consent page)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from example_support import (
    LiveSite,
    docs_screenshot,
    example_sandbox,
)
from flask import Flask

from flask_tiktok.testing import connect_as

if TYPE_CHECKING:
    from playwright.sync_api import Page

ALICE = "sandbox-open-id-alice"
BOB = "sandbox-open-id-bob"


def sign_up(client: Any, email: str) -> None:
    answer = client.post("/signup", data={"email": email, "password": "long enough"})
    assert (answer.status_code, answer.location) == (302, "/accounts")


def test_a_user_connects_two_accounts_and_lists_their_videos(creator: Flask) -> None:
    sandbox = example_sandbox(creator)
    client = creator.test_client()
    assert client.get("/accounts").status_code == 302  # the app's own login first
    assert client.get("/tiktok/connect").status_code == 401
    sign_up(client, "ann@example.com")
    for open_id in (ALICE, BOB):
        assert connect_as(client, sandbox, open_id, next_url="/accounts").location == (
            "/accounts"
        )
    page = client.get("/accounts").get_data(as_text=True)
    assert page.index("Alice Sandbox") < page.index("Bob Sandbox &lt;test&gt;")
    videos = client.get(f"/accounts/{BOB}/videos")
    assert videos.status_code == 200
    assert videos.get_data(as_text=True).count('<li><a href="') == 12
    [listing] = [c for c in sandbox.calls_to("video_list")]
    assert listing.headers["Authorization"].startswith("Bearer ")
    assert client.post("/signout").status_code == 302
    with creator.app_context():  # still connected for the jobs
        assert len(creator.extensions["tiktok"].storage.list_accounts()) == 2


def test_another_user_sees_none_and_cannot_reach_them(creator: Flask) -> None:
    sandbox = example_sandbox(creator)
    ann, ben = creator.test_client(), creator.test_client()
    sign_up(ann, "ann@example.com")
    connect_as(ann, sandbox, ALICE)
    sign_up(ben, "ben@example.com")
    assert "No TikTok account is connected yet" in ben.get("/accounts").get_data(
        as_text=True
    )
    assert ben.get(f"/accounts/{ALICE}/videos").status_code == 404
    assert ben.post(f"/tiktok/accounts/{ALICE}/disconnect").status_code == 404
    taken = connect_as(ben, sandbox, ALICE)
    assert taken.status_code == 409
    assert "Alice Sandbox" in ann.get("/accounts").get_data(as_text=True)


def test_the_cron_command_refreshes_every_account(creator: Flask) -> None:
    sandbox = example_sandbox(creator)
    client = creator.test_client()
    sign_up(client, "ann@example.com")
    connect_as(client, sandbox, ALICE)
    connect_as(client, sandbox, BOB)
    result = creator.test_cli_runner().invoke(args=["tiktok", "refresh", "--all"])
    assert result.exit_code == 0, result.output
    assert "Refreshed 2, refused 0, failed 0 (of 2)." in result.output
    grants = [c.form["grant_type"] for c in sandbox.calls_to("token")]
    assert grants.count("refresh_token") == 2


# -- in a real browser -----------------------------------------------------------


def browser_sign_up(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/signup")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', "long enough")
    page.click("#submit")
    page.wait_for_url(f"{url}/accounts")


def browser_connect(page: Page, creator_site: LiveSite, open_id: str) -> None:
    page.click("#connect")
    page.wait_for_url(f"{creator_site.sandbox_url}/v2/auth/authorize/**")
    assert "disable_auto_auth=1" in page.url  # TikTok shows the account chooser
    page.check(f'input[name="open_id"][value="{open_id}"]')
    page.click("#authorize")
    page.wait_for_url(f"{creator_site.url}/accounts")


def test_in_a_browser_two_accounts_then_another_user_sees_none(
    page: Page, creator_site: LiveSite
) -> None:
    url = creator_site.url
    browser_sign_up(page, url, "ann@example.com")
    assert page.locator("#no-accounts").is_visible()
    browser_connect(page, creator_site, ALICE)
    browser_connect(page, creator_site, BOB)
    names = page.locator(".account .name").all_inner_texts()
    assert [n.strip() for n in names] == ["Alice Sandbox", "Bob Sandbox <test>"]
    page.wait_for_function(
        "[...document.querySelectorAll('.account img')].every(i => i.complete)"
    )
    widths = page.eval_on_selector_all(
        ".account img", "i => i.map(x => x.naturalWidth)"
    )
    assert all(width > 0 for width in widths) and len(widths) == 2
    docs_screenshot(page, "creator-accounts")

    page.locator(f'.account[data-open-id="{BOB}"]').get_by_role(
        "link", name="Videos"
    ).click()
    page.wait_for_url(f"{url}/accounts/{BOB}/videos")
    assert page.locator(".videos li").count() == 12
    page.get_by_role("link", name="Back to your accounts").click()

    page.locator(f'.account[data-open-id="{ALICE}"]').get_by_role(
        "button", name="Disconnect"
    ).click()
    page.wait_for_url(f"{url}/accounts")
    names = page.locator(".account .name").all_inner_texts()
    assert [n.strip() for n in names] == ["Bob Sandbox <test>"]
    assert [c.form["token"] for c in creator_site.sandbox.calls_to("revoke")] != []
    page.click("#signout")
    page.wait_for_url(f"{url}/")

    browser_sign_up(page, url, "ben@example.com")
    assert page.locator("#no-accounts").is_visible()
    response = page.goto(f"{url}/accounts/{BOB}/videos")
    assert response is not None and response.status == 404
