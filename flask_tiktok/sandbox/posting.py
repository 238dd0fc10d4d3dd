"""TikTok's Content Posting API: creator info, the inits, status and cancel."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, url_for

from . import ids
from .chunks import ChunkLayout, LayoutError, check_layout
from .endpoints import (
    current_fault,
    current_sandbox,
    envelope,
    json_object,
    tiktok_endpoint,
    user_token,
)
from .errors import POSTING_ERRORS, invalid_param, posting_error, scope_not_authorized
from .models import SandboxUser
from .posts import SandboxPost
from .pull import check_media_url
from .scopes import PUBLISH_SCOPE, UPLOAD_SCOPE
from .store import Token

posting = Blueprint("sandbox_posting", __name__)

DAY = 86_400
#: Drafts a user may have waiting in their inbox per 24 hours.
MAX_PENDING_SHARES = 5
#: Users an unaudited app may post for per 24 hours.
UNAUDITED_USER_CAP = 5
MAX_VIDEO_TITLE = 2200
MAX_PHOTO_TITLE = 90
MAX_PHOTO_DESCRIPTION = 4000
MAX_PHOTOS = 35
_VIDEO_FLAGS = (
    "disable_duet",
    "disable_stitch",
    "disable_comment",
    "brand_content_toggle",
    "brand_organic_toggle",
    "is_aigc",
)
_PHOTO_FLAGS = (
    "disable_comment",
    "auto_add_music",
    "brand_content_toggle",
    "brand_organic_toggle",
)


# -- request checks -------------------------------------------------------------


def _authorized(
    scopes: Iterable[str], *, limit: str | None
) -> tuple[Token, SandboxUser]:
    """The token and user, if the token has one of ``scopes`` and quota left."""
    token, user = user_token()
    wanted = list(scopes)
    if not any(scope in token.scopes for scope in wanted):
        raise scope_not_authorized(" or ".join(wanted))
    if limit is not None and not current_sandbox().rate_limiter.admit(
        limit, token.token
    ):
        raise posting_error("rate_limit_exceeded")
    return token, user


def _body() -> dict[str, Any]:
    return json_object(invalid_param)


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise invalid_param(f"{name} must be a JSON object.")
    return value


def _count(info: dict[str, Any], name: str) -> int:
    value = info.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_param(f"{name} must be a non-negative integer.")
    return value


def _text(info: dict[str, Any], name: str, limit: int) -> None:
    value = info.get(name, "")
    if not isinstance(value, str):
        raise invalid_param(f"{name} must be a string.")
    if len(value.encode("utf-16-le")) // 2 > limit:
        raise invalid_param(f"{name} is over {limit} UTF-16 code units.")


def _flags(info: dict[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if not isinstance(info.get(name, False), bool):
            raise invalid_param(f"{name} must be a boolean.")


def _privacy(info: dict[str, Any], user: SandboxUser) -> str:
    value = info.get("privacy_level")
    if not isinstance(value, str) or not value:
        raise invalid_param("post_info.privacy_level is required.")
    if value not in user.privacy_level_options:
        raise posting_error("privacy_level_option_mismatch")
    if info.get("brand_content_toggle") and value == "SELF_ONLY":
        raise invalid_param("Branded content cannot be private (SELF_ONLY).")
    return value


def _able_to_post(user: SandboxUser) -> None:
    if user.posting_refusal:
        raise posting_error(user.posting_refusal)


def _recent_posts(token: Token) -> list[SandboxPost]:
    since = current_sandbox().clock() - DAY
    return [
        post
        for post in current_sandbox().posts
        if post.client_key == token.client_key and post.created_at > since
    ]


def _direct_post_allowed(token: Token, user: SandboxUser, privacy: str) -> None:
    """What TikTok refuses an app before its audit."""
    app = current_sandbox().find_app(token.client_key)
    if app is None or app.audited:
        return
    if privacy != "SELF_ONLY" or not user.private_account:
        raise posting_error("unaudited_client_can_only_post_to_private_accounts")
    others = {post.open_id for post in _recent_posts(token)} - {user.open_id}
    if len(others) >= UNAUDITED_USER_CAP:
        raise posting_error("reached_active_user_cap")


def _inbox_has_room(token: Token) -> None:
    pending = [
        post
        for post in _recent_posts(token)
        if post.open_id == token.open_id
        and post.post_mode == "MEDIA_UPLOAD"
        and post.status != "FAILED"
    ]
    if len(pending) >= MAX_PENDING_SHARES:
        raise posting_error("spam_risk_too_many_pending_share")


def _media_url(url: object) -> str:
    sandbox = current_sandbox()
    return check_media_url(
        url,
        sandbox.verified_url_prefixes,
        pull_from_loopback=sandbox.pull_from_loopback,
    )


def _video_post_info(body: dict[str, Any], user: SandboxUser) -> dict[str, Any]:
    info = _object(body, "post_info")
    _text(info, "title", MAX_VIDEO_TITLE)
    _flags(info, _VIDEO_FLAGS)
    if "video_cover_timestamp_ms" in info:
        _count(info, "video_cover_timestamp_ms")
    _privacy(info, user)
    return info


def _video_source(body: dict[str, Any]) -> tuple[dict[str, Any], ChunkLayout | None]:
    info = _object(body, "source_info")
    source = info.get("source")
    if source == "FILE_UPLOAD":
        sizes = [
            _count(info, name)
            for name in ("video_size", "chunk_size", "total_chunk_count")
        ]
        try:
            return info, check_layout(*sizes)
        except LayoutError as exc:
            raise invalid_param(str(exc)) from None
    if source == "PULL_FROM_URL":
        _media_url(info.get("video_url"))
        return info, None
    raise invalid_param("source_info.source must be FILE_UPLOAD or PULL_FROM_URL.")


def _photo_post_info(
    body: dict[str, Any], user: SandboxUser, *, direct: bool
) -> dict[str, Any]:
    info = body.get("post_info", {})
    if not isinstance(info, dict):
        raise invalid_param("post_info must be a JSON object.")
    _text(info, "title", MAX_PHOTO_TITLE)
    _text(info, "description", MAX_PHOTO_DESCRIPTION)
    if direct:
        _flags(info, _PHOTO_FLAGS)
        _privacy(info, user)
    return info


def _photo_source(body: dict[str, Any]) -> dict[str, Any]:
    info = _object(body, "source_info")
    if info.get("source") != "PULL_FROM_URL":
        raise invalid_param(
            "Photos are posted from URLs: source must be PULL_FROM_URL."
        )
    images = info.get("photo_images")
    if not isinstance(images, list) or not 1 <= len(images) <= MAX_PHOTOS:
        raise invalid_param(f"photo_images must list 1 to {MAX_PHOTOS} URLs.")
    for url in images:
        _media_url(url)
    if _count(info, "photo_cover_index") >= len(images):
        raise invalid_param("photo_cover_index must index photo_images (0-based).")
    return info


# -- creating posts ---------------------------------------------------------------


def _create(
    token: Token,
    *,
    media_type: str,
    post_mode: str,
    post_info: dict[str, Any],
    source_info: dict[str, Any],
    layout: ChunkLayout | None,
) -> SandboxPost:
    sandbox = current_sandbox()
    upload = layout is not None
    kind = "".join(
        (
            "v" if media_type == "VIDEO" else "p",
            "_pub_" if post_mode == "DIRECT_POST" else "_inbox_",
            "file" if upload else "url",
        )
    )
    fault = current_fault()
    now = sandbox.clock()
    post = SandboxPost(
        publish_id=ids.new_publish_id(kind),
        client_key=token.client_key,
        open_id=token.open_id or "",
        media_type=media_type,
        post_mode=post_mode,
        source=source_info["source"],
        post_info=post_info,
        source_info=source_info,
        created_at=now,
        stage="upload" if upload else "download",
        status="PROCESSING_UPLOAD" if upload else "PROCESSING_DOWNLOAD",
        planned_failure=fault.fail_reason if fault is not None else None,
    )
    if upload:
        post.layout = layout
        post.upload_id = ids.new_upload_id()
        post.upload_token = ids.new_upload_token()
        post.upload_expires_at = now + sandbox.upload_url_lifetime
    sandbox.post_store.add(post)
    return post


def _created(post: SandboxPost) -> Response:
    data = {"publish_id": post.publish_id}
    if post.upload_id is not None:
        data["upload_url"] = url_for(
            "sandbox_upload.put_chunk",
            upload_id=post.upload_id,
            upload_token=post.upload_token,
            _external=True,
        )
    return envelope(data)


# -- the endpoints ----------------------------------------------------------------


@posting.post("/v2/post/publish/creator_info/query/")
@tiktok_endpoint("creator_info")
def creator_info() -> Response:
    """What the creator may post; a creator who cannot post gets HTTP 200 + code."""
    _, user = _authorized([PUBLISH_SCOPE], limit="creator_info")
    avatar = user.avatar_url or url_for(
        "sandbox_pages.avatar", open_id=user.open_id, _external=True
    )
    data = {
        "creator_avatar_url": avatar,
        "creator_username": user.username,
        "creator_nickname": user.display_name,
        "privacy_level_options": user.privacy_level_options,
        "comment_disabled": user.comment_disabled,
        "duet_disabled": user.duet_disabled,
        "stitch_disabled": user.stitch_disabled,
        "max_video_post_duration_sec": user.max_video_post_duration_sec,
    }
    if user.posting_refusal:
        _, message = POSTING_ERRORS[user.posting_refusal]
        return envelope(data, user.posting_refusal, message)
    return envelope(data)


@posting.post("/v2/post/publish/video/init/")
@tiktok_endpoint("video_init")
def video_init() -> Response:
    """Start a direct post of a video: from a file upload or a URL."""
    token, user = _authorized([PUBLISH_SCOPE], limit="video_init")
    body = _body()
    _able_to_post(user)
    post_info = _video_post_info(body, user)
    _direct_post_allowed(token, user, post_info["privacy_level"])
    source_info, layout = _video_source(body)
    return _created(
        _create(
            token,
            media_type="VIDEO",
            post_mode="DIRECT_POST",
            post_info=post_info,
            source_info=source_info,
            layout=layout,
        )
    )


@posting.post("/v2/post/publish/inbox/video/init/")
@tiktok_endpoint("inbox_video_init")
def inbox_video_init() -> Response:
    """Send a video to the creator's inbox as a draft."""
    token, user = _authorized([UPLOAD_SCOPE], limit="inbox_video_init")
    body = _body()
    _able_to_post(user)
    _inbox_has_room(token)
    source_info, layout = _video_source(body)
    return _created(
        _create(
            token,
            media_type="VIDEO",
            post_mode="MEDIA_UPLOAD",
            post_info={},
            source_info=source_info,
            layout=layout,
        )
    )


