"""``python -m benchmarks --smoke`` runs every row once, tiny, and writes its
JSON and chart (the figures are measured by hand, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqla_support import database

ROOT = Path(__file__).resolve().parent.parent
ROWS = {
    "protected_cookie",
    "protected_sqlite",
    "protected_postgresql",
    "webhooks_postgresql",
    "jobs_postgresql",
    "refresh_burst",
    "login_postgresql",
    "cookie",
}


def test_a_smoke_run_measures_every_row_and_writes_the_json_and_chart(
    tmp_path: Path,
) -> None:
    with database("postgresql", tmp_path) as db:
        url = f"{db.url}?options=-csearch_path%3D{db.schema}"
        result = subprocess.run(  # noqa: S603
            [
                *(sys.executable, "-W", "error", "-m", "benchmarks", "--smoke"),
                *("--postgres", url, "--out", str(tmp_path)),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "results.json").read_text())
    assert set(report["rows"]) == ROWS
    protected = report["rows"]["protected_postgresql"]
    assert set(protected["variants"]) == {
        "flask-tiktok",
        "flask-tiktok, 1 s user cache",
        "Flask-Login + Flask-Dance",
        "floor",
    }
    assert protected["variants"]["floor"]["ratio"] == 1.0
    # One primary-key read, no transaction statement of its own.
    assert len(protected["statements"]) == 1
    assert protected["statements"][0].startswith("SELECT")
    assert report["rows"]["refresh_burst"]["refresh_calls_per_burst"] == [1]
    assert "hand-written Authlib" in report["rows"]["jobs_postgresql"]["variants"]
    assert (tmp_path / "performance.svg").read_text().startswith("<svg")
    assert "protected_cookie: flask-tiktok" in result.stdout


def test_the_upload_benchmark_runs_one_round(tmp_path: Path) -> None:
    figures = tmp_path / "upload.json"
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-W",
            "error",
            str(ROOT / "benchmarks" / "upload.py"),
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
