"""A run lasts only while its caller is there.

A blocking caller that disconnects gets its run cancelled (chat, Responses,
A2A blocking send); a stream whose caller stopped reading ends at its
deadline and its run is cancelled all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from agents_core.__main__ import emulator_registry
from agents_core.config import Settings
from agents_core.http import Handlers, create_app
from agents_core.runtime import Runtime

SlowRuns = Callable[[float], AbstractContextManager[None]]


def cancels(emulator: str) -> int:
    base = emulator.split("/api/projects/")[0]
    counts = httpx.get(f"{base}/_emulator/requests").json()["counts"]
    return sum(count for route, count in counts.items() if "cancel" in route)


def wait_for_cancel(emulator: str, within: float) -> bool:
    until = time.monotonic() + within
    while time.monotonic() < until:
        if cancels(emulator):
            return True
        time.sleep(0.05)
    return False


BLOCKING: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": (
        "/v1/chat/completions",
        {"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
    ),
    "responses": ("/v1/responses", {"model": "echo", "input": "hi"}),
    "a2a": (
        "/a2a/echo",
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {
                "message": {
                    "kind": "message",
                    "messageId": uuid.uuid4().hex,
                    "role": "user",
                    "parts": [{"kind": "text", "text": "hi"}],
                }
            },
        },
    ),
}


@pytest.mark.parametrize("door", sorted(BLOCKING))
def test_a_blocking_caller_that_disconnects_cancels_its_run(
    emulated: str, emulator: str, slow_runs: SlowRuns, door: str
) -> None:
    path, body = BLOCKING[door]
    with slow_runs(8000):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{emulated}{path}", json=body, timeout=httpx.Timeout(5, read=1.5))
        # The run would go on for seconds more; the caller's disconnect ends it now.
        assert wait_for_cancel(emulator, within=3.0)


@contextmanager
def small_buffers(app: Any) -> Iterator[str]:
    """`servers.serve` with small socket send buffers, so a caller that stops reading blocks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # inherited by accepted sockets
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_a_stream_whose_caller_stops_reading_ends_at_its_deadline(
    emulator: str, slow_runs: SlowRuns
) -> None:
    settings = Settings(project_endpoint=emulator, stream_deadline=1.5, heartbeat_interval=0.2)
    runtime = Runtime.build(settings, registry=emulator_registry(emulator))
    with small_buffers(create_app(Handlers(runtime))) as base:
        stops_reading(base, emulator, slow_runs)


def stops_reading(base: str, emulator: str, slow_runs: SlowRuns) -> None:
    # A reply far larger than the socket buffers, arriving within a second or two, so
    # that the server's writes block (under 1 MiB: the upstream request stays small).
    text = "w " * 450_000
    body = json.dumps(
        {"model": "echo", "stream": True, "messages": [{"role": "user", "content": text}]}
    ).encode()
    address = urlsplit(base)
    with slow_runs(4_000), socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((address.hostname, address.port))
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head
        started = time.monotonic()
        # The caller reads no more: the stream must still end, run cancelled.
        assert wait_for_cancel(emulator, within=5.0)  # a cancel the run's end does not make
        assert time.monotonic() - started >= 1.4
        # It has ended: what the server had buffered, then the end of the connection.
        sock.settimeout(1)
        until = time.monotonic() + 5
        with contextlib.suppress(TimeoutError):
            while sock.recv(1 << 20) and time.monotonic() < until:
                pass
        assert time.monotonic() < until, "the stream is still going"


@pytest.mark.parametrize("started", [False, True])
async def test_a_stream_left_before_its_first_frame_still_cleans_up(started: bool) -> None:
    """The caller leaves while the response's start waits on a full socket (a paused write).

    Closing a body generator that never started runs none of its code, so its
    cleanup (closing the upstream stream, cancelling the run) would never run.
    Only a socket the caller stopped reading pauses that write: driven here at
    the ASGI level, where the pause can be held.
    """
    from agents_core.edge import EventStream

    cleaned: list[str] = []

    async def body() -> Any:
        try:
            yield b"data: first\n\n"
            await asyncio.sleep(3600)
        finally:
            cleaned.append("run cancelled")

    left = asyncio.Event()
    written: list[bytes] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.05)
        left.set()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started:
            await left.wait()  # the write is paused until the caller is gone
            await asyncio.sleep(3600)
        written.append(message.get("body", b""))

    stream = EventStream(body(), deadline=60, headers={})
    await asyncio.wait_for(stream({"type": "http"}, receive, send), timeout=10)
    assert cleaned == ["run cancelled"]
    assert written == ([] if not started else [b"", b"data: first\n\n"])