@posting.post("/v2/post/publish/content/init/")
@tiktok_endpoint("content_init")
def content_init() -> Response:
    """Post photos (``media_type`` ``PHOTO``) directly or as an inbox draft."""
    user_token()
    body = _body()
    if body.get("media_type") != "PHOTO":
        raise invalid_param("media_type must be PHOTO.")
    post_mode = body.get("post_mode")
    if post_mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        raise invalid_param("post_mode must be DIRECT_POST or MEDIA_UPLOAD.")
    direct = post_mode == "DIRECT_POST"
    token, user = _authorized(
        [PUBLISH_SCOPE if direct else UPLOAD_SCOPE], limit="content_init"
    )
    _able_to_post(user)
    post_info = _photo_post_info(body, user, direct=direct)
    if direct:
        _direct_post_allowed(token, user, post_info["privacy_level"])
    else:
        _inbox_has_room(token)
    return _created(
        _create(
            token,
            media_type="PHOTO",
            post_mode=post_mode,
            post_info=post_info,
            source_info=_photo_source(body),
            layout=None,
        )
    )


def _own_post(token: Token) -> SandboxPost:
    publish_id = _body().get("publish_id")
    if not isinstance(publish_id, str) or not publish_id:
        raise invalid_param("publish_id is required.")
    post = current_sandbox().post_store.get(publish_id)
    if post is None:
        raise posting_error("invalid_publish_id")
    if post.client_key != token.client_key or post.open_id != token.open_id:
        raise posting_error("token_not_authorized_for_specified_publish_id")
    return post


@posting.post("/v2/post/publish/status/fetch/")
@tiktok_endpoint("post_status")
def status_fetch() -> Response:
    """A post's status; then (by default) the post moves one step on."""
    token, _ = _authorized([UPLOAD_SCOPE, PUBLISH_SCOPE], limit="post_status")
    post = _own_post(token)
    data = post.status_data()
    sandbox = current_sandbox()
    if sandbox.advance_posts_on_status:
        sandbox.post_store.step(post)
    return envelope(data)


@posting.post("/v2/post/publish/cancel/")
@tiktok_endpoint("post_cancel")
def cancel() -> Response:
    """Cancel a ``PULL_FROM_URL`` post whose download has not finished."""
    token, _ = _authorized([UPLOAD_SCOPE, PUBLISH_SCOPE], limit=None)
    if not current_sandbox().post_store.cancel(_own_post(token)):
        raise posting_error("publish_not_cancellable")
    return envelope({})
