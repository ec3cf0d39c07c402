"""An append-only event feed that any number of streams can follow.

A run publishes into one `Feed` per streamable segment: from its creation (or
from a tool-output submission) up to and including the `done` event. A
stream follows the feed it was given from the first event, independently of
the run, so a client that disconnects never slows or stops the run, and a
run never waits for a slow client. Publishing is O(1); each follower wakes
once per publish burst.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

DONE = "done"


class Feed:
    def __init__(self) -> None:
        self._events: list[tuple[str, str]] = []
        self._closed = False
        self._pulse = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, event: str, data: Any) -> None:
        """Append `event` with `data` serialised now, so later changes to the object stay out."""
        if self._closed:
            return
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        self._events.append((event, text))
        self._closed = event == DONE
        # Waking by swapping the event keeps publish O(1) whatever the number of followers.
        pulse, self._pulse = self._pulse, asyncio.Event()
        pulse.set()

    def close(self) -> None:
        """End the segment: publish `done` (data `[DONE]`)."""
        self.publish(DONE, "[DONE]")

    async def follow(self) -> AsyncIterator[tuple[str, str]]:
        """Yield `(event, data_json)` from the first event until `done` (inclusive)."""
        index = 0
        while True:
            pulse = self._pulse
            while index < len(self._events):
                yield self._events[index]
                index += 1
            if self._closed:
                return
            await pulse.wait()
