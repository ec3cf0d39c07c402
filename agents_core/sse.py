"""Server-sent events: a pure decoder over bytes and the frames we emit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio

from agents_core import json_codec

__all__ = ["SSEDecoder", "ServerSentEvent", "encode", "encode_json", "with_heartbeat"]

HEARTBEAT = b": ping\n\n"
MAX_BUFFERED = 64 * 1024
"""Bytes of frames that may wait for a slow caller before the stream waits too."""


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event: `event` is empty when the frame named none."""

    event: str
    data: str

    def json(self) -> Any:
        return json_codec.loads(self.data)


class SSEDecoder:
    """Incremental decoder: feed it byte chunks, get complete events.

    Handles `\\n`, `\\r\\n` and `\\r` line ends (a `\\r\\n` split across
    chunks too), multi-line `data`, comments, and UTF-8 characters split
    across chunks (lines are decoded whole; bytes that are not UTF-8 become
    U+FFFD). Work is linear in the bytes fed: a chunk without a line end is
    only kept until one arrives.
    """

    def __init__(self) -> None:
        self._partial: list[bytes] = []  # chunks of a line not ended yet
        self._after_cr = False  # the last chunk ended with \r: a leading \n is its other half
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[ServerSentEvent]:
        if self._after_cr:
            self._after_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if b"\n" not in chunk and b"\r" not in chunk:
            if chunk:
                self._partial.append(chunk)
            return
        if self._partial:
            chunk = b"".join((*self._partial, chunk))
            self._partial.clear()
        if b"\r" in chunk:
            self._after_cr = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = chunk.rfind(b"\n")
        if end + 1 < len(chunk):
            self._partial.append(chunk[end + 1 :])
        yield from self._lines(chunk[: end + 1])

    def close(self) -> Iterator[ServerSentEvent]:
        """Flush at end of stream: a final frame without its blank line still counts."""
        rest = b"".join(self._partial)
        self._partial.clear()
        if rest:
            yield from self._lines(rest + b"\n")
        event = self._line(b"")
        if event is not None:
            yield event

    def _lines(self, text: bytes) -> Iterator[ServerSentEvent]:
        """Each line of `text` (which ends with `\\n`), in order."""
        for line in text[:-1].split(b"\n"):
            event = self._line(line)
            if event is not None:
                yield event

    def _line(self, line: bytes) -> ServerSentEvent | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = ServerSentEvent(self._event, "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line[0] == 0x3A:  # ":" opens a comment
            return None
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        return None


def encode(data: str, event: str | None = None) -> bytes:
    """One SSE frame."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def encode_json(payload: Any, event: str | None = None) -> bytes:
    """One SSE frame carrying compact JSON."""
    head = b"event: " + event.encode() + b"\ndata: " if event else b"data: "
    return head + json_codec.dumps(payload) + b"\n\n"


async def with_heartbeat(
    frames: AsyncGenerator[bytes, None], interval: float
) -> AsyncIterator[bytes]:
    """Pass `frames` through, adding `: ping` comments whenever `interval` passes idle.

    Keeps proxies with idle limits (Azure's front end drops responses idle for
    230 s) from cutting a long run. Frames made while the previous write was
    under way (several events from one upstream read, typically) are joined
    into one chunk: one send and one socket write instead of one per frame.
    At most `MAX_BUFFERED` bytes wait; past that `frames` waits for the
    caller to read. `frames` runs to its end in one task of its own, so
    deadlines (`asyncio.timeout`) inside it hold; closing this generator (the
    caller went away) cancels that task and waits, shielded from the
    server's own cancellation, until `frames` has cleaned up: its upstream
    response closed and any unfinished run cancelled.
    """
    pending: list[bytes] = []
    size = 0
    ready = asyncio.Event()  # frames wait in `pending`, or the producer ended
    drained = asyncio.Event()  # the consumer took what waited
    end: list[_End] = []

    async def produce() -> None:
        nonlocal size
        try:
            async for frame in frames:
                pending.append(frame)
                size += len(frame)
                ready.set()
                if size > MAX_BUFFERED:
                    drained.clear()
                    await drained.wait()
        except Exception as exc:  # handed to the consumer, which raises it
            end.append(_End(exc))
        else:
            end.append(_End(None))
        ready.set()

    loop = asyncio.get_running_loop()
    sent_at = loop.time()  # when the caller last got something
    beat = False  # `interval` passed with nothing sent

    timer: list[asyncio.TimerHandle] = []

    def check() -> None:
        # One timer per stream, re-armed from the last send: no timer per wait.
        nonlocal beat
        due = sent_at + interval
        if loop.time() >= due:
            beat = True
            ready.set()
            due = loop.time() + interval
        timer[:] = [loop.call_at(due, check)]

    timer.append(loop.call_at(sent_at + interval, check))
    producer = loop.create_task(produce())
    try:
        while True:
            if not ready.is_set():
                await ready.wait()
            ready.clear()
            if pending:
                chunk = pending[0] if len(pending) == 1 else b"".join(pending)
                pending.clear()
                size = 0
                drained.set()
                beat = False
                sent_at = loop.time()
                yield chunk
            elif beat and not end:
                beat = False
                sent_at = loop.time()
                yield HEARTBEAT
            if end and not pending:
                if end[0].error is not None:
                    raise end[0].error
                return
    finally:
        timer[0].cancel()
        with anyio.CancelScope(shield=True):
            if not producer.done():
                producer.cancel()
                await asyncio.wait({producer})
            await frames.aclose()


@dataclass(frozen=True)
class _End:
    error: Exception | None
