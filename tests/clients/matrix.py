"""What the client matrix's tests share: the demo agents of each kind, reply checks."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Agents:
    """The emulator's demo agents of one kind: `echo` remembers, `weather` calls get_weather."""

    kind: str
    echo: str
    weather: str
    conversation_prefix: str


KINDS = {
    "classic": Agents("classic", "echo", "tools", "thread_"),
    "versioned": Agents("versioned", "echo:1", "weather:1", "conv_"),
}


def sentences(text: str) -> list[str]:
    """The sentences of a reply, sorted: parallel tool results may be described in any order."""
    return sorted(part.strip() for part in re.split(r"(?<=\.)\s+", text) if part.strip())
