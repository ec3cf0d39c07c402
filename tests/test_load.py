"""A bounded load test on loopback: 500 concurrent streams, zero errors, bounded memory.

How long it takes is measured by `make bench`, not asserted here.
"""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import httpx


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def stream_once(http: httpx.AsyncClient, base: str, index: int) -> str:
    body = {
        "model": "echo",
        "stream": True,
        "messages": [{"role": "user", "content": f"load test message number {index}"}],
    }
    text: list[str] = []
    async with http.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith('data: {"id"') and '"content":"' in line:
                text.append(line.split('"content":"', 1)[1].split('"', 1)[0])
            if '"error"' in line:
                raise AssertionError(line)
    return "".join(text)


async def test_500_concurrent_streams_without_errors(emulated: str) -> None:
    # Client, adapter and emulator share this process: about four descriptors per stream.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard or (hard == resource.RLIM_INFINITY and soft < 4096):
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    limits = httpx.Limits(max_connections=600, max_keepalive_connections=600)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await stream_once(http, emulated, -1)  # warm up
        before = rss_mb()
        results = await asyncio.gather(
            *(stream_once(http, emulated, i) for i in range(500)), return_exceptions=True
        )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], errors[:3]
    assert all(f"number {i}" in str(text) for i, text in enumerate(results))
    assert rss_mb() - before < 200, "memory grew by more than 200 MB under load"
