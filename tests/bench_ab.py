"""Before and after: servers' CPU per completion, measured interleaved against one emulator.

`make bench` measures one checkout, and CPU figures on a shared machine
move by tens of percent between runs. To compare, every server here runs
at once against the same emulator (50 ms per request, 200 ms runs) and
they take turns, round after round, so load from elsewhere lands on all
of them alike. Servers: adapter checkouts (each runs `python -m
agents_core serve` from its own directory with this interpreter), the
floor (`tests/bench_floor.py`: a bare server making the same upstream call,
or in `--mode long` passing the stream's bytes through), and, with
`--litellm`, LiteLLM's proxy (`azure_ai/agents/asst_echo`, its default
settings; install it in a venv of its own: `pip install
'litellm[proxy]==1.100.0'`).

Usage: `.venv/bin/python tests/bench_ab.py [--mode plain|long] [--rounds N]
[--litellm PATH_TO_litellm] CHECKOUT [CHECKOUT ...]`, e.g. a `git worktree`
of the commit before a change and `.`. Prints, per server, the mean and
median ms of CPU (user + system, `/proc/<pid>/stat`) per completion
(`plain`: non-streamed chat, 120 per round) or per 200-delta stream (`long`:
80 per round), 40 at a time, then the emulator's CPU per completion.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from bench import LONG, TOKEN, USER, cpu_seconds, free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 40


def start(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    out = subprocess.DEVNULL
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)


def wait_for_completion(url: str, timeout: float = 120) -> None:
    """Until `url` answers a chat completion (LiteLLM takes seconds to start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = {"model": "echo", "messages": USER}
            if httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


async def measure(
    servers: dict[str, tuple[subprocess.Popen[bytes], str]],
    emulator: subprocess.Popen[bytes],
    mode: str,
    rounds: int,
) -> dict[str, tuple[list[float], list[float]]]:
    """Per server: CPU ms per call in each round, and the emulator's in the same rounds."""
    calls = 3 if mode == "plain" else 2  # batches of CONCURRENCY per round
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in servers}
    limits = httpx.Limits(max_connections=400, keepalive_expiry=1.0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:

        async def one(name: str, url: str) -> None:
            if name == "floor" and mode == "plain":
                (await http.post(url, json={})).raise_for_status()
                return
            target = url if name == "floor" else f"{url}/v1/chat/completions"
            if mode == "plain":
                body: dict[str, Any] = {"model": "echo", "messages": USER}
                (await http.post(target, json=body)).raise_for_status()
                return
            body = {"model": "echo", "stream": True, "messages": LONG}
            async with http.stream("POST", target, json=body) as response:
                response.raise_for_status()
                async for _ in response.aiter_raw():
                    pass

        async def batch(name: str, url: str) -> None:
            await asyncio.gather(*(one(name, url) for _ in range(CONCURRENCY)))

        for name, (_, url) in servers.items():
            for _ in range(2):
                await batch(name, url)
        for _ in range(rounds):
            for name, (process, url) in servers.items():
                server, upstream = cpu_seconds(process.pid), cpu_seconds(emulator.pid)
                for _ in range(calls):
                    await batch(name, url)
                total = calls * CONCURRENCY
                results[name][0].append((cpu_seconds(process.pid) - server) * 1000 / total)
                results[name][1].append((cpu_seconds(emulator.pid) - upstream) * 1000 / total)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--mode", choices=["plain", "long"], default="plain")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--litellm", help="path to LiteLLM's `litellm` executable")
    args = parser.parse_args()
    python = sys.executable
    port = free_port()
    emulator_args = ["--port", str(port), "--latency-ms", "50", "--run-ms", "200"]
    processes = [
        start([python, "-m", "agents_core", "emulator", *emulator_args], ROOT, {**os.environ})
    ]
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        emulator = f"http://127.0.0.1:{port}"
        wait_until_up(f"{emulator}/_emulator/settings")
        if args.mode == "long":
            httpx.post(
                f"{emulator}/_emulator/settings", json={"max_deltas": 200}
            ).raise_for_status()
        project = f"{emulator}/api/projects/bench"
        config = Path(tempfile.mkdtemp()) / "agents.yaml"
        config.write_text(
            "model_list:\n  - model_name: echo\n    litellm_params:\n"
            f"      model: azure_ai/agents/asst_echo\n      api_base: {project}\n"
            f"      api_key: {TOKEN}\n"
        )
        for checkout in args.checkouts:
            checkout = checkout.resolve()
            server_port = free_port()
            env = {**os.environ, "AGENTS_CONFIG": str(config), "PYTHONPATH": str(checkout)}
            command = [python, "-m", "agents_core", "serve", "--port", str(server_port)]
            processes.append(start(command, checkout, env))
            servers[str(checkout)] = (processes[-1], f"http://127.0.0.1:{server_port}")
            wait_until_up(f"{servers[str(checkout)][1]}/v1/models")
        floor_port = free_port()
        floor = [python, str(ROOT / "tests" / "bench_floor.py"), project, str(floor_port), TOKEN]
        processes.append(
            start(floor + (["stream"] if args.mode == "long" else []), ROOT, {**os.environ})
        )
        servers["floor"] = (processes[-1], f"http://127.0.0.1:{floor_port}/")
        wait_until_up(servers["floor"][1])
        if args.litellm:
            litellm_port = free_port()
            env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
            command = [args.litellm, "--config", str(config), "--port", str(litellm_port)]
            processes.append(start(command, config.parent, env))
            servers["litellm"] = (processes[-1], f"http://127.0.0.1:{litellm_port}")
            wait_for_completion(servers["litellm"][1])
        results = asyncio.run(measure(servers, processes[0], args.mode, args.rounds))
    finally:
        for process in processes:
            process.terminate()
    unit = "completion" if args.mode == "plain" else "200-delta stream"
    print(f"CPU ms per {unit}, {CONCURRENCY} concurrent, {args.rounds} interleaved rounds")
    for name, (server, upstream) in results.items():
        print(
            f"{name}: mean {statistics.mean(server):.2f}, median {statistics.median(server):.2f}"
            f" (emulator {statistics.mean(upstream):.2f}); rounds {[round(v, 2) for v in server]}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
