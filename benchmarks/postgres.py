"""A PostgreSQL server of the benchmark's own on loopback, when none is given."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .common import free_port


@dataclass(frozen=True)
class Server:
    #: A SQLAlchemy URL of an empty database.
    url: str
    #: The server's log (for the webhook row's count of ERROR lines), if known.
    log: Path | None


@contextmanager
def server(url: str | None, log: str | None) -> Iterator[Server]:
    """``url`` as it is (with ``log``, its server's log file), or a new server
    in a temporary folder, stopped and deleted afterwards."""
    if url:
        yield Server(
            url.replace("postgresql://", "postgresql+psycopg://", 1), log and Path(log)
        )
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("no PostgreSQL found: install it, or pass --postgres URL")
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="tiktok-bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log_file, port = folder / "data", folder / "server.log", free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True)  # noqa: S603

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        # Room for the 128-process burst (each worker holds a connection).
        options = f"-k {folder} -p {port} -h 127.0.0.1 -c max_connections=400"
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log_file),
            "-w",
            "-o",
            options,
            "start",
        )
        try:
            run(
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "bench",
            )
            yield Server(
                f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench", log_file
            )
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
