"""Node.js and the npm packages a folder's `package-lock.json` pins, installed with `npm ci`.

Tests that drive JavaScript clients call `node_with_packages(folder)`: it skips
the test, saying why, without Node 20+ or npm, or when the registry cannot be
reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def node_with_packages(folder: Path) -> str:
    """The `node` binary, with `folder`'s locked packages installed (or a skip with the reason)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("JavaScript clients: Node.js 20+ and npm are not installed")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    major = int(version.stdout.strip().lstrip("v").split(".")[0] or 0)
    if major < 20:
        pytest.skip(f"JavaScript clients: Node.js 20+ needed, found {version.stdout.strip()}")
    lock = folder / "package-lock.json"
    stamp = folder / "node_modules" / ".package-lock.json"  # written by npm ci / npm install
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "npm_config_update_notifier": "false"},
        )
        if installed.returncode != 0:
            tail = (installed.stderr or installed.stdout).strip().splitlines()[-5:]
            pytest.skip(
                "JavaScript clients: npm ci failed (registry unreachable?): " + " | ".join(tail)
            )
    return node
