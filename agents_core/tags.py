"""Metadata on the threads and conversations the adapter creates, so they can be cleaned up.

Three pairs, well within Foundry's metadata limits (16 pairs, keys up to 64
characters, values up to 512): who created it (this adapter), for which
caller (`auth.caller_id`, never a key), and when (UTC, ISO 8601). Only
objects carrying `created_by` = `CREATOR` are ever deleted by the retention
cleanup (`agents_core.retention`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from agents_core.auth import CALLER

__all__ = ["CREATED_AT", "CREATED_BY", "CREATOR", "CREATOR_CALLER", "conversation_body", "thread"]

CREATED_BY = "created_by"
CREATOR_CALLER = "created_for"
CREATED_AT = "created_at"
CREATOR = "foundry-agents-adapter"


def tags(now: float | None = None) -> dict[str, str]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    return {
        CREATED_BY: CREATOR,
        CREATOR_CALLER: (CALLER.get() or "anonymous")[:512],
        CREATED_AT: stamp,
    }


def thread(body: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `thread` object of a thread-creating request, tagged (its own metadata kept)."""
    tagged = dict(body or {})
    tagged["metadata"] = {**dict(tagged.get("metadata") or {}), **tags()}
    return tagged


def conversation_body() -> dict[str, Any]:
    """The body of `POST /openai/v1/conversations`: no items, the tags as metadata."""
    return {"metadata": tags()}


def is_tagged(metadata: Any) -> bool:
    return isinstance(metadata, Mapping) and metadata.get(CREATED_BY) == CREATOR
