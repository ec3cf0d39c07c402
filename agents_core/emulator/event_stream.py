"""Server-sent event responses: frames `event: <name>\\ndata: <json>\\n\\n` read from a `Feed`.

Stream faults act here, on the connection only (the run or response itself
goes on): `drop_stream` ends the response right after the first delta (an
event named in `fault_after`) without the terminating chunk, so the server
closes the connection mid-body and the client sees a broken chunked body;
`stall_stream` sends nothing more after the first delta until the client
gives up. The feed's closing `done` frame (`data: [DONE]`) is sent only
when `terminator` is true (the Responses API sends none). `on_abandon` is
called when the connection ends before the feed did (client gone, or a
dropped or stalled stream): a streamed, non-background response stops then.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable

from starlette.responses import StreamingResponse
from starlette.types import Send

from .feed import DONE, Feed

STALL_SECONDS = 3600.0
MESSAGE_DELTAS = frozenset({"thread.message.delta"})


class _Dropped(Exception):
    """Raised by a body iterator to end the response as a dropped connection."""


class EventStreamResponse(StreamingResponse):
    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except _Dropped:
            # Returning without the final body message makes the server abort the connection.
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def frame(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


def event_stream(
    feed: Feed,
    *,
    prelude: Iterable[tuple[str, str]] = (),
    fault: str | None = None,
    fault_after: frozenset[str] = MESSAGE_DELTAS,
    terminator: bool = True,
    on_abandon: Callable[[], None] | None = None,
) -> EventStreamResponse:
    """Stream `prelude` frames, then `feed` from its first event through `done`."""
    return EventStreamResponse(
        _frames(feed, list(prelude), fault, fault_after, terminator, on_abandon),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


async def _frames(
    feed: Feed,
    prelude: list[tuple[str, str]],
    fault: str | None,
    fault_after: frozenset[str],
    terminator: bool,
    on_abandon: Callable[[], None] | None,
) -> AsyncIterator[bytes]:
    finished = False
    try:
        for event, data in prelude:
            yield frame(event, data)
        async for event, data in feed.follow():
            if event == DONE:
                finished = True
                if not terminator:
                    return
            yield frame(event, data)
            if fault is not None and event in fault_after:
                if fault == "drop_stream":
                    raise _Dropped
                await asyncio.sleep(STALL_SECONDS)
                return
    finally:
        if not finished and on_abandon is not None:
            on_abandon()
