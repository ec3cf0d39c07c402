"""The agent's reply as A2A parts: its text, the files it generated, its structured output.

A file the agent generated (a classic `file_path` annotation, a versioned
`container_file_citation`) becomes a file part where its marker stood in the
text: `url` is this service's own download route (`/v1/files/{id}/content`,
the link the OpenAI front doors hand out, ids bound to the caller), with the
file's name and a media type guessed from it. Text around the markers stays
text; a reply that is nothing but markers is only file parts. A reply to a
run that asked for JSON (`json_object` / `json_schema`) that parses as a
JSON object a protobuf `Struct` holds faithfully is one data part; any other
reply stays text, as sent.

File names and media types are made safe as `agents_core.files` says: the
same names and types the OpenAI front doors hand out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from a2a.types import Part

from agents_core.files import GENERATED_KINDS, file_name, file_url, media_type
from agents_core.foundry.types import Annotation

__all__ = ["Files", "ReplyStream", "reply_parts"]

# JSON nesting a data part may hold: each level is two protobuf messages (Value and
# Struct or ListValue), and a task adds its own; upb refuses more than 100 in all.
MAX_DEPTH = 32
MAX_EXACT_INT = 2**53  # a Struct number is a double: larger integers would change


@dataclass(frozen=True)
class Files:
    """Where the caller downloads an agent's files: `base` (absolute) and the agent's name."""

    base: str
    agent: str

    def link(self, item: Annotation) -> str:
        return f"{self.base}{file_url(self.agent, item.file_id, item.container_id)}"

    def part(self, item: Annotation) -> Part:
        name = file_name(item)
        return Part(url=self.link(item), filename=name, media_type=media_type(name))


def _marker(text: str, item: Annotation, cursor: int, offset: int = 0) -> tuple[int, int] | None:
    """Where the annotation's marker stands in `text` (at or after `cursor`), if it does.

    The marker text when the upstream sent one, else the annotation's span
    (indices count from the start of the reply; `text` starts at `offset`).
    """
    if item.text:
        at = text.find(item.text, cursor)
        if at >= 0:
            return at, at + len(item.text)
    if item.start_index is None or item.end_index is None:
        return None
    start, end = item.start_index - offset, item.end_index - offset
    return (start, end) if cursor <= start < end <= len(text) else None


def _split(
    text: str, annotations: Sequence[Annotation], files: Files, offset: int = 0
) -> list[Part]:
    """`text` with each generated file's marker replaced by its file part, in reply order.

    Files whose marker is not in `text` follow it; blank text between
    markers is dropped.
    """
    parts: list[Part] = []
    trailing: list[Part] = []
    cursor = 0
    for item in annotations:
        if item.type not in GENERATED_KINDS or not item.file_id:
            continue
        span = _marker(text, item, cursor, offset)
        if span is None:
            trailing.append(files.part(item))
            continue
        if text[cursor : span[0]].strip():
            parts.append(Part(text=text[cursor : span[0]]))
        parts.append(files.part(item))
        cursor = span[1]
    rest = text[cursor:]
    if rest.strip() or (rest and not parts and not trailing):
        parts.append(Part(text=rest))
    return parts + trailing


def _fits_struct(value: object, depth: int = 0) -> bool:
    """Whether a protobuf `Struct` holds `value` as is, and it serializes as UTF-8 JSON.

    Numbers are doubles (finite, integers exact up to 2**53), strings and
    keys have no lone surrogates, and nesting stays within `MAX_DEPTH`.
    """
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_EXACT_INT <= value <= MAX_EXACT_INT
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_fits_struct(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(
            _fits_struct(key, depth) and _fits_struct(item, depth + 1)
            for key, item in value.items()
        )
    return False


def _data(text: str) -> Part | None:
    """The reply as one data part, or None when it is not a JSON object a `Struct` holds."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not _fits_struct(value):
        return None
    part = Part()
    try:
        part.data.struct_value.update(value)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None
    return part


def reply_parts(
    text: str, annotations: Sequence[Annotation], files: Files, json_output: bool = False
) -> list[Part]:
    """The whole reply as parts (see the module docstring)."""
    generated = any(item.type in GENERATED_KINDS for item in annotations)
    if json_output and not generated:
        data = _data(text)
        if data is not None:
            return [data]
    return _split(text, annotations, files)


@dataclass
class ReplyStream:
    """A streamed reply, delta by delta: the parts each delta adds.

    A classic stream carries each file marker in the delta with its
    annotation, so the marker is cut there; a versioned stream sends the
    annotation after the text, so its file part follows the text.
    """

    files: Files
    text: str = ""
    annotations: list[Annotation] = field(default_factory=list)

    def parts(self, text: str, annotations: Sequence[Annotation]) -> list[Part]:
        offset = len(self.text)
        self.text += text
        self.annotations.extend(annotations)
        if not text and not annotations:
            return []
        return _split(text, annotations, self.files, offset)

    def whole(self, json_output: bool) -> list[Part] | None:
        """The reply as one data part, when it is structured output (sent to replace the text)."""
        if not json_output or any(item.type in GENERATED_KINDS for item in self.annotations):
            return None
        data = _data(self.text)
        return None if data is None else [data]
