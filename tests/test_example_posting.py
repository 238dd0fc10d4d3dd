"""examples/creator's "Post to TikTok" page: TikTok's required posting UX,
point by point, through the test client and in a real browser on the sandbox
(a small video generated here, posted, followed to its final status)."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import pytest
from example_support import (
    LiveSite,
    docs_screenshot,
    example_sandbox,
)
from flask import Flask

from flask_tiktok.sandbox import Sandbox
from flask_tiktok.testing import connect_as

if TYPE_CHECKING:
    from playwright.sync_api import Page

ALICE = "sandbox-open-id-alice"  # public; Duet disabled; up to 600 s
BOB = "sandbox-open-id-bob"  # private; Comment and Stitch disabled; up to 180 s
CAROL = "sandbox-open-id-carol"  # has hit the posting cap


def make_clip(seconds: int, fps: int = 2) -> bytes:
    """A real H.264 MP4 of ``seconds`` seconds (64x64, a few kB)."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for index in range(seconds * fps):
            frame = av.VideoFrame(64, 64, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([index * 7 % 256]) * plane.buffer_size)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def signed_up_with(creator: Flask, *open_ids: str) -> Any:
    client = creator.test_client()
    client.post("/signup", data={"email": "ann@example.com", "password": "long enough"})
    for open_id in open_ids:
        connect_as(client, example_sandbox(creator), open_id)
    return client


def form(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "video": (io.BytesIO(make_clip(2)), "clip.mp4", "video/mp4")
    }
    data.update(fields)
    return data


# -- through the test client ------------------------------------------------------


def test_the_page_asks_tiktok_and_shows_the_creator(creator: Flask) -> None:
    client = signed_up_with(creator, ALICE)
    page = client.get(f"/accounts/{ALICE}/post").get_data(as_text=True)
    assert [c.path for c in example_sandbox(creator).calls_to("creator_info")] != []
    assert '<strong id="nickname">Alice Sandbox</strong>' in page
    # No privacy level is chosen: only the placeholder is selected.
    assert re.findall(r"<option[^>]*selected", page) == [
        '<option value="" disabled selected'
    ]
    assert "PUBLIC_TO_EVERYONE" in page and "FOLLOWER_OF_CREATOR" not in page
    markup = page.split("<script>")[0]
    assert " checked" not in markup  # Comment/Duet/Stitch and the toggle start off
    assert re.search(r'id="allow-duet" value="1"\s+disabled', page)
    assert re.search(r'id="allow-comment" value="1"\s+>', page)
    assert "Music Usage Confirmation" in page
    assert 'data-max-duration="600"' in page


def test_a_private_account_gets_its_own_options(creator: Flask) -> None:
    page = (
        signed_up_with(creator, BOB).get(f"/accounts/{BOB}/post").get_data(as_text=True)
    )
    assert "FOLLOWER_OF_CREATOR" in page and "PUBLIC_TO_EVERYONE" not in page
    assert re.search(r'id="allow-comment" value="1"\s+disabled', page)
    assert re.search(r'id="allow-stitch" value="1"\s+disabled', page)
    assert 'data-max-duration="180"' in page


def test_a_creator_who_cannot_post_gets_no_form(creator: Flask) -> None:
    client = signed_up_with(creator, CAROL)
    page = client.get(f"/accounts/{CAROL}/post").get_data(as_text=True)
    assert "reached today&#39;s posting limit" in page
    assert 'id="post-form"' not in page
    assert client.post(f"/accounts/{CAROL}/post", data=form()).status_code == 403
    assert example_sandbox(creator).calls_to("video_init") == []


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "Choose who can view this video."),
        ({"privacy": "FOLLOWER_OF_CREATOR"}, "Choose who can view this video."),
        ({"privacy": "SELF_ONLY", "commercial": "1"}, "promotes your brand or a"),
        (
            {"privacy": "SELF_ONLY", "commercial": "1", "branded": "1"},
            "Branded content cannot be private.",
        ),
        ({"privacy": "SELF_ONLY", "title": "x" * 2201}, "2,200 UTF-16 units"),
    ],
)
def test_the_server_refuses_what_the_page_would(
    creator: Flask, fields: dict[str, str], problem: str
) -> None:
    client = signed_up_with(creator, ALICE)
    response = client.post(f"/accounts/{ALICE}/post", data=form(**fields))
    assert response.status_code == 400
    assert problem in response.get_data(as_text=True)
    assert example_sandbox(creator).calls_to("video_init") == []


