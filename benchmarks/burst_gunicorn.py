"""gunicorn settings of the refresh-burst row: each worker says it is up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def post_worker_init(worker: Any) -> None:
    Path(os.environ["BENCH_READY_DIR"], str(os.getpid())).touch()
