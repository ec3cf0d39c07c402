"""Server-sent events: a pure decoder over bytes and the frames we emit."""

from __future__ import annotations

import asyncio
import codecs
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio

__all__ = ["SSEDecoder", "ServerSentEvent", "encode", "encode_json", "with_heartbeat"]

HEARTBEAT = b": ping\n\n"
MAX_BUFFERED = 64 * 1024
"""Bytes of frames that may wait for a slow caller before the stream waits too."""
LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event: `event` is empty when the frame named none."""

    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


class SSEDecoder:
    """Incremental decoder: feed it byte chunks, get complete events.

    Handles `\\n`, `\\r\\n` and `\\r` line ends, multi-line `data`, comments,
    and UTF-8 characters split across chunks.
    """

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._scanned = 0
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[ServerSentEvent]:
        self._buffer += self._text.decode(chunk)
        while True:
            line, found = self._take_line()
            if not found:
                return
            event = self._line(line)
            if event is not None:
                yield event

    def close(self) -> Iterator[ServerSentEvent]:
        """Flush at end of stream: a final frame without its blank line still counts."""
        self._buffer += self._text.decode(b"", final=True)
        if self._buffer:
            event = self._line(self._buffer)
            self._buffer = ""
            if event is not None:
                yield event
        event = self._line("")
        if event is not None:
            yield event

    def _take_line(self) -> tuple[str, bool]:
        # Resume the search where the last one stopped: long lines arrive in many chunks.
        match = LINE_END.search(self._buffer, self._scanned)
        if match is None or (match.group() == "\r" and match.end() == len(self._buffer)):
            # No line end yet, or a lone \r that may be half of \r\n.
            self._scanned = max(0, len(self._buffer) - 1)
            return "", False
        line = self._buffer[: match.start()]
        self._buffer = self._buffer[match.end() :]
        self._scanned = 0
        return line, True

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = ServerSentEvent(self._event, "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


def encode(data: str, event: str | None = None) -> bytes:
    """One SSE frame."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def encode_json(payload: Any, event: str | None = None) -> bytes:
    """One SSE frame carrying compact JSON."""
    return encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False), event)


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

    producer = asyncio.get_running_loop().create_task(produce())
    try:
        while True:
            if not ready.is_set():
                try:
                    async with asyncio.timeout(interval):
                        await ready.wait()
                except TimeoutError:
                    yield HEARTBEAT
                    continue
            ready.clear()
            if pending:
                chunk = pending[0] if len(pending) == 1 else b"".join(pending)
                pending.clear()
                size = 0
                drained.set()
                yield chunk
            if end and not pending:
                if end[0].error is not None:
                    raise end[0].error
                return
    finally:
        with anyio.CancelScope(shield=True):
            if not producer.done():
                producer.cancel()
                await asyncio.wait({producer})
            await frames.aclose()


@dataclass(frozen=True)
class _End:
    error: Exception | None
