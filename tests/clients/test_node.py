"""JavaScript clients from npm, pinned by `package-lock.json` here and installed with `npm ci`.

Each script in `js/` drives one client against one kind of agent and exits
non-zero on the first failed check. Without Node 20+ or npm, or when the
registry cannot be reached, these tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from clients.matrix import Agents

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
STAMP = MODULES / ".package-lock.json"  # written by npm ci / npm install


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` binary, with the lock file's packages installed (or a skip with the reason)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("JavaScript clients: Node.js 20+ and npm are not installed")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    major = int(version.stdout.strip().lstrip("v").split(".")[0] or 0)
    if major < 20:
        pytest.skip(f"JavaScript clients: Node.js 20+ needed, found {version.stdout.strip()}")
    lock = HERE / "package-lock.json"
    if not STAMP.exists() or STAMP.stat().st_mtime < lock.stat().st_mtime:
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
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


@pytest.mark.parametrize(
    "script",
    [
        "openai.mjs",  # openai (npm)
        "ai_sdk.mjs",  # ai + @ai-sdk/openai-compatible
        "a2a.mjs",  # @a2a-js/sdk 1.x
        "a2a03.mjs",  # @a2a-js/sdk 0.3.x
    ],
)
def test_javascript_client(node: str, server: str, agents: Agents, script: str) -> None:
    result = subprocess.run(
        [node, str(HERE / "js" / script), server, agents.kind],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert result.stdout.strip().endswith(": ok"), result.stdout
