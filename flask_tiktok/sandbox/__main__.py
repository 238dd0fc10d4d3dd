"""``python -m flask_tiktok.sandbox``: run the sandbox on its own."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import threading
from collections.abc import Sequence

from .core import Sandbox
from .server import is_loopback


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
    parser.add_argument(
        "--env",
        action="store_true",
        help="print the settings as FLASK_TIKTOK_...=value lines, which a shell"
        " or .env file takes as they are and app.config.from_prefixed_env()"
        " reads (everything else goes to stderr)",
    )
    args = parser.parse_args(argv)
    sandbox = Sandbox(
        auto_approve_as=args.auto_approve_as,
        verified_url_prefixes=args.verified_url_prefix,
    )
    with sandbox.serve(args.host, args.port, log_requests=True) as server:
        if not is_loopback(args.host):
            print(public_warning(server.url), file=sys.stderr, flush=True)
        settings = sandbox.config_for(server.url)
        if args.env:
            for key, value in settings.items():
                print(f"FLASK_{key}={shlex.quote(value)}", flush=True)
        # With --env, stdout holds the settings alone: the prose is for people.
        notes = sys.stderr if args.env else sys.stdout
        print(f"TikTok sandbox (NOT TikTok) on {server.url}/", file=notes)
        if not args.env:
            for key, value in settings.items():
                print(f"  {key} = {value}")
        app = sandbox.apps[0]
        uris = ", ".join(app.redirect_uris)
        print(f"  redirect URIs: {uris} (any loopback port)", file=notes)
        for user in sandbox.users:
            print(f"  user {user.open_id} ({user.display_name})", file=notes)
        print("Press Ctrl+C to stop.", file=notes, flush=True)
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
