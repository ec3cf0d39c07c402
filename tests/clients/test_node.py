"""JavaScript clients from npm, pinned by `package-lock.json` here and installed with `npm ci`.

Each script in `js/` drives one client against one kind of agent and exits
non-zero on the first failed check. Without Node 20+ or npm, or when the
registry cannot be reached, these tests skip and say why.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clients.matrix import Agents

from node_packages import node_with_packages

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` binary, with the lock file's packages installed (or a skip with the reason)."""
    return node_with_packages(HERE)


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
