"""Every row of flask-tiktok's performance table, side by side with the peers.

Run from a clone (``pip install -e ".[bench]"`` first)::

    python -m benchmarks [--rounds 15] [--postgres URL --server-log FILE]
        [--out DIR] [--burst-workers 128] [--smoke]

Rows, each in interleaved rounds (the order rotated every round; medians,
and ratios taken within each round):

1-3. a protected request rendering 16 profile reads, on the cookie, SQLite
     and PostgreSQL storages: flask-tiktok, Flask-Login + Flask-Dance, and the
     floor (a route that reads the session and renders the same page from a
     plain object);
4.   new signed webhook events per second on PostgreSQL, against a
     hand-written receiver (``INSERT ... ON CONFLICT DO NOTHING`` in one
     transaction), and the lines 1,000 duplicates add to the server's log;
5.   a job over stored accounts whose tokens expired, calling TikTok as each
     (``tiktok.api_for``), against a hand-written Authlib loop;
6.   N gunicorn processes, one expired login, N simultaneous requests (one
     refresh, TikTok slow to answer) against a burst with a valid token;
7.   a login round trip with PostgreSQL storage, against Flask-Dance and a
     hand-written Authlib login;
8.   the session cookie after a full-field login.

TikTok is flask-tiktok's sandbox on loopback (rows 5, 6) or requests-mock
(the others): nothing reaches the network. Without ``--postgres`` a server of
the run's own is started on loopback (and its log read for row 4). Writes
``results.json`` and ``performance.svg`` to ``--out`` (default
``docs/benchmarks``, which ``docs/performance.rst`` shows).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .burst import burst_row
from .chart import write_chart
from .common import close_all
from .jobs import jobs_row
from .login import cookie_row, login_row
from .postgres import server
from .protected import protected_row
from .webhooks import webhook_row

ROOT = Path(__file__).resolve().parent.parent


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--requests", type=int, default=1000, help="per round, rows 1-3"
    )
    parser.add_argument("--events", type=int, default=300, help="per round, row 4")
    parser.add_argument("--duplicates", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=1000, help="row 5")
    parser.add_argument("--burst-workers", type=int, default=128)
    parser.add_argument("--burst-rounds", type=int, default=3)
    parser.add_argument("--tiktok-delay", type=float, default=1.0, help="row 6")
    parser.add_argument("--logins", type=int, default=50, help="per round, row 7")
    parser.add_argument("--postgres", help="a SQLAlchemy URL (default: start one)")
    parser.add_argument("--server-log", help="that server's log file, for row 4")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    parser.add_argument(
        "--smoke", action="store_true", help="one tiny round of every row (seconds)"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds = args.burst_rounds = 1
        args.requests = args.events = args.logins = 3
        args.duplicates, args.accounts, args.burst_workers = 3, 3, 2
        args.tiktok_delay = 0.2
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _arguments(argv)
    started = time.time()
    with server(args.postgres, args.server_log) as pg:
        sqlite = f"sqlite:///{tempfile.mkdtemp(prefix='tiktok-bench-')}/bench.db"
        rows: dict[str, Callable[[], dict[str, Any]]] = {
            "protected_cookie": lambda: protected_row(None, args.rounds, args.requests),
            "protected_sqlite": lambda: protected_row(
                sqlite, args.rounds, args.requests
            ),
            "protected_postgresql": lambda: protected_row(
                pg.url, args.rounds, args.requests
            ),
            "webhooks_postgresql": lambda: webhook_row(
                pg.url, pg.log, args.rounds, args.events, args.duplicates
            ),
            "jobs_postgresql": lambda: jobs_row(pg.url, args.rounds, args.accounts),
            "refresh_burst": lambda: burst_row(
                pg.url, args.burst_rounds, args.burst_workers, args.tiktok_delay
            ),
            "login_postgresql": lambda: login_row(pg.url, args.rounds, args.logins),
            "cookie": cookie_row,
        }
        results: dict[str, Any] = {}
        for name, row in rows.items():
            print(f"== {name}", file=sys.stderr, flush=True)
            try:
                results[name] = row()
            finally:
                close_all()
            print(_line(name, results[name]), flush=True)
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "rows": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    write_chart(report, args.out / "performance.svg")
    print(f"wrote {args.out / 'results.json'} and {args.out / 'performance.svg'}")
    return report


def _line(name: str, row: dict[str, Any]) -> str:
    variants = row["variants"]
    if name == "refresh_burst":
        parts = [f"{k} p50 {v['median']:.3f} s" for k, v in variants.items()]
        parts.append(
            f"overhead over the delay {row['overhead']:+.3f} s,"
            f" refresh calls {row['refresh_calls_per_burst']}"
        )
    elif name == "cookie":
        parts = [f"{k} {v['median']} B" for k, v in variants.items()]
    else:
        scale, unit = (1.0, row["unit"]) if row["unit"] == "events/s" else (1e6, "µs")
        parts = [
            f"{k} {v['median'] * scale:.1f} {unit} ({v['ratio']:.3f}\u00d7)"
            for k, v in variants.items()
        ]
        if "log_lines_per_duplicates" in row:
            parts.append(
                f"server-log lines for duplicates {row['log_lines_per_duplicates']}"
            )
    return f"{name}: " + "; ".join(parts)
