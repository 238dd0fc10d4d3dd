"""``python -m flask_tiktok.sandbox``: run the sandbox on its own."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Sequence

from .core import Sandbox
from .server import is_loopback


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a default sandbox until interrupted; print what a client needs."""
    parser = argparse.ArgumentParser(
        prog="python -m flask_tiktok.sandbox",
        description="A local stand-in for TikTok's v2 OAuth and Display API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="default: 8765")
    parser.add_argument(
        "--auto-approve-as",
        metavar="OPEN_ID",
        help="skip the consent page and log in as this user",
    )
    args = parser.parse_args(argv)
    sandbox = Sandbox(auto_approve_as=args.auto_approve_as)
    with sandbox.serve(args.host, args.port, log_requests=True) as server:
        if not is_loopback(args.host):
            print(public_warning(server.url), file=sys.stderr, flush=True)
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


def public_warning(url: str) -> str:
    """What is printed when the sandbox listens beyond loopback."""
    line = "!" * 72
    return (
        f"{line}\nWARNING: the sandbox listens beyond loopback, on {url}.\n"
        "Anyone who can reach it can log in as its users, without a password,\n"
        "and read their tokens. It is a test double, not TikTok: bind it to\n"
        "127.0.0.1 (the default) unless every machine on this network is yours.\n"
        f"{line}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
