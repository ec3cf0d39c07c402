"""JSON on the hot paths: orjson, with the standard library for what orjson refuses.

Every upstream event is decoded and every streamed frame encoded here, so
the codec is a measurable share of a completion's CPU (`make bench`).
orjson refuses integers beyond 64 bits and the non-standard `NaN` /
`Infinity` literals that Python's `json` accepts; those values take the
standard library's path, so no input that parsed before fails now.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

__all__ = ["dumps", "loads"]


def loads(data: str | bytes) -> Any:
    """The value of one JSON text.

    Raises:
        ValueError: `data` is not JSON (`json.JSONDecodeError` is a `ValueError`).
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (no spaces, non-ASCII characters as they are).

    NaN and infinities become `null`, as orjson writes them, on both paths:
    JSON has no literal for them.

    Raises:
        TypeError: `value` holds something JSON cannot carry.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False).encode()


def _finite(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (the standard library's path only)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
