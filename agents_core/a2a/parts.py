"""The agent's reply as A2A parts: its text, the files it generated, its structured output.

A file the agent generated (a classic `file_path` annotation, a versioned
`container_file_citation`) becomes a file part where its marker stood in the
text: `url` is this service's own download route (`/v1/files/{id}/content`,
the link the OpenAI front doors hand out, ids bound to the caller), with the
file's name and a media type guessed from it. Text around the markers stays
text; a reply that is nothing but markers is only file parts. A reply to a
run that asked for JSON (`json_object` / `json_schema`) that parses as a
JSON object is one data part.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field

from a2a.types import Part

from agents_core.foundry.types import Annotation
from agents_core.openai.citations import GENERATED_KINDS, file_name, file_url

__all__ = ["Files", "ReplyStream", "reply_parts"]


@dataclass(frozen=True)
class Files:
    """Where the caller downloads an agent's files: `base` (absolute) and the agent's name."""

    base: str
    agent: str

    def link(self, item: Annotation) -> str:
        return f"{self.base}{file_url(self.agent, item.file_id, item.container_id)}"

    def part(self, item: Annotation) -> Part:
        name = file_name(item)
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Part(url=self.link(item), filename=name, media_type=media)


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


def _data(text: str) -> Part | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    part = Part()
    part.data.struct_value.update(value)
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
