"""What a chunked upload costs: memory and throughput against a bare loop.

Run by hand (``pip install -e ".[dev]"`` first)::

    python benchmarks/upload.py [--size-mb 300] [--chunk-size 10000000]
        [--rounds 3] [--json FILE]

Serves flask-tiktok's sandbox on loopback and uploads one sparse file of
``--size-mb`` MB (decimal) to it (a ``SELF_ONLY`` direct post), in interleaved rounds of
two contenders, each in a fresh process (its peak RSS is its own):

- ``flask-tiktok``: ``TikTokClient.publish_video(token, path, ...)``, which streams
  each chunk from the file a block at a time;
- ``bare requests``: the same init, then a ``requests.put`` loop sending the
  same chunks (read whole into memory, as such loops do) to the same
  ``upload_url``.

Reports each one's median throughput (MB/s), the ratio flask-tiktok / bare,
and the peak RSS growth during the upload (sampled every 2 ms from
``/proc/self/statm``, MB) next to 3 x the chunk size. The
sandbox hashes what it receives; both must deliver the file's bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

KEY = "sandbox-client-key"
SECRET = "sandbox-client-secret"
ALICE = "sandbox-open-id-alice"
CONTENDERS = ("flask-tiktok", "bare requests")


def _rss() -> int:
    """This process's resident set now, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


class _Sampler(threading.Thread):
    """The highest RSS seen while the upload runs (sampled every 2 ms)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.start_rss = _rss()
        self.peak = self.start_rss
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.002):
            self.peak = max(self.peak, _rss())


def _bare_upload(api: str, token: str, path: Path, chunk_size: int) -> str:
    import requests

    size = path.stat().st_size
    count = max(1, size // chunk_size) if size > 64_000_000 else 1
    chunk = chunk_size if count > 1 else size
    init = requests.post(
        f"{api}post/publish/video/init/",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=UTF-8",
        },
        data=json.dumps(
            {
                "post_info": {"privacy_level": "SELF_ONLY"},
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": size,
                    "chunk_size": chunk,
                    "total_chunk_count": count,
                },
            }
        ),
        timeout=30,
    ).json()["data"]
    with path.open("rb") as file, requests.Session() as session:
        for index in range(count):
            start = index * chunk
            length = size - start if index == count - 1 else chunk
            answer = session.put(
                init["upload_url"],
                data=file.read(length),
                headers={
                    "Content-Type": "video/mp4",
                    "Content-Range": f"bytes {start}-{start + length - 1}/{size}",
                },
                timeout=300,
            )
            assert answer.status_code in (201, 206), answer.text
    return str(init["publish_id"])


def child(contender: str, api: str, token: str, path: Path, chunk_size: int) -> None:
    """One upload in this process; prints seconds, RSS growth, publish_id."""
    import requests  # noqa: F401 (imported before the baseline)

    from flask_tiktok import TikTokClient

    client = TikTokClient(KEY, SECRET, None, api_base_url=api, timeout=60)
    sampler = _Sampler()
    sampler.start()
    started = time.perf_counter()
    if contender == "flask-tiktok":
        publish_id = client.publish_video(
            token, path, privacy_level="SELF_ONLY", chunk_size=chunk_size
        )
    else:
        publish_id = _bare_upload(api, token, path, chunk_size)
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    rss = max(sampler.peak, _rss()) - sampler.start_rss
    print(json.dumps({"seconds": seconds, "rss": rss, "publish_id": publish_id}))


def sparse(directory: Path, size: int) -> tuple[Path, str]:
    path = directory / "video.mp4"
    with path.open("wb") as file:
        file.truncate(size)
        for offset in range(0, size, 1_000_000):
            file.seek(offset)
            file.write(offset.to_bytes(8, "big")[: size - offset])
    sha = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            sha.update(block)
    return path, sha.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=300)
    parser.add_argument("--chunk-size", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        contender, api, token, path = args.child
        child(contender, api, token, Path(path), args.chunk_size)
        return 0

    from flask_tiktok.sandbox import Sandbox

    size = int(args.size_mb * 1_000_000)
    sandbox = Sandbox()
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in CONTENDERS}
    with tempfile.TemporaryDirectory() as folder, sandbox.serve() as server:
        path, sha = sparse(Path(folder), size)
        api = f"{server.url}/v2/"
        for _ in range(args.rounds):
            for contender in CONTENDERS:
                token = str(
                    sandbox.authorize(KEY, ALICE, ["video.publish"])["access_token"]
                )
                run = subprocess.run(  # noqa: S603 (this script, this interpreter)
                    [
                        sys.executable,
                        __file__,
                        "--chunk-size",
                        str(args.chunk_size),
                        "--child",
                        contender,
                        api,
                        token,
                        str(path),
                    ],
                    capture_output=True,
                    text=True,
                )
                if run.returncode:
                    raise SystemExit(f"{contender} failed:\n{run.stderr}")
                figures = json.loads(run.stdout)
                post = sandbox.find_post(figures["publish_id"])
                assert post is not None and post.sha256 == sha, contender
                assert post.uploaded_bytes == size, contender
                results[contender].append(figures)
    report: dict[str, Any] = {
        "size": size,
        "chunk_size": args.chunk_size,
        "rounds": args.rounds,
    }
    for contender, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        rss = max(r["rss"] for r in runs)
        report[contender] = {"mb_per_s": size / 1e6 / seconds, "peak_rss_growth": rss}
        print(
            f"{contender:>14}: {size / 1e6 / seconds:8.1f} MB/s (median),"
            f" peak RSS growth {rss / 1e6:6.1f} MB"
        )
    ratio = report["flask-tiktok"]["mb_per_s"] / report["bare requests"]["mb_per_s"]
    report["throughput_ratio"] = ratio
    bound = 3 * min(args.chunk_size, size)
    growth = report["flask-tiktok"]["peak_rss_growth"]
    print(
        f"throughput flask-tiktok / bare: {ratio:.2f}; flask-tiktok's RSS growth"
        f" {growth / 1e6:.1f} MB against 3 x chunk = {bound / 1e6:.0f} MB"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
