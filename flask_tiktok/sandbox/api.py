"""TikTok's resource endpoints: user info, video list and video query."""

from __future__ import annotations

import html
from collections.abc import Collection
from typing import Any

from flask import Blueprint, Response, request, url_for

from .endpoints import (
    current_sandbox,
    envelope,
    json_object,
    tiktok_endpoint,
    user_token,
)
from .errors import invalid_params, scope_not_authorized
from .models import SandboxUser, SandboxVideo
from .scopes import USER_FIELD_SCOPES, VIDEO_FIELDS, VIDEO_SCOPE

api = Blueprint("sandbox_api", __name__)

MAX_VIDEOS_PER_REQUEST = 20
DEFAULT_MAX_COUNT = 10


def _fields(known: Collection[str]) -> list[str]:
    """The ``fields`` query parameter, every name checked against ``known``."""
    names = [name.strip() for name in request.args.get("fields", "").split(",")]
    names = list(dict.fromkeys(name for name in names if name))
    if not names:
        raise invalid_params("fields is required.")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise invalid_params(f"Invalid fields: {', '.join(unknown)}.")
    return names


def _user_values(user: SandboxUser) -> dict[str, Any]:
    avatar = user.avatar_url or url_for(
        "sandbox_pages.avatar", open_id=user.open_id, _external=True
    )
    sep = "&" if "?" in avatar else "?"
    return {
        "open_id": user.open_id,
        "union_id": user.union_id,
        "avatar_url": avatar,
        "avatar_url_100": f"{avatar}{sep}size=100",
        "avatar_large_url": f"{avatar}{sep}size=720",
        "display_name": user.display_name,
        "bio_description": user.bio_description,
        "profile_deep_link": f"https://www.tiktok.com/@{user.username}",
        "is_verified": user.is_verified,
        "username": user.username,
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "likes_count": user.likes_count,
        "video_count": (
            len(user.videos) if user.video_count is None else user.video_count
        ),
    }


def _video_values(user: SandboxUser, video: SandboxVideo) -> dict[str, Any]:
    share_url = f"https://www.tiktok.com/@{user.username}/video/{video.id}"
    embed_html = (
        f'<blockquote class="tiktok-embed" cite="{html.escape(share_url)}" '
        f'data-video-id="{html.escape(video.id)}" style="max-width: 605px;'
        f'min-width: 325px;"><section>{html.escape(video.title)}</section>'
        "</blockquote>"
    )
    return {
        "id": video.id,
        "create_time": video.create_time,
        "cover_image_url": url_for(
            "sandbox_pages.cover", video_id=video.id, _external=True
        ),
        "share_url": share_url,
        "video_description": video.video_description,
        "duration": video.duration,
        "height": video.height,
        "width": video.width,
        "title": video.title,
        "embed_html": embed_html,
        "embed_link": f"https://www.tiktok.com/player/v1/{video.id}",
        "like_count": video.like_count,
        "comment_count": video.comment_count,
        "share_count": video.share_count,
        "view_count": video.view_count,
    }


def _pick(values: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {name: values[name] for name in fields}


def _int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_params(f"{name} must be a non-negative integer.")
    return value


def _page_size(start: int, max_count: int) -> int:
    """How many videos a page starting at index ``start`` returns with short pages.

    A page starting in an odd block of ``max_count`` videos drops one or two at its
    end (they come first on the next page), the way TikTok's trust-and-safety
    filtering makes pages come back short while ``has_more`` stays true.
    """
    block = start // max_count
    if max_count < 2 or block % 2 == 0:
        return max_count
    return max(1, max_count - (1 if block % 4 == 1 else 2))


@api.get("/v2/user/info/")
@tiktok_endpoint("user_info")
def user_info() -> Response:
    """The token user's profile, only the asked ``fields``."""
    token, user = user_token()
    fields = _fields(USER_FIELD_SCOPES)
    for name in fields:
        if USER_FIELD_SCOPES[name] not in token.scopes:
            raise scope_not_authorized(USER_FIELD_SCOPES[name])
    return envelope({"user": _pick(_user_values(user), fields)})


@api.post("/v2/video/list/")
@tiktok_endpoint("video_list")
def video_list() -> Response:
    """A page of the user's videos, newest first, paged by ``cursor``."""
    token, user = user_token()
    if VIDEO_SCOPE not in token.scopes:
        raise scope_not_authorized(VIDEO_SCOPE)
    fields = _fields(VIDEO_FIELDS)
    body = json_object(invalid_params)
    max_count = _int(body, "max_count", DEFAULT_MAX_COUNT)
    if not 1 <= max_count <= MAX_VIDEOS_PER_REQUEST:
        raise invalid_params(f"max_count must be 1 to {MAX_VIDEOS_PER_REQUEST}.")
    cursor = body.get("cursor")
    videos = sorted(user.videos, key=lambda video: video.create_time, reverse=True)
    start = 0
    if cursor is not None:
        cursor = _int(body, "cursor", 0)
        start = sum(1 for video in videos if video.create_time * 1000 >= cursor)
    size = max_count
    if current_sandbox().short_pages and start + max_count < len(videos):
        size = _page_size(start, max_count)
    page = videos[start : start + size]
    next_cursor = page[-1].create_time * 1000 if page else (cursor or 0)
    return envelope(
        {
            "videos": [_pick(_video_values(user, video), fields) for video in page],
            "cursor": next_cursor,
            "has_more": start + len(page) < len(videos),
        }
    )


@api.post("/v2/video/query/")
@tiktok_endpoint("video_query")
def video_query() -> Response:
    """The user's videos among ``filters.video_ids`` (others are left out)."""
    token, user = user_token()
    if VIDEO_SCOPE not in token.scopes:
        raise scope_not_authorized(VIDEO_SCOPE)
    fields = _fields(VIDEO_FIELDS)
    filters = json_object(invalid_params).get("filters")
    video_ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if (
        not isinstance(video_ids, list)
        or not video_ids
        or not all(isinstance(video_id, str) for video_id in video_ids)
    ):
        raise invalid_params("filters.video_ids must be a list of video id strings.")
    if len(video_ids) > MAX_VIDEOS_PER_REQUEST:
        raise invalid_params(
            f"filters.video_ids takes at most {MAX_VIDEOS_PER_REQUEST} ids."
        )
    owned = {video.id: video for video in user.videos}
    found = [
        owned[video_id] for video_id in dict.fromkeys(video_ids) if video_id in owned
    ]
    return envelope(
        {"videos": [_pick(_video_values(user, video), fields) for video in found]}
    )
