"""Benchmark: what the adapter adds on top of the upstream (`make bench`).

Starts the Foundry emulator with an added per-request latency and run time,
starts the adapter (`python -m agents_core serve`, one worker) in front of
it, and prints a Markdown table: upstream requests per completion, latency
against the floor (one upstream round trip + run time) and against the
same request sent straight to the emulator, time to first token,
concurrency, cold start and memory. Everything runs on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
FLOOR_SERVER = ROOT / "tests" / "bench_floor.py"
USER = [{"role": "user", "content": "Tell me about benchmarks in a few words please"}]
LONG = [{"role": "user", "content": " ".join(f"word{i}" for i in range(399))}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (`/proc/<pid>/stat`, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not come up")


class Bench:
    def __init__(self, latency_ms: float, run_ms: float, samples: int, only: str) -> None:
        self.latency_ms, self.run_ms, self.samples, self.only = latency_ms, run_ms, samples, only
        self.emulator_port, self.adapter_port = free_port(), free_port()
        self.emulator = f"http://127.0.0.1:{self.emulator_port}"
        self.project = f"{self.emulator}/api/projects/bench"
        self.adapter = f"http://127.0.0.1:{self.adapter_port}"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.rest_rss = 0.0
        self.adapter_env: dict[str, str] = {}
        self.floor = ""

    def start(self) -> float:
        """Start both processes; returns seconds from adapter spawn to its first answer."""
        self.processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "agents_core",
                    "emulator",
                    "--port",
                    str(self.emulator_port),
                    "--latency-ms",
                    str(self.latency_ms),
                    "--run-ms",
                    str(self.run_ms),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_until_up(f"{self.emulator}/_emulator/settings")
        config = Path(tempfile.mkdtemp()) / "agents.yaml"
        config.write_text(
            "model_list:\n"
            + "".join(
                f"  - model_name: {name}\n    litellm_params:\n"
                f"      model: azure_ai/agents/{agent}\n      api_base: {self.project}\n"
                f"      api_key: {TOKEN}\n"
                for name, agent in (("echo", "asst_echo"), ("echo-v", "echo:1"))
            )
        )
        env = {**os.environ, "AGENTS_CONFIG": str(config)}
        env.pop("AZURE_AI_PROJECT_ENDPOINT", None)
        self.adapter_env = env
        spawned = time.perf_counter()
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "agents_core", "serve", "--port", str(self.adapter_port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        floor_port = free_port()
        self.floor = f"http://127.0.0.1:{floor_port}/"
        self.processes.append(
            subprocess.Popen(
                [sys.executable, str(FLOOR_SERVER), self.project, str(floor_port), TOKEN],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        while True:
            try:
                response = httpx.post(
                    f"{self.adapter}/v1/chat/completions",
                    json={"model": "echo", "messages": USER},
                    timeout=10,
                )
                if response.status_code == 200:
                    return time.perf_counter() - spawned
            except httpx.HTTPError:
                time.sleep(0.01)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)

    @property
    def adapter_pid(self) -> int:
        return self.processes[1].pid

    @property
    def emulator_pid(self) -> int:
        return self.processes[0].pid

    async def settings(self, http: httpx.AsyncClient, **knobs: float) -> None:
        (await http.post(f"{self.emulator}/_emulator/settings", json=knobs)).raise_for_status()

    async def cpu_per_call(
        self, label: str, call: Callable[[], Awaitable[Any]], concurrency: int, total: int
    ) -> tuple[str, str, float]:
        """CPU ms per call of the adapter and the emulator; `total` calls, `concurrency` at once."""
        adapter, emulator = cpu_seconds(self.adapter_pid), cpu_seconds(self.emulator_pid)
        for _ in range(total // concurrency):
            await asyncio.gather(*(call() for _ in range(concurrency)))
        spent = (cpu_seconds(self.adapter_pid) - adapter) * 1000 / total
        upstream = (cpu_seconds(self.emulator_pid) - emulator) * 1000 / total
        return (
            f"CPU per call, {label}, {concurrency} concurrent: adapter / emulator (ms)",
            f"{spent:.2f} / {upstream:.2f}",
            spent,
        )

    async def a2a_send(self, http: httpx.AsyncClient) -> None:
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {
                "message": {
                    "kind": "message",
                    "messageId": "m1",
                    "role": "user",
                    "parts": [{"kind": "text", "text": USER[0]["content"]}],
                }
            },
        }
        response = await http.post(f"{self.adapter}/a2a/echo", json=body)
        response.raise_for_status()
        assert "error" not in response.json(), response.text

    async def responses_call(self, http: httpx.AsyncClient) -> None:
        body = {"model": "echo", "input": USER[0]["content"]}
        response = await http.post(f"{self.adapter}/v1/responses", json=body)
        response.raise_for_status()

    async def stream_long(self, http: httpx.AsyncClient) -> None:
        body = {"model": "echo", "stream": True, "messages": LONG}
        async with http.stream(
            "POST", f"{self.adapter}/v1/chat/completions", json=body
        ) as response:
            response.raise_for_status()
            async for _ in response.aiter_lines():
                pass

    async def cpu(self, http: httpx.AsyncClient) -> list[tuple[str, str]]:
        """CPU per completion (issue targets: ≤ 1.0 ms non-streamed at 40, ≤ 0.02 ms per delta)."""
        rows: list[tuple[str, str]] = []
        cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("chat, non-streamed", lambda: self.completion(http)),
            ("chat, streamed short reply", lambda: self.adapter_stream(http)),
            ("A2A message/send", lambda: self.a2a_send(http)),
        ]
        if (await http.post(f"{self.adapter}/v1/responses", json={})).status_code != 404:
            cases.append(("Responses, non-streamed", lambda: self.responses_call(http)))
        measured: dict[str, float] = {}
        for label, call in cases:
            for concurrency in (1, 40):
                name, value, spent = await self.cpu_per_call(label, call, concurrency, 200)
                rows.append((name, value))
                measured[f"{label}@{concurrency}"] = spent
        await self.settings(http, max_deltas=200)
        name, value, long_ms = await self.cpu_per_call(
            "chat, streamed 200-delta reply", lambda: self.stream_long(http), 40, 200
        )
        await self.settings(http, max_deltas=40)
        rows.append((name, value))
        short_ms = measured["chat, streamed short reply@40"]
        per_delta = (long_ms - short_ms) / (200 - 5)  # the short reply has 5 deltas
        rows.append(("CPU per streamed delta, adapter (ms; target ≤ 0.02)", f"{per_delta:.4f}"))
        adapter_ms, floor_ms = await self.against_floor(http)
        rows.append(
            (
                "CPU per non-streamed completion at 40 concurrent, median of 3 (ms; target ≤ 1.0)",
                f"{adapter_ms:.2f}",
            )
        )
        rows.append(
            (
                "CPU floor: the same upstream call from a bare ASGI server "
                "(tests/bench_floor.py), 40 concurrent, median of 3 (ms)",
                f"{floor_ms:.2f}",
            )
        )
        return rows

    async def against_floor(self, http: httpx.AsyncClient) -> tuple[float, float]:
        """Median CPU ms per non-streamed completion: the adapter, then the bare floor server.

        Rounds alternate between the two, so load from elsewhere on the
        machine lands on both.
        """
        url, floor_pid = self.floor, self.processes[2].pid

        async def bare() -> None:
            (await http.post(url, json={})).raise_for_status()

        adapter: list[float] = []
        bare_ms: list[float] = []
        for _ in range(3):
            *_, spent = await self.cpu_per_call("x", lambda: self.completion(http), 40, 200)
            adapter.append(spent)
            before = cpu_seconds(floor_pid)
            for _ in range(5):
                await asyncio.gather(*(bare() for _ in range(40)))
            bare_ms.append((cpu_seconds(floor_pid) - before) * 1000 / 200)
        return statistics.median(adapter), statistics.median(bare_ms)

    async def scale(self, http: httpx.AsyncClient, streams: int) -> list[tuple[str, str]]:
        """`streams` concurrent streams through one fresh worker; memory per open stream.

        A second adapter process serves this phase, so no heap left by earlier
        phases is reused. Runs last 8 s (a delta every 1.3 s). The streams open
        in two halves, the second while the first is open: memory per stream is
        the RSS growth from the first half to both, over the second half.
        """
        port = free_port()
        fresh = await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, "-m", "agents_core", "serve", "--port", str(port)],
            cwd=ROOT,
            env=self.adapter_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        adapter = f"http://127.0.0.1:{port}"
        try:
            await asyncio.to_thread(wait_until_up, f"{adapter}/v1/models")
            for _ in range(3):
                await self.adapter_stream(http, adapter)
            await self.settings(http, run_ms=8000)
            half = streams // 2
            opened = [0]
            reached = {half: asyncio.Event(), streams: asyncio.Event()}

            async def stream() -> tuple[float, float]:
                started = time.perf_counter()
                body = {"model": "echo", "stream": True, "messages": USER}
                url = f"{adapter}/v1/chat/completions"
                async with http.stream("POST", url, json=body) as response:
                    response.raise_for_status()
                    opened[0] += 1
                    if opened[0] in reached:
                        reached[opened[0]].set()
                    async for _ in response.aiter_raw():
                        pass
                return 0.0, time.perf_counter() - started

            async def open_until(count: int) -> float:
                """RSS (MB) once `count` streams have their headers (and half a second more)."""
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reached[count].wait(), 30)
                await asyncio.sleep(0.5)
                return rss_mb(fresh.pid)

            started = time.perf_counter()
            tasks = [asyncio.create_task(stream()) for _ in range(half)]
            first = await open_until(half)
            tasks += [asyncio.create_task(stream()) for _ in range(streams - half)]
            both = await open_until(streams)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            elapsed = time.perf_counter() - started
        finally:
            fresh.terminate()
            await self.settings(http, run_ms=self.run_ms)
        errors = [r for r in results if isinstance(r, BaseException)]
        totals = [r[1] for r in results if not isinstance(r, BaseException)]
        p99 = f"{percentile(totals, 0.99) * 1000:.0f}" if totals else "-"
        return [
            (
                f"{streams} concurrent streams, 8 s runs, one fresh worker: "
                "errors, p99 (ms), wall (s)",
                f"{len(errors)} errors, p99 {p99}, {elapsed:.1f}",
            ),
            (
                f"RSS per open stream, {streams - half} more while {half} are open "
                "(KB; target ≤ 20)",
                f"{(both - first) * 1024 / (streams - half):.1f}",
            ),
        ]

    async def reset(self, http: httpx.AsyncClient) -> None:
        await http.post(f"{self.emulator}/_emulator/reset")

    async def counts(self, http: httpx.AsyncClient) -> int:
        counts = (await http.get(f"{self.emulator}/_emulator/requests")).json()["counts"]
        return int(sum(counts.values()))

    async def completion(self, http: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
        body = {"model": "echo", "messages": USER, **extra}
        response = await http.post(f"{self.adapter}/v1/chat/completions", json=body)
        response.raise_for_status()
        return dict(response.json())

    async def requests_per_turn(self, http: httpx.AsyncClient) -> list[tuple[str, str]]:
        """Upstream requests of each kind of turn (the contract's cost, see the README)."""
        system = [{"role": "system", "content": "Be brief."}, *USER]
        tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
        rows: list[tuple[str, str]] = []

        async def measure(label: str, **body: Any) -> dict[str, Any]:
            await self.reset(http)
            result = await self.completion(http, **body)
            rows.append((f"upstream requests / turn: {label}", str(await self.counts(http))))
            return result

        classic = await measure("classic, new thread")
        await measure("classic, new thread with system text", messages=system)
        await measure("classic, existing thread", thread_id=classic["thread_id"])
        await measure(
            "classic, existing thread with system text",
            thread_id=classic["thread_id"],
            messages=system,
        )
        await measure("classic, caller tools, first turn (agent's tools read)", tools=tools)
        await measure("classic, caller tools, later turns (cached)", tools=tools)
        versioned = await measure("versioned, new conversation", model="echo-v")
        await measure(
            "versioned, existing conversation", model="echo-v", thread_id=versioned["thread_id"]
        )
        await measure(
            "versioned, caller tools, first turn (agent read)", model="echo-v", tools=tools
        )
        await self.reset(http)
        await self.adapter_stream(http)
        rows.append(("upstream requests / turn: classic, streamed", str(await self.counts(http))))
        return rows

    async def adapter_stream(
        self, http: httpx.AsyncClient, adapter: str = ""
    ) -> tuple[float, float]:
        """(time to first content token, total) for one streamed completion."""
        started = time.perf_counter()
        first = 0.0
        body = {"model": "echo", "stream": True, "messages": USER}
        async with http.stream(
            "POST", f"{adapter or self.adapter}/v1/chat/completions", json=body
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not first and '"content":"' in line and '"content":""' not in line:
                    first = time.perf_counter() - started
                if line == "data: [DONE]":
                    break
        return first, time.perf_counter() - started

    async def direct_stream(self, http: httpx.AsyncClient) -> tuple[float, float]:
        """The same run sent straight to the emulator (what a client of Foundry itself sees)."""
        started = time.perf_counter()
        first = 0.0
        body = {"assistant_id": "asst_echo", "stream": True, "thread": {"messages": USER}}
        async with http.stream(
            "POST",
            f"{self.project}/threads/runs",
            params={"api-version": "v1"},
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not first and line.startswith("event: thread.message.delta"):
                    first = time.perf_counter() - started
                if line == "data: [DONE]":
                    break
        return first, time.perf_counter() - started

    async def timed(self, call: Callable[[], Awaitable[Any]]) -> float:
        started = time.perf_counter()
        await call()
        return time.perf_counter() - started

    async def run(self) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        floor_ms = self.latency_ms + self.run_ms
        limits = httpx.Limits(max_connections=1100, max_keepalive_connections=1100)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            if self.only == "cpu":
                return await self.cpu(http)
            rows += await self.requests_per_turn(http)
            plain = [await self.timed(lambda: self.completion(http)) for _ in range(self.samples)]
            system = [{"role": "system", "content": "Be brief."}, *USER]
            with_system = [
                await self.timed(lambda: self.completion(http, messages=system))
                for _ in range(self.samples)
            ]
            adapter = [await self.adapter_stream(http) for _ in range(self.samples)]
            direct = [await self.direct_stream(http) for _ in range(self.samples)]
            ms = lambda values, q: f"{percentile(values, q) * 1000:.1f}"  # noqa: E731
            added = statistics.median(t for _, t in adapter) - statistics.median(
                t for _, t in direct
            )
            rows += [
                ("floor: one upstream round trip + run time (ms)", f"{floor_ms:.1f}"),
                ("non-streaming p50 / p99 (ms)", f"{ms(plain, 0.5)} / {ms(plain, 0.99)}"),
                (
                    "non-streaming, new classic thread with system text, p50 / p99 (ms)",
                    f"{ms(with_system, 0.5)} / {ms(with_system, 0.99)}",
                ),
                (
                    "streaming, to [DONE], p50 / p99 (ms)",
                    f"{ms([t for _, t in adapter], 0.5)} / {ms([t for _, t in adapter], 0.99)}",
                ),
                (
                    "straight to the emulator, to [DONE], p50 / p99 (ms)",
                    f"{ms([t for _, t in direct], 0.5)} / {ms([t for _, t in direct], 0.99)}",
                ),
                ("median added by the adapter, streaming (ms)", f"{added * 1000:.1f}"),
                (
                    "time to first token p50: adapter / emulator direct (ms)",
                    f"{ms([f for f, _ in adapter], 0.5)} / {ms([f for f, _ in direct], 0.5)}",
                ),
            ]
            self.rest_rss = rss_mb(self.adapter_pid)
            rows.append(("adapter RSS at rest (MB)", f"{self.rest_rss:.0f}"))
            for concurrency in (1, 50, 500):
                peak = 0.0
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(self.adapter_stream(http) for _ in range(concurrency)), return_exceptions=True
                )
                elapsed = time.perf_counter() - started
                peak = max(peak, rss_mb(self.adapter_pid))
                errors = [r for r in results if isinstance(r, BaseException)]
                totals = [r[1] for r in results if not isinstance(r, BaseException)]
                rows.append(
                    (
                        f"{concurrency} concurrent streams: errors, throughput, p99",
                        f"{len(errors)} errors, {len(totals) / elapsed:.0f} completions/s, "
                        f"p99 {ms(totals, 0.99) if totals else '-'} ms",
                    )
                )
            rows.append(("adapter RSS after 500 concurrent streams (MB)", f"{peak:.0f}"))
            rows += await self.cpu(http)
            rows += await self.scale(http, 1000)
        return rows


def import_time(samples: int = 5) -> tuple[float, float, float]:
    """Median seconds to import `function_app` in a fresh process: all, platform, the adapter's.

    Platform: `azure.functions` and the FastAPI HTTP streaming extension,
    which `function_app` needs before any line of ours runs; the rest is the
    adapter's own import cost.
    """
    code = (
        "import time; t = time.perf_counter(); import azure.functions; "
        "import azurefunctions.extensions.http.fastapi; p = time.perf_counter(); "
        "import function_app; e = time.perf_counter(); print(e - t, p - t, e - p)"
    )
    runs = [
        [float(v) for v in subprocess.check_output([sys.executable, "-c", code], cwd=ROOT).split()]
        for _ in range(samples)
    ]
    total, platform, own = (statistics.median(column) for column in zip(*runs, strict=True))
    return total, platform, own


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--run-ms", type=float, default=200)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--only", choices=["cpu", "all"], default="all")
    args = parser.parse_args()
    bench = Bench(args.latency_ms, args.run_ms, args.samples, args.only)
    try:
        first_answer = bench.start()
        rows = asyncio.run(bench.run())
    finally:
        bench.stop()
    rows += [
        (
            "cold start: import function_app, median of 5: all / platform packages / "
            "the adapter's own modules (s; target ≤ 0.2)",
            "{:.3f} / {:.3f} / {:.3f}".format(*import_time()),
        ),
        (
            "cold start: adapter process spawn to first completion, its "
            f"{args.latency_ms + args.run_ms:g} ms upstream call included, the floor server "
            "starting alongside (s)",
            f"{first_answer:.2f}",
        ),
    ]
    print(
        f"Emulator latency {args.latency_ms:g} ms per request, run time {args.run_ms:g} ms; "
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}\n"
    )
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(json.dumps(dict(rows)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
