"""What a newcomer runs: the adapter with its embedded emulator, and the emulator alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AGENTS_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "agents_core", *args, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield process, base
    finally:
        process.terminate()
        # Read what it printed and close the pipe (the banner is checked after the block).
        process.output, _ = process.communicate(timeout=10)  # type: ignore[attr-defined]


def test_serve_with_no_azure_settings_answers_from_the_emulator() -> None:
    with running("serve") as (process, base):
        first = httpx.post(
            f"{base}/v1/chat/completions",
            json={"model": "echo", "messages": [{"role": "user", "content": "My name is Ada"}]},
            timeout=30,
        ).json()
        second = httpx.post(
            f"{base}/v1/chat/completions",
            json={
                "model": "echo",
                "thread_id": first["thread_id"],
                "messages": [{"role": "user", "content": "What is my name?"}],
            },
            timeout=30,
        ).json()
        assert second["choices"][0]["message"]["content"] == "Your name is Ada."
        models = httpx.get(f"{base}/v1/models").json()
        assert {"echo", "tools", "instructions", "echo:1"} <= {m["id"] for m in models["data"]}
    banner = process.output  # type: ignore[attr-defined]
    assert "LOCAL FOUNDRY EMULATOR" in banner and "Playground: http://127.0.0.1:" in banner
    assert "curl http://127.0.0.1:" in banner and '"model": "echo"' in banner
    assert "A2A: http://127.0.0.1:" in banner


def test_a_port_in_use_is_said_before_any_banner() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AGENTS_"))}
        result = subprocess.run(
            [sys.executable, "-m", "agents_core", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert f"PORT={port + 1}" in result.stderr
    assert "Foundry agents adapter on" not in result.stdout


def test_emulator_alone_serves_the_project_api() -> None:
    with running("emulator") as (_, base):
        agent = httpx.get(
            f"{base}/api/projects/any-name/assistants/asst_echo",
            params={"api-version": "v1"},
            headers={"Authorization": "Bearer anything"},
        )
        assert agent.status_code == 200 and agent.json()["id"] == "asst_echo"
        unauthenticated = httpx.get(
            f"{base}/api/projects/any-name/assistants/asst_echo", params={"api-version": "v1"}
        )
        assert unauthenticated.status_code == 401


def test_make_run_passes_args_through() -> None:
    dry = subprocess.run(
        ["make", "-n", "-o", ".venv/.runtime", "run", "ARGS=--emulator --allow-open"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    assert "agents_core serve --host 127.0.0.1 --port 7071 --emulator --allow-open" in dry.stdout


def test_readme_a2a_sdk_snippet_runs_as_written() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python\nimport asyncio\n\nimport httpx\nfrom a2a.client")
    snippet = readme[start + len("```python\n") : readme.index("```", start + 10)]
    with running("serve") as (_, base):
        result = subprocess.run(
            [sys.executable, "-c", snippet.replace("http://127.0.0.1:7071", base)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "TASK_STATE_COMPLETED" in result.stdout or "completed" in result.stdout.lower()
