"""Check the built wheel and sdist hold what a release needs.

Usage: python .ci/check_dist.py DIST_DIR
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

WHEEL_FILES = [
    "flask_tiktok/py.typed",
    "flask_tiktok/templates/tiktok/error.html",
    "flask_tiktok/sandbox/templates/base.html",
    "flask_tiktok/sandbox/templates/consent.html",
    "flask_tiktok/sandbox/templates/error.html",
    "flask_tiktok/sandbox/templates/home.html",
]
SDIST_FILES = [
    "LICENSE",
    "README.md",
    "CHANGES.md",
    "CONTRIBUTING.md",
    "pyproject.toml",
    "docs/conf.py",
    "docs/index.rst",
    "tests/conftest.py",
    "examples/basic/app.py",
    "benchmarks/run.py",
    *WHEEL_FILES,
]
SDIST_DIRS = ["tests/", "docs/", "examples/", "benchmarks/"]


def main(dist: Path) -> int:
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = set(zf.namelist())
    with tarfile.open(sdist) as tf:
        # Drop the "flask_tiktok-X.Y.Z/" top directory.
        in_sdist = {name.partition("/")[2] for name in tf.getnames()}
    problems = [f"wheel lacks {name}" for name in WHEEL_FILES if name not in in_wheel]
    problems += [f"sdist lacks {name}" for name in SDIST_FILES if name not in in_sdist]
    problems += [
        f"sdist has nothing under {prefix}"
        for prefix in SDIST_DIRS
        if not any(n.startswith(prefix) and n != prefix for n in in_sdist)
    ]
    problems += [
        f"wheel ships {n}" for n in in_wheel if n.startswith(("tests/", "docs/"))
    ]
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{wheel.name}: {len(in_wheel)} files; {sdist.name}: {len(in_sdist)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
