"""Files an agent generated (code interpreter), as callers get them from this service.

Both front doors hand out the same three things for such a file: the
adapter's own download route (`file_url`; the id is resolved per caller
downstream), a file name a client can save as is (`file_name`: a basename
without path separators of either kind, control, format or bidi characters,
at most `MAX_NAME` characters) and a media type that never announces active
content (`media_type`: HTML, SVG, scripts and XML are
`application/octet-stream`, so a browser that opens the file cannot run it).
"""

from __future__ import annotations

import mimetypes
import unicodedata
from urllib.parse import quote

from agents_core.foundry.types import Annotation

__all__ = ["GENERATED_KINDS", "file_name", "file_url", "media_type", "safe_name"]

GENERATED_KINDS = ("file_path", "container_file_citation")
"""Annotations naming a file the agent produced (code interpreter), not one it cites."""
MAX_NAME = 200
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/javascript",
        "text/ecmascript",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/x-shockwave-flash",
        "application/vnd.adobe.flash.movie",
        "application/wasm",
    }
)


def safe_name(name: str, fallback: str = "file") -> str:
    """`name` as a file name a client can save as is (see the module docstring)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(
        char
        for char in unicodedata.normalize("NFC", base)
        if unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
    )
    kept = kept.strip().rstrip(". ")  # Windows drops trailing dots and spaces
    if not kept.strip("."):
        kept = safe_name(fallback) if fallback != name else "file"
    if len(kept) > MAX_NAME:
        stem, dot, extension = kept.rpartition(".")
        if dot and stem and 0 < len(extension) <= 16:
            kept = f"{stem[: MAX_NAME - len(extension) - 1].rstrip(' .')}.{extension}"
        else:
            kept = kept[:MAX_NAME].rstrip(" .")
    return kept or "file"


def media_type(name: str) -> str:
    """The media type guessed from `name`; active content is `application/octet-stream`."""
    guessed = (mimetypes.guess_type(name, strict=False)[0] or "").lower()
    if (
        not guessed
        or guessed in ACTIVE_TYPES
        or guessed.endswith("+xml")
        or "script" in guessed
        or "html" in guessed
    ):
        return "application/octet-stream"
    return guessed


def file_url(model: str, file_id: str, container_id: str | None = None) -> str:
    """Where this service serves an agent's file (a path under its base URL)."""
    url = f"/v1/files/{quote(file_id, safe='')}/content?model={quote(model, safe='')}"
    return f"{url}&container_id={quote(container_id, safe='')}" if container_id else url


def file_name(item: Annotation) -> str:
    """The file's safe name: as the upstream gave it, else the last segment of its marker.

    A classic `file_path` annotation names no file; its marker is the
    sandbox path the agent wrote (`sandbox:/mnt/data/report.csv`).
    """
    if item.filename:
        return safe_name(item.filename, item.file_id)
    name = item.text.rsplit("/", 1)[-1].strip() if item.text else ""
    return safe_name(name or item.file_id, item.file_id)
