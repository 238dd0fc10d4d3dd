"""The sandbox's data: registered apps, users and their videos, and the demo set."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

#: The client key of the app :func:`default_apps` registers.
DEFAULT_CLIENT_KEY = "sandbox-client-key"
#: The client secret of the app :func:`default_apps` registers.
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 (public, fake)
#: The redirect URI of the app :func:`default_apps` registers (any port matches).
DEFAULT_REDIRECT_URI = "http://127.0.0.1/tiktok/callback"


@dataclass
class SandboxApp:
    """An app registered with the sandbox, as in TikTok's developer portal.

    ``redirect_uris`` match exactly, except that a registered ``http`` URI on a
    loopback host (``127.0.0.1``, ``localhost``, ``[::1]``) matches the same path on
    any port (RFC 8252 7.3) and any of those loopback names (so a Flask test
    client's ``http://localhost/...`` passes).
    ``webhook_url`` is where :meth:`Sandbox.send_webhook` posts events.
    An app that is not ``audited`` may only post ``SELF_ONLY`` content, for at
    most five users a day, as TikTok restricts apps before their audit.
    """

    client_key: str = DEFAULT_CLIENT_KEY
    client_secret: str = DEFAULT_CLIENT_SECRET
    name: str = "Sandbox Demo App"
    redirect_uris: list[str] = field(default_factory=lambda: [DEFAULT_REDIRECT_URI])
    webhook_url: str | None = None
    audited: bool = True

    def allows_redirect_uri(self, uri: str) -> bool:
        """Whether ``uri`` is registered, loopback URIs matching on any port."""
        if uri in self.redirect_uris:
            return True
        try:
            asked = urlsplit(uri)
            if asked.port == 0:  # .port also raises ValueError when out of range
                return False
        except ValueError:
            return False
        if asked.scheme != "http" or asked.hostname not in _LOOPBACK_HOSTS:
            return False
        for registered in map(urlsplit, self.redirect_uris):
            if (
                registered.scheme == "http"
                and registered.hostname in _LOOPBACK_HOSTS
                and registered.path == asked.path
                and registered.query == asked.query
                and not asked.fragment
                and not asked.username
                and not asked.password
            ):
                return True
        return False


@dataclass
class SandboxVideo:
    """One of a user's public videos; URLs are made up by the sandbox when served.

    ``create_time`` is in epoch seconds, as TikTok answers it; keep it unique per
    user, because the video list pages on it (as TikTok's does).
    """

    id: str
    create_time: int
    title: str = ""
    video_description: str = ""
    duration: int = 15
    width: int = 1080
    height: int = 1920
    like_count: int = 0
    comment_count: int = 0
    share_count: int = 0
    view_count: int = 0


@dataclass
class SandboxUser:
    """A TikTok account that can log in through the sandbox's consent page.

    Blank ``union_id``, ``display_name`` and ``username`` are derived from
    ``open_id``. ``avatar_url=None`` makes the sandbox serve a generated SVG avatar.
    ``video_count=None`` means ``len(videos)``.

    The rest is what the Content Posting API's ``creator_info`` says about them:
    a ``private_account`` offers ``FOLLOWER_OF_CREATOR`` instead of
    ``PUBLIC_TO_EVERYONE``; ``posting_refusal`` (``spam_risk_too_many_posts``,
    ``spam_risk_user_banned_from_posting`` or ``reached_active_user_cap``) is
    why they cannot post now: ``creator_info`` answers it with HTTP 200 and every
    init with 403.
    """

    open_id: str
    union_id: str = ""
    display_name: str = ""
    username: str = ""
    avatar_url: str | None = None
    bio_description: str = ""
    is_verified: bool = False
    follower_count: int = 0
    following_count: int = 0
    likes_count: int = 0
    video_count: int | None = None
    videos: list[SandboxVideo] = field(default_factory=list)
    private_account: bool = False
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    max_video_post_duration_sec: int = 600
    posting_refusal: str | None = None

    @property
    def privacy_level_options(self) -> list[str]:
        """The privacy levels this creator may post with, as TikTok lists them."""
        audience = (
            "FOLLOWER_OF_CREATOR" if self.private_account else "PUBLIC_TO_EVERYONE"
        )
        return [audience, "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]

    def __post_init__(self) -> None:
        if not self.union_id:
            self.union_id = f"union-{self.open_id}"
        if not self.username:
            self.username = self.open_id.lower().replace("_", ".")
        if not self.display_name:
            self.display_name = self.username


_WORDS = [
    *("sunset", "skate", "dance", "recipe", "coffee", "city", "rain", "puppy"),
    *("guitar", "ocean", "lake", "prank", "study", "tutorial", "sketch", "garden"),
    *("bread", "hike", "vlog", "night", "market", "tram", "mountain"),
]


def demo_videos(
    seed: int, count: int, *, newest: int = 1_760_000_000
) -> list[SandboxVideo]:
    """Make ``count`` deterministic videos, newest first, with unique create times."""
    rng = random.Random(seed)  # noqa: S311 (demo data must be reproducible)
    videos = []
    created = newest
    for index in range(count):
        created -= rng.randint(3_600, 5 * 86_400)
        words = rng.sample(_WORDS, 3)
        title = " ".join(words).capitalize()
        views = rng.randint(200, 2_000_000)
        videos.append(
            SandboxVideo(
                id=str(7_300_000_000_000_000_000 + seed * 1_000_000 + index),
                create_time=created,
                title=title,
                video_description=f"{title} #{words[0]} #{words[1]} #sandbox",
                duration=rng.randint(5, 180),
                like_count=views // rng.randint(5, 40),
                comment_count=views // rng.randint(200, 2_000),
                share_count=views // rng.randint(300, 3_000),
                view_count=views,
            )
        )
    return videos


def default_apps() -> list[SandboxApp]:
    """The single demo app ``Sandbox()`` registers when given no ``apps``."""
    return [SandboxApp()]


#: The demo users: :class:`SandboxUser`'s fields in their order, from
#: ``open_id`` to ``likes_count``, then the seed and number of their videos,
#: then what ``creator_info`` says about them.
_DEMO_USERS = (
    (("sandbox-open-id-alice", "sandbox-union-id-alice", "Alice Sandbox",
      "alice.sandbox", None,
      "Dancing through the sandbox. Not a real TikTok account.",
      True, 128_400, 311, 2_904_117), 1, 45,
     {"duet_disabled": True}),
    (("sandbox-open-id-bob", "sandbox-union-id-bob", "Bob Sandbox <test>",
      "bob_sandbox", None, "Cooking & coding.\nSecond line of the bio.",
      False, 42, 1_024, 880), 2, 46,
     {"private_account": True, "comment_disabled": True,
      "stitch_disabled": True, "max_video_post_duration_sec": 180}),
    (("sandbox-open-id-carol", "sandbox-union-id-carol", "Carol Sandbox",
      "carol.sandbox", None, "Posted too much today.",
      False, 7_310, 95, 51_200), 3, 12,
     {"max_video_post_duration_sec": 300,
      "posting_refusal": "spam_risk_too_many_posts"}),
)  # fmt: skip


def default_users() -> list[SandboxUser]:
    """The demo users ``Sandbox()`` knows when given no ``users``.

    ``sandbox-open-id-alice`` has a public account (duets disabled),
    ``sandbox-open-id-bob`` a private one (comments and stitches disabled,
    videos up to 180 s), and ``sandbox-open-id-carol`` has hit TikTok's posting
    cap (``spam_risk_too_many_posts``).
    """
    return [
        SandboxUser(*fields, videos=demo_videos(seed, count), **creator)
        for fields, seed, count, creator in _DEMO_USERS
    ]
