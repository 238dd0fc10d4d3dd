"""``python -m flask_tiktok.sandbox``: run the sandbox on its own."""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Sequence

from .core import Sandbox


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a default sandbox until interrupted; print what a client needs."""
    parser = argparse.ArgumentParser(
        prog="python -m flask_tiktok.sandbox",
        description=(
            "A local stand-in for TikTok's v2 OAuth, Display and Content Posting APIs."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="default: 8765")
    parser.add_argument(
        "--auto-approve-as",
        metavar="OPEN_ID",
        help="skip the consent page and log in as this user",
    )
    parser.add_argument(
        "--verified-url-prefix",
        metavar="PREFIX",
        action="append",
        default=[],
        help="a URL prefix PULL_FROM_URL media may come from (repeatable)",
    )
    args = parser.parse_args(argv)
    sandbox = Sandbox(
        auto_approve_as=args.auto_approve_as,
        verified_url_prefixes=args.verified_url_prefix,
    )
    with sandbox.serve(args.host, args.port, log_requests=True) as server:
        print(f"TikTok sandbox (NOT TikTok) on {server.url}/")
        for key, value in sandbox.config_for(server.url).items():
            print(f"  {key} = {value}")
        app = sandbox.apps[0]
        print(f"  redirect URIs: {', '.join(app.redirect_uris)} (any loopback port)")
        for user in sandbox.users:
            print(f"  user {user.open_id} ({user.display_name})")
        print("Press Ctrl+C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