def test_a_post_is_sent_and_followed_to_its_end(creator: Flask) -> None:
    client = signed_up_with(creator, ALICE)
    clip = make_clip(2)
    answer = client.post(
        f"/accounts/{ALICE}/post",
        data={
            "video": (io.BytesIO(clip), "clip.mp4", "video/mp4"),
            "privacy": "PUBLIC_TO_EVERYONE",
            "title": "Hi #fyp",
            "comment": "1",
            "duet": "1",  # disabled by the creator: sent as disabled all the same
            "commercial": "1",
            "your_brand": "1",
        },
    )
    assert answer.status_code == 302
    publish_id = answer.location.rsplit("/", 1)[1]
    sandbox: Sandbox = example_sandbox(creator)
    post = sandbox.find_post(publish_id)
    assert post is not None
    assert post.sha256 == hashlib.sha256(clip).hexdigest()
    [init] = sandbox.calls_to("video_init")
    assert init.json["post_info"] == {
        "privacy_level": "PUBLIC_TO_EVERYONE",
        "title": "Hi #fyp",
        "disable_comment": False,
        "disable_duet": True,
        "disable_stitch": True,
        "brand_content_toggle": False,
        "brand_organic_toggle": True,
        "is_aigc": False,
    }
    statuses = []
    for _ in range(10):
        status = client.get(answer.location + "/status").get_json()
        statuses.append(status["status"])
        if status["done"]:
            break
    assert statuses[-1] == "PUBLISH_COMPLETE"
    assert status["text"] == "Posted to TikTok."


def test_someone_elses_account_is_not_found(creator: Flask) -> None:
    signed_up_with(creator, ALICE)
    ben = creator.test_client()
    ben.post("/signup", data={"email": "ben@example.com", "password": "long enough"})
    assert ben.get(f"/accounts/{ALICE}/post").status_code == 404
    assert ben.post(f"/accounts/{ALICE}/post", data=form()).status_code == 404
    assert ben.get(f"/accounts/{ALICE}/posts/p1/status").status_code == 404


# -- in a real browser -------------------------------------------------------------


def open_post_page(page: Page, creator_site: LiveSite, open_id: str) -> None:
    page.goto(f"{creator_site.url}/signup")
    page.fill('input[name="email"]', "ann@example.com")
    page.fill('input[name="password"]', "long enough")
    page.click("#submit")
    page.wait_for_url(f"{creator_site.url}/accounts")
    page.click("#connect")
    page.wait_for_url(f"{creator_site.sandbox_url}/v2/auth/authorize/**")
    page.check(f'input[name="open_id"][value="{open_id}"]')
    page.click("#authorize")
    page.wait_for_url(f"{creator_site.url}/accounts")
    page.locator(f'.account[data-open-id="{open_id}"]').get_by_role(
        "link", name="Post to TikTok"
    ).click()
    page.wait_for_url(f"{creator_site.url}/accounts/{open_id}/post")


