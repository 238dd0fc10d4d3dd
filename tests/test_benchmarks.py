"""The benchmarks still run (one tiny round each; their figures are measured
by hand, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("bench_protected.py", ["--rounds", "1", "--requests", "2"]),
        (
            "bench_accounts.py",
            ["--rounds", "1", "--requests", "2", "--accounts", "60", "--database", ""],
        ),
    ],
)
def test_a_benchmark_runs_one_round(script: str, args: list[str]) -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-W", "error", str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "us/request" in result.stdout
    if script == "bench_accounts.py":
        assert "60 refreshed, 60 refresh calls to TikTok" in result.stdout


def test_the_upload_benchmark_runs_one_round(tmp_path: Path) -> None:
    figures = tmp_path / "upload.json"
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-W",
            "error",
            str(BENCHMARKS / "upload.py"),
            "--size-mb",
            "70",
            "--rounds",
            "1",
            "--json",
            str(figures),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "throughput flask-tiktok / bare" in result.stdout
    report = json.loads(figures.read_text())
    assert report["size"] == 70_000_000
    assert set(report) >= {"flask-tiktok", "bare requests", "throughput_ratio"}
