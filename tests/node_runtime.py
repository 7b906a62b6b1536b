"""Node.js for the tests that drive npm clients (tests/node/): the ``node`` binary, with the
packages of tests/node/package.json installed from its lock file (``npm ci``; the lock file
pins versions and integrity hashes, so a warm npm cache installs offline).

Without ``node`` or ``npm`` these tests skip locally and fail when ``CI`` is set."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"
MIN_NODE_MAJOR = 20


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required when CI is set)")
    pytest.skip(reason)


def _missing_packages() -> list[str]:
    manifest = json.loads((NODE_DIR / "package.json").read_text())
    return [
        name
        for name in manifest.get("dependencies", {})
        if not (NODE_DIR / "node_modules" / name / "package.json").exists()
    ]


def node_binary() -> str:
    """The ``node`` binary (20 or later), after ``npm ci`` if a locked package is missing."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed")
    assert node is not None
    # pytest-xdist workers share tests/node: one installs while the others wait on the lock.
    with open(NODE_DIR / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _missing_packages():
            _npm_ci()
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    assert major >= MIN_NODE_MAJOR, f"the npm clients need Node {MIN_NODE_MAJOR}+, not {version}"
    return node


def _npm_ci() -> None:
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed")
    assert npm is not None
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    assert not _missing_packages(), _missing_packages()