def test_in_a_browser_a_video_is_posted_and_its_status_followed(
    page: Page, creator_site: LiveSite, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(make_clip(3))
    open_post_page(page, creator_site, ALICE)
    assert page.locator("#nickname").inner_text() == "Alice Sandbox"
    assert page.locator("#post").is_disabled()
    docs_screenshot(page, "creator-post")
    page.set_input_files("#video", str(clip))
    page.wait_for_function("document.getElementById('preview').readyState >= 1")
    page.fill("#title", "My first post #fyp")
    page.select_option("#privacy", "SELF_ONLY")
    assert page.locator("#post").is_enabled()
    page.click("#post")
    page.wait_for_url(re.compile(rf"{creator_site.url}/accounts/{ALICE}/posts/.+"))
    page.wait_for_function(
        "document.getElementById('post-status').dataset.status === 'PUBLISH_COMPLETE'",
        timeout=30_000,
    )
    assert page.locator("#post-status").inner_text() == "Posted to TikTok."
    publish_id = page.url.rsplit("/", 1)[1]
    post = creator_site.sandbox.find_post(publish_id)
    assert post is not None
    assert post.sha256 == hashlib.sha256(clip.read_bytes()).hexdigest()
    [init] = creator_site.sandbox.calls_to("video_init")
    assert init.json["post_info"]["title"] == "My first post #fyp"


def test_in_a_browser_each_posting_rule_holds(
    page: Page, creator_site: LiveSite, tmp_path: Path
) -> None:
    open_post_page(page, creator_site, BOB)
    post = page.locator("#post")
    # Privacy: no default, the creator's own options.
    assert page.locator("#privacy").input_value() == ""
    assert page.locator("#privacy option").all_inner_texts() == [
        "Choose who can view it",
        "Followers",
        "Friends",
        "Only me",
    ]
    # Interactions: unticked; greyed out where the creator turned them off.
    assert page.locator("#allow-comment").is_disabled()
    assert page.locator("#allow-stitch").is_disabled()
    assert page.locator("#allow-duet").is_enabled()
    assert not page.locator("#allow-duet").is_checked()
    # A video longer than the creator's maximum (180 s) cannot be posted.
    long_clip = tmp_path / "long.mp4"
    long_clip.write_bytes(make_clip(181, fps=1))
    page.set_input_files("#video", str(long_clip))
    page.wait_for_function("document.getElementById('duration-note').textContent")
    assert "up to 180 s" in page.locator("#duration-note").inner_text()
    page.select_option("#privacy", "SELF_ONLY")
    assert post.is_disabled()
    short_clip = tmp_path / "short.mp4"
    short_clip.write_bytes(make_clip(2))
    page.set_input_files("#video", str(short_clip))
    page.wait_for_function("!document.getElementById('post').disabled")
    # Commercial content: a choice is required; branded content is never private.
    page.check("#commercial")
    assert post.is_disabled()
    assert "You need to indicate" in page.locator("#post-hint").inner_text()
    page.check("#your-brand")
    assert post.is_enabled()
    assert "Promotional content" in page.locator("#commercial-label").inner_text()
    page.check("#branded")
    assert "Paid partnership" in page.locator("#commercial-label").inner_text()
    assert page.locator("#branded-policy").is_visible()
    assert page.locator("#privacy").input_value() == ""  # "Only me" was dropped
    assert page.locator('#privacy option[value="SELF_ONLY"]').is_disabled()
    assert post.is_disabled()
    page.select_option("#privacy", "FOLLOWER_OF_CREATOR")
    assert post.is_enabled()
    assert "Music Usage Confirmation" in page.locator("#declaration").inner_text()
    # Nothing is sent before the user presses Post.
    assert creator_site.sandbox.calls_to("video_init") == []


def test_a_post_without_the_forms_csrf_token_is_refused(
    creator_site: LiveSite,
) -> None:
    # A cross-site page could otherwise post a video in the user's name.
    import requests

    session = requests.Session()
    url = creator_site.url
    signup = session.get(f"{url}/signup", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', signup)
    assert token is not None
    session.post(
        f"{url}/signup",
        data={
            "email": "ann@example.com",
            "password": "long enough",
            "csrf_token": token[1],
        },
        timeout=10,
    )
    assert session.get(f"{url}/accounts", timeout=10).status_code == 200
    answer = session.post(
        f"{url}/accounts/{ALICE}/post",
        data={"privacy": "SELF_ONLY"},
        files={"video": ("clip.mp4", make_clip(1), "video/mp4")},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "CSRF" in answer.text
    assert creator_site.sandbox.calls_to("video_init") == []


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [("invalid_publish_id", 400, False), ("rate_limit_exceeded", 502, True)],
)
def test_a_status_tiktok_refuses_says_whether_to_ask_again(
    creator: Flask, code: str, status: int, retryable: bool
) -> None:
    client = signed_up_with(creator, ALICE)
    example_sandbox(creator).inject_fault("post_status", "api_error", code=code)
    answer = client.get(f"/accounts/{ALICE}/posts/p_unknown/status")
    assert answer.status_code == status
    assert answer.get_json()["retryable"] is retryable
    assert code in answer.get_json()["text"]
