"""Server-sent events: a pure decoder over bytes and the frames we emit."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["SSEDecoder", "ServerSentEvent", "encode", "encode_json", "with_heartbeat"]

HEARTBEAT = b": ping\n\n"


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
        for index, char in enumerate(self._buffer):
            if char == "\n" or char == "\r":
                if char == "\r" and index + 1 == len(self._buffer):
                    return "", False  # a lone \r may be half of \r\n
                end = index + 2 if self._buffer[index : index + 2] == "\r\n" else index + 1
                line = self._buffer[:index]
                self._buffer = self._buffer[end:]
                return line, True
        return "", False

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


async def with_heartbeat(frames: AsyncIterator[bytes], interval: float) -> AsyncIterator[bytes]:
    """Pass `frames` through, adding `: ping` comments whenever `interval` passes idle.

    Keeps proxies with idle limits (Azure's front end drops responses idle for
    230 s) from cutting a long run. The pending read is never cancelled by a
    ping, only by closing this generator.
    """
    pending: asyncio.Task[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(frames))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield HEARTBEAT
                continue
            try:
                frame = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield frame
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()
