"""Responses API items: validated input, their stored (conversation item) form, what agents read.

Input items are messages (`{role, content}`, `type: "message"` optional;
content a string or `input_text` / `input_image` / `input_file` /
`output_text` parts), `function_call_output` items (`{call_id, output}`)
and replayed `function_call` items. Stored, each gets an id and `status:
"completed"`, in the shape the `openai` SDK's `ConversationItem` parses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from .api_errors import ApiError, bad_request
from .bodies import JSON
from .objects import ToolCall, ToolResult, new_id


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InputTextPart(_In):
    type: Literal["input_text"]
    text: str


class OutputTextPart(_In):
    type: Literal["output_text"]
    text: str


class InputImagePart(_In):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] = "auto"


class InputFilePart(_In):
    type: Literal["input_file"]
    file_id: str | None = None
    filename: str | None = None
    file_url: str | None = None


Part = Annotated[
    InputTextPart | OutputTextPart | InputImagePart | InputFilePart, Field(discriminator="type")
]


class MessageItemIn(_In):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Part]


class FunctionCallOutputIn(_In):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str


class FunctionCallIn(_In):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str
    id: str | None = None


def _item_kind(value: Any) -> str:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", "")
    return str(kind)


ItemIn = Annotated[
    Annotated[MessageItemIn, Tag("message")]
    | Annotated[FunctionCallOutputIn, Tag("function_call_output")]
    | Annotated[FunctionCallIn, Tag("function_call")],
    Discriminator(_item_kind),
]


_ITEMS: TypeAdapter[list[ItemIn]] = TypeAdapter(list[ItemIn])
_TAGS = frozenset(
    {
        "message",
        "function_call_output",
        "function_call",
        "str",
        "input_text",
        "output_text",
        "input_image",
        "input_file",
    }
)


def check_items(raw: Any, param: str) -> None:
    """Validate a list of input items first, so a 400 names the item field (`input.0.role`).

    An item without `type` is refused as the Foundry project endpoint refuses
    it (contract rule 15: `400 invalid_value`), although OpenAI's own
    endpoint reads such an item as a message.
    """
    if not isinstance(raw, list):
        return
    for index, item in enumerate(raw):
        if isinstance(item, dict) and not item.get("type"):
            raise ApiError(
                400,
                "invalid_value",
                "Invalid value: ''. Supported values are: 'message', 'function_call', "
                "'function_call_output', 'mcp_approval_response', 'item_reference'.",
                param=f"{param}[{index}].type",
            )
    try:
        _ITEMS.validate_python(raw)
    except ValidationError as exc:
        # The deepest error is the most specific (a union's other branches fail at its root);
        # branch and tag names in its location say which model failed, not which field.
        error = max(exc.errors(), key=lambda e: len(e["loc"]))
        path = [str(p) for p in error["loc"] if not (p in _TAGS or "[" in str(p))]
        name = ".".join([param, *path])
        raise bad_request(f"Invalid value for '{name}': {error['msg']}.", name) from exc


def _part_json(part: InputTextPart | OutputTextPart | InputImagePart | InputFilePart) -> JSON:
    if isinstance(part, OutputTextPart):
        return {"type": "output_text", "text": part.text, "annotations": []}
    return part.model_dump()


def _text_part(role: str, text: str) -> JSON:
    if role == "assistant":
        return {"type": "output_text", "text": text, "annotations": []}
    return {"type": "input_text", "text": text}


def message_item(role: str, content: list[JSON], status: str = "completed") -> JSON:
    return {
        "type": "message",
        "id": new_id("msg"),
        "status": status,
        "role": role,
        "content": content,
    }


def stored_items(items: str | Sequence[ItemIn] | None) -> list[JSON]:
    """Input (a string is one user message) as fresh stored items, in order."""
    if items is None:
        return []
    if isinstance(items, str):
        return [message_item("user", [{"type": "input_text", "text": items}])]
    stored: list[JSON] = []
    for item in items:
        if isinstance(item, MessageItemIn):
            if isinstance(item.content, str):
                content = [_text_part(item.role, item.content)]
            else:
                content = [_part_json(part) for part in item.content]
            stored.append(message_item(item.role, content))
        elif isinstance(item, FunctionCallOutputIn):
            stored.append(
                {
                    "type": "function_call_output",
                    "id": new_id("fco"),
                    "call_id": item.call_id,
                    "output": item.output,
                    "status": "completed",
                }
            )
        else:
            stored.append(
                {
                    "type": "function_call",
                    "id": item.id or new_id("fc"),
                    "call_id": item.call_id,
                    "name": item.name,
                    "arguments": item.arguments,
                    "status": "completed",
                }
            )
    return stored


def item_text(item: JSON) -> str:
    """What an agent reads from a stored message: text, images as `[image_url: …]` markers."""
    parts: list[str] = []
    for part in item.get("content") or []:
        kind = part.get("type")
        if kind in ("input_text", "output_text"):
            parts.append(str(part.get("text", "")))
        elif kind == "input_image":
            if part.get("image_url"):
                parts.append(f"[image_url: {part['image_url']}]")
            else:
                parts.append(f"[image_file: {part.get('file_id')}]")
        elif kind == "input_file":
            parts.append(f"[input_file: {part.get('file_id') or part.get('filename')}]")
    return " ".join(parts)


def history(items: Sequence[JSON]) -> list[tuple[str, str]]:
    """`(role, text)` of every message item, oldest first."""
    return [(str(i["role"]), item_text(i)) for i in items if i.get("type") == "message"]


def pending_results(items: Sequence[JSON]) -> list[ToolResult]:
    """Function outputs given since the last user message, each paired with its call."""
    calls: dict[str, ToolCall] = {}
    results: list[ToolResult] = []
    for item in items:
        kind = item.get("type")
        if kind == "message" and item.get("role") == "user":
            results = []
        elif kind == "function_call":
            call_id = str(item["call_id"])
            calls[call_id] = ToolCall(call_id, str(item["name"]), str(item["arguments"]))
        elif kind == "function_call_output":
            call = calls.get(str(item["call_id"]))
            if call is not None:
                results.append(ToolResult(call, str(item["output"])))
    return results


def unknown_call_ids(prior: Sequence[JSON], new: Sequence[JSON]) -> list[str]:
    """`call_id`s of function outputs in `new` that match no function call seen so far."""
    known = {str(i["call_id"]) for i in prior if i.get("type") == "function_call"}
    unknown: list[str] = []
    for item in new:
        if item.get("type") == "function_call":
            known.add(str(item["call_id"]))
        elif item.get("type") == "function_call_output" and item["call_id"] not in known:
            unknown.append(str(item["call_id"]))
    return unknown
