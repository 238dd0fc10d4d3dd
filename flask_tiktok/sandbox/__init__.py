"""A local stand-in for TikTok's v2 OAuth, Display and Content Posting APIs.

It imports nothing from the rest of ``flask_tiktok``: an independent fake catches
the client's mistakes only if it shares none of its code.
"""

from __future__ import annotations

from .calls import Call
from .core import Sandbox
from .models import SandboxApp, SandboxUser, SandboxVideo
from .posts import SandboxPost
from .server import SandboxServer
from .webhooks import WebhookDelivery

__all__ = [
    "Call",
    "Sandbox",
    "SandboxApp",
    "SandboxPost",
    "SandboxServer",
    "SandboxUser",
    "SandboxVideo",
    "WebhookDelivery",
]
