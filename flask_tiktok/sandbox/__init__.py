"""A local stand-in for TikTok's v2 OAuth and Display API, for dev, demos and tests.

It imports nothing from the rest of ``flask_tiktok``: an independent fake catches
the client's mistakes only if it shares none of its code.
"""

from __future__ import annotations

from .calls import Call
from .core import Sandbox
from .models import SandboxApp, SandboxUser, SandboxVideo
from .server import SandboxServer

__all__ = [
    "Call",
    "Sandbox",
    "SandboxApp",
    "SandboxServer",
    "SandboxUser",
    "SandboxVideo",
]
