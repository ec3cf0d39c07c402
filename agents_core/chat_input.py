"""OpenAI chat-completions requests → one upstream run request.

`parse_request` validates a body (every problem is a 400 naming the
field); `plan_run` decides the single upstream request a completion makes:
a new run (on a new thread, or on the caller's `thread_id`), or, when the
request answers tool calls, `submit_tool_outputs` on the run that asked.

Tool-call ids handed to callers encode where the run lives
(`<call_id>.<thread_id>.<run_id>`), so any instance can route the answer
with no lookup and no server-side state.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agents_core.errors import InvalidRequest

__all__ = [
    "THREAD_ID",
    "ChatMessage",
    "ChatRequest",
    "RunPlan",
    "ToolAnswer",
    "decode_call_id",
    "encode_call_id",
    "parse_request",
    "plan_run",
]

UNION_MEMBER = re.compile(r"str|int|float|bool|none|.*[\[\]-].*|[A-Z]\w*")
THREAD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
MAX_IMAGE_BYTES = 20 * 1024 * 1024
UNSUPPORTED_HINT = {
    "functions": "use 'tools' instead",
    "function_call": "use 'tool_choice' instead",
    "api_base": "the upstream endpoint comes from the server's configuration only",
    "base_url": "the upstream endpoint comes from the server's configuration only",
    "api_key": "upstream credentials come from the server's configuration only",
    "api_version": "the upstream API version comes from the server's configuration only",
}
STRICT = ConfigDict(extra="forbid", strict=True)


class TextPart(BaseModel):
    model_config = STRICT
    type: Literal["text"]
    text: str


class ImageURL(BaseModel):
    model_config = STRICT
    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(BaseModel):
    model_config = STRICT
    type: Literal["image_url"]
    image_url: ImageURL


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    name: str
    arguments: str


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(BaseModel):
    model_config = STRICT
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[Annotated[TextPart | ImagePart, Field(discriminator="type")]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    # Fields of an earlier reply that the OpenAI SDK sends back with it; nothing to do.
    refusal: str | None = None
    annotations: list[Any] | None = None
    audio: Any = None
    function_call: None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


class FunctionTool(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(BaseModel):
    model_config = STRICT
    type: Literal["function"]
    function: FunctionTool


class StreamOptions(BaseModel):
    model_config = STRICT
    include_usage: bool = False
    include_obfuscation: bool | None = None


class ChatRequest(BaseModel):
    """The accepted subset of an OpenAI chat-completions request, plus `thread_id`/`instructions`.

    Unknown fields are rejected so a parameter is never silently dropped.
    """

    model_config = STRICT

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    thread_id: str | None = Field(default=None, pattern=f"^{THREAD_ID.pattern}$")
    instructions: str | None = None
    citation_markers: Literal["keep", "strip"] = "keep"
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    response_format: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    n: Annotated[int, Field(ge=1, le=1)] | None = None
    logprobs: Literal[False] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None

    @field_validator("response_format")
    @classmethod
    def _response_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and value.get("type") not in ("text", "json_object", "json_schema"):
            raise ValueError("type must be 'text', 'json_object' or 'json_schema'")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and (
            len(value) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in value.items())
        ):
            raise ValueError("at most 16 pairs, keys up to 64 and values up to 512 characters")
        return value

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(value, dict) and not (
            value.get("type") == "function"
            and isinstance(value.get("function"), dict)
            and isinstance(value["function"].get("name"), str)
        ):
            raise ValueError('expected {"type": "function", "function": {"name": ...}}')
        return value


def parse_request(payload: Any, max_messages: int) -> ChatRequest:
    """Validate a decoded JSON body; every problem becomes a 400 naming the field."""
    if not isinstance(payload, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        request = ChatRequest.model_validate(payload)
    except ValidationError as exc:
        raise _invalid(exc) from None
    if len(request.messages) > max_messages:
        raise InvalidRequest(
            f"too many messages: {len(request.messages)} (limit {max_messages})", param="messages"
        )
    for index, message in enumerate(request.messages):
        if isinstance(message.content, list):
            for part_index, part in enumerate(message.content):
                if isinstance(part, ImagePart):
                    _check_image(part.image_url.url, f"messages[{index}].content[{part_index}]")
    return request


def _invalid(exc: ValidationError) -> InvalidRequest:
    # With unions, the deepest error is the one about what the caller meant to send.
    error = max(exc.errors(), key=lambda e: len(e["loc"]))
    # Unions add their member types ("str", "list[TextPart]") to the location: drop them.
    loc = [str(part) for part in error["loc"] if not UNION_MEMBER.fullmatch(str(part))]
    param = loc[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:]) if loc else None
    if error["type"] == "extra_forbidden" and param:
        hint = UNSUPPORTED_HINT.get(loc[-1], "Foundry agent runs cannot honour it")
        return InvalidRequest(f"unsupported parameter '{param}': {hint}", param=param)
    if error["type"] == "union_tag_invalid" and param:
        tag = (error.get("ctx") or {}).get("tag", "?")
        return InvalidRequest(
            f"invalid '{param}': content part type '{tag}' is not supported "
            "(use 'text' or 'image_url')",
            param=param,
        )
    return InvalidRequest(f"invalid '{param}': {error['msg']}", param=param)


def _check_image(url: str, param: str) -> None:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = header.removeprefix("data:").split(";")[0].lower()
        if mime not in IMAGE_TYPES or not header.endswith(";base64"):
            raise InvalidRequest(
                f"invalid '{param}': data URLs must be base64 {', '.join(IMAGE_TYPES)}",
                param=param,
            )
        if len(data) * 3 // 4 > MAX_IMAGE_BYTES:
            raise InvalidRequest(
                f"invalid '{param}': the image is larger than {MAX_IMAGE_BYTES // 1048576} MiB",
                param=param,
            )
        try:
            base64.b64decode(data[: 1024 * 4], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                f"invalid '{param}': the data URL is not base64", param=param
            ) from None
        return
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidRequest(
            f"invalid '{param}': image URLs must be https:// or data: URLs", param=param
        )


def encode_call_id(call_id: str, thread_id: str, run_id: str) -> str:
    """The tool-call id a caller sees: the upstream id plus where its run lives."""
    return f"{call_id}.{thread_id}.{run_id}"


def decode_call_id(value: str) -> tuple[str, str, str] | None:
    """`(call_id, thread_id, run_id)` from an id made by `encode_call_id`, else None."""
    parts = value.split(".")
    if len(parts) != 3 or not all(THREAD_ID.fullmatch(part) for part in parts):
        return None
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True)
class ToolAnswer:
    """Tool results for the run that asked for them."""

    thread_id: str
    run_id: str
    outputs: list[dict[str, str]]


@dataclass(frozen=True)
class RunPlan:
    """The one upstream request a completion makes: a new run, or tool outputs."""

    thread_id: str | None
    body: dict[str, Any]
    tool_answer: ToolAnswer | None = None


def plan_run(request: ChatRequest, agent_id: str, thread_id: str | None) -> RunPlan:
    """Map a chat request onto a run on a new thread or `thread_id`, or a tool answer."""
    answer = _tool_answer(request.messages)
    if answer is not None:
        if thread_id and thread_id != answer.thread_id:
            raise InvalidRequest(
                "the tool calls being answered belong to another thread", param="thread_id"
            )
        return RunPlan(answer.thread_id, {"assistant_id": agent_id}, answer)
    instructions = [m.text() for m in request.messages if m.role in ("system", "developer")]
    turns = [m for m in request.messages if m.role in ("user", "assistant", "tool")]
    if thread_id:
        last_assistant = max((i for i, m in enumerate(turns) if m.role == "assistant"), default=-1)
        turns = turns[last_assistant + 1 :]
        if not turns:
            raise InvalidRequest(
                "with a thread_id the thread already holds the history: send the new user "
                "message(s) after the last assistant message",
                param="messages",
            )
    elif not any(m.role == "user" for m in turns):
        raise InvalidRequest("messages must contain at least one user message", param="messages")
    messages = [_thread_message(m) for m in turns]
    body: dict[str, Any] = {"assistant_id": agent_id}
    if request.instructions is not None:
        body["instructions"] = request.instructions
    if instructions:
        body["additional_instructions"] = "\n\n".join(instructions)
    if thread_id:
        body["additional_messages"] = messages
    else:
        body["thread"] = {"messages": messages}
    if request.tools is not None:
        body["tools"] = [tool.model_dump(exclude_none=True) for tool in request.tools]
    optional = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_completion_tokens": request.max_completion_tokens or request.max_tokens,
        "response_format": request.response_format,
        "tool_choice": request.tool_choice,
        "parallel_tool_calls": request.parallel_tool_calls,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    metadata = dict(request.metadata or {})
    if request.user:
        metadata.setdefault("user", request.user[:512])
    if metadata:
        body["metadata"] = metadata
    return RunPlan(thread_id, body)


def _thread_message(message: ChatMessage) -> dict[str, Any]:
    """A thread message; earlier tool turns become text, since threads hold no tool calls."""
    if message.role == "tool":
        return {
            "role": "user",
            "content": f"[tool result {message.tool_call_id}]: {message.text()}",
        }
    if message.role == "assistant":
        calls = "".join(
            f"\n[called {call.function.name}({call.function.arguments})]"
            for call in message.tool_calls or []
        )
        return {"role": "assistant", "content": (message.text() + calls).strip() or "(no text)"}
    if isinstance(message.content, list) and any(isinstance(p, ImagePart) for p in message.content):
        content: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            else:
                content.append(
                    {"type": "image_url", "image_url": part.image_url.model_dump(exclude_none=True)}
                )
        return {"role": "user", "content": content}
    return {"role": "user", "content": message.text()}


def _tool_answer(messages: list[ChatMessage]) -> ToolAnswer | None:
    """Tool results that end the conversation, matched to the assistant turn that asked."""
    trailing: list[ChatMessage] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        trailing.insert(0, message)
    if not trailing:
        return None
    asked_at = len(messages) - len(trailing) - 1
    asking = messages[asked_at] if asked_at >= 0 else None
    if asking is None or asking.role != "assistant" or not asking.tool_calls:
        raise InvalidRequest(
            "tool messages must follow the assistant message whose tool_calls they answer",
            param=f"messages[{max(asked_at + 1, 0)}]",
        )
    asked = {call.id for call in asking.tool_calls}
    answered = {m.tool_call_id for m in trailing}
    unknown = sorted(str(a) for a in answered - asked)
    if unknown:
        raise InvalidRequest(
            f"tool_call_id {unknown[0]} does not match any tool call of the assistant message",
            param="messages",
        )
    missing = sorted(asked - answered)
    if missing:
        raise InvalidRequest(
            f"missing tool results for: {', '.join(missing)} (answer every call in one request)",
            param="messages",
        )
    routes = {decode_call_id(call_id) for call_id in asked}
    if None in routes:
        raise InvalidRequest(
            "these tool calls were not issued by this service (unknown tool_call_id format)",
            param="messages",
        )
    places = {(route[1], route[2]) for route in routes if route is not None}
    if len(places) != 1:
        raise InvalidRequest("the tool calls belong to different runs", param="messages")
    [(thread_id, run_id)] = places
    by_id = {m.tool_call_id: m.text() for m in trailing}
    outputs = []
    for call_id in sorted(asked):
        route = decode_call_id(call_id)
        assert route is not None
        outputs.append({"tool_call_id": route[0], "output": by_id[call_id]})
    return ToolAnswer(thread_id, run_id, outputs)
