"""The client matrix: real client libraries against the real server with its emulator.

Runs with `make clients` (CLIENT_MATRIX=1); a plain `pytest` run (`make test`)
leaves this folder out. The server is started as `python -m agents_core serve`
in a subprocess, exactly as `make run` starts it, with no Azure settings, so it
serves the embedded emulator's demo agents.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from clients.matrix import KINDS, Agents

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

if os.environ.get("CLIENT_MATRIX") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(params=list(KINDS))
def agents(request: pytest.FixtureRequest) -> Agents:
    """Both kinds of Foundry agent: classic (`asst_…`, threads) and versioned (`name:version`)."""
    return KINDS[str(request.param)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(**env: str) -> Iterator[str]:
    """`python -m agents_core serve` on a free loopback port; yields its base URL (no `/v1`)."""
    port = free_port()
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZURE_", "AGENTS_", "CORS_", "GATEWAY_", "EXPOSED_"))
    }
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:  # read if it fails to start
        process = subprocess.Popen(
            [sys.executable, "-m", "agents_core", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**clean, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/v1/models", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the server did not start:\n{log.read()[-3000:]}")
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """One server for the whole matrix: conversations are independent Foundry threads."""
    with running_server() as base:
        yield base


@pytest.fixture
def start_server() -> Iterator[Callable[..., str]]:
    """Start another server with extra environment settings (for CORS); stopped after the test."""
    with ExitStack() as stack:

        def start(**env: str) -> str:
            return stack.enter_context(running_server(**env))

        yield start
