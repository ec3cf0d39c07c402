"""Citations and file references on agent text, in OpenAI's annotation shapes.

Shared by the chat-completions and Responses front doors: `url_citation`
is OpenAI's own; file citations and generated files (`file_citation`,
`file_path`, `container_file_citation`) keep their type and gain a `url`
that downloads the file through this service (`file_url`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agents_core.files import GENERATED_KINDS, file_name, file_url
from agents_core.runs import Annotation

__all__ = [
    "GENERATED_KINDS",
    "Citations",
    "chat_annotation",
    "file_name",
    "file_url",
    "response_annotation",
]

FILE_KINDS = ("file_citation", "file_path", "container_file_citation")


def _span(item: Annotation) -> dict[str, int]:
    span = {}
    if item.start_index is not None:
        span["start_index"] = item.start_index
    if item.end_index is not None:
        span["end_index"] = item.end_index
    return span


def _file_details(item: Annotation, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "file_id": item.file_id,
        "url": file_url(model, item.file_id, item.container_id),
    }
    if item.container_id:
        body["container_id"] = item.container_id
    if item.quote:
        body["quote"] = item.quote
    if item.filename:
        body["filename"] = file_name(item)
    return body


def chat_annotation(item: Annotation, model: str) -> dict[str, Any]:
    """An annotation as chat completions carry it: details nested under the type's key."""
    if item.other is not None:
        return item.other
    span = _span(item)
    if item.type == "url_citation":
        citation = {**span, "url": item.url, "title": item.title}
        return {"type": "url_citation", "url_citation": citation}
    body = {**span, **_file_details(item, model)}
    if item.text:
        body["text"] = item.text
    return {"type": item.type, item.type: body}


def response_annotation(item: Annotation, model: str) -> dict[str, Any]:
    """An annotation as the Responses API carries it: flat, with OpenAI's fields."""
    if item.other is not None:
        return item.other
    if item.type == "url_citation":
        return {
            "type": "url_citation",
            "start_index": item.start_index or 0,
            "end_index": item.end_index or 0,
            "url": item.url,
            "title": item.title or "",
        }
    body: dict[str, Any] = {"type": item.type, **_file_details(item, model)}
    if item.type == "file_citation":
        body["index"] = item.start_index or 0
        body.setdefault("filename", file_name(item) if item.filename else item.file_id)
    elif item.type == "file_path":
        body["index"] = item.start_index or 0
    else:
        body.update(_span(item))
        body.setdefault("filename", file_name(item) if item.filename else item.file_id)
    return body


class Citations:
    """A reply's annotations, the markers they cite kept or removed.

    With `strip` the marker text an annotation covers (such as `【3:0†source】`)
    is cut from the reply, and the annotations' indices move to match; each
    marker arrives in the delta that carries its annotation.
    """

    def __init__(self, strip: bool) -> None:
        self._strip = strip
        self._removed = 0

    def apply(self, text: str, annotations: tuple[Annotation, ...]) -> tuple[str, list[Annotation]]:
        moved: list[Annotation] = []
        for item in annotations:
            marker = item.text
            shift = self._removed
            if self._strip and marker and marker in text:
                text = text.replace(marker, "", 1)
                self._removed += len(marker)
            moved.append(self._shifted(item, shift))
        return text, moved

    def _shifted(self, item: Annotation, removed: int) -> Annotation:
        if not removed and not self._strip:
            return item
        start = (item.start_index or 0) - removed
        end = (item.end_index if item.end_index is not None else start + removed) - removed
        return replace(item, start_index=start, end_index=start if self._strip else end)
