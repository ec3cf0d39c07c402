"""OpenAI Responses API requests → one upstream run request.

`parse_request` validates a `POST /v1/responses` body (every problem is a
400 naming the field); `plan_run` maps it onto a run, under the same rules
as chat completions for what cannot be honoured (`runs.Omissions`).

Continuity needs no stored state: every id handed out names where its run
lives. A response id is `resp_<agent>.<thread>.<run>` (`<agent>` the model
name, base64url), an output message `msg_<thread>.<run>`, a function call
item `fc_<thread>.<run>.<n>` and its `call_id` `<call>.<thread>.<run>`.
`previous_response_id`, `conversation` (the thread or conversation id) and
`item_reference` items to earlier output continue that thread; trailing
`function_call_output` items answer the run that asked.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agents_core.errors import InvalidRequest, NotFound
from agents_core.runs import (
    MAX_INT32,
    THREAD_ID,
    AgentKind,
    FunctionSpec,
    Omissions,
    OutputFormat,
    RunPlan,
    ToolAnswer,
    TurnOptions,
    agent_kind,
    apply_options,
    check_image,
    decode_call_id,
)

__all__ = [
    "ResponseId",
    "ResponsesRequest",
    "parse_request",
    "plan_run",
]

LOOSE = ConfigDict(extra="ignore")
STRICT = ConfigDict(extra="forbid")
UNSUPPORTED_HINT = {
    "api_base": "the upstream endpoint comes from the server's configuration only",
    "base_url": "the upstream endpoint comes from the server's configuration only",
    "api_key": "upstream credentials come from the server's configuration only",
    "api_version": "the upstream API version comes from the server's configuration only",
    "agent_reference": "the agent is the request's model; it cannot be named otherwise",
}


@dataclass(frozen=True)
class ResponseId:
    """Where a response lives: the model that answered, its thread and run."""

    model: str
    thread_id: str
    run_id: str

    def __str__(self) -> str:
        alias = base64.urlsafe_b64encode(self.model.encode()).decode().rstrip("=")
        return f"resp_{alias}.{self.thread_id}.{self.run_id}"

    @classmethod
    def parse(cls, value: str, param: str = "response_id") -> ResponseId:
        parts = value.removeprefix("resp_").split(".")
        if not value.startswith("resp_") or len(parts) != 3:
            raise _not_issued(param)
        if not all(THREAD_ID.fullmatch(part) for part in parts):
            raise _not_issued(param)
        try:
            model = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _not_issued(param) from None
        return cls(model, parts[1], parts[2])


def _not_issued(param: str) -> NotFound:
    return NotFound(
        f"no response with this id: '{param}' must be a response id this service issued",
        code="response_not_found",
        param=param,
    )


def item_thread(item_id: str) -> tuple[str, str] | None:
    """`(thread_id, run_id)` from an output item id this service issued (`msg_`, `fc_`)."""
    for prefix in ("msg_", "fc_"):
        if item_id.startswith(prefix):
            parts = item_id.removeprefix(prefix).split(".")
            if len(parts) in (2, 3) and all(THREAD_ID.fullmatch(p) for p in parts):
                return parts[0], parts[1]
    return None


class InputText(BaseModel):
    model_config = LOOSE
    type: Literal["input_text", "output_text", "text"]
    text: str


class InputImage(BaseModel):
    model_config = LOOSE
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class Refusal(BaseModel):
    model_config = LOOSE
    type: Literal["refusal"]
    refusal: str


Part = Annotated[InputText | InputImage | Refusal, Field(discriminator="type")]


class MessageItem(BaseModel):
    model_config = LOOSE
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Part]
    id: str | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(
            p.text if isinstance(p, InputText) else p.refusal if isinstance(p, Refusal) else ""
            for p in self.content
        )


class FunctionCallItem(BaseModel):
    model_config = LOOSE
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str
    arguments: str
    id: str | None = None


class FunctionCallOutputItem(BaseModel):
    model_config = LOOSE
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[dict[str, Any]]

    def text(self) -> str:
        if isinstance(self.output, str):
            return self.output
        return "".join(str(p.get("text", "")) for p in self.output if isinstance(p, dict))


class ItemReference(BaseModel):
    model_config = LOOSE
    type: Literal["item_reference"]
    id: str


class ReasoningItem(BaseModel):
    model_config = LOOSE
    type: Literal["reasoning"]


Item = MessageItem | FunctionCallItem | FunctionCallOutputItem | ItemReference | ReasoningItem


class FunctionTool(BaseModel):
    model_config = LOOSE
    type: Literal["function"]
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ResponsesRequest(BaseModel):
    """The accepted subset of a Responses API request, plus `drop_params` / `strict_params`.

    Unknown fields are rejected so that a parameter is never silently dropped.
    """

    model_config = STRICT

    model: str = Field(min_length=1)
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    max_output_tokens: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = None
    store: bool | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    text: dict[str, Any] | None = None
    user: str | None = None
    include: list[str] | None = None
    reasoning: dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    service_tier: str | None = None
    background: bool | None = None
    top_logprobs: int | None = None
    max_tool_calls: int | None = None
    prompt: Any = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None
    citation_markers: Literal["keep", "strip"] = "keep"
    drop_params: bool | None = None
    strict_params: bool = False

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and (
            len(value) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in value.items())
        ):
            raise ValueError("at most 16 pairs, keys up to 64 and values up to 512 characters")
        return value

    def conversation_id(self) -> str | None:
        value = self.conversation
        if isinstance(value, dict):
            value = value.get("id")
        if value is None:
            return None
        if not isinstance(value, str) or not THREAD_ID.fullmatch(value):
            raise InvalidRequest(
                "invalid 'conversation': not a conversation id", param="conversation"
            )
        return value


def parse_request(payload: Any, max_items: int) -> tuple[ResponsesRequest, list[Item]]:
    """Validate a decoded JSON body and its input items; every problem is a 400 naming the field."""
    if not isinstance(payload, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        request = ResponsesRequest.model_validate(payload)
    except ValidationError as exc:
        raise _invalid(exc, "") from None
    raw = request.input
    if isinstance(raw, str):
        raw = [{"type": "message", "role": "user", "content": raw}]
    if len(raw) > max_items:
        raise InvalidRequest(f"too many input items: {len(raw)} (limit {max_items})", param="input")
    items = [_item(value, f"input[{index}]") for index, value in enumerate(raw)]
    for index, item in enumerate(items):
        if isinstance(item, MessageItem) and isinstance(item.content, list):
            for part_index, part in enumerate(item.content):
                if isinstance(part, InputImage):
                    param = f"input[{index}].content[{part_index}]"
                    if not part.image_url:
                        raise InvalidRequest(
                            f"invalid '{param}': images are sent as image_url (https:// or data:)",
                            param=param,
                        )
                    check_image(part.image_url, param)
    return request, items


ITEM_TYPES: dict[str, type[BaseModel]] = {
    "message": MessageItem,
    "function_call": FunctionCallItem,
    "function_call_output": FunctionCallOutputItem,
    "item_reference": ItemReference,
    "reasoning": ReasoningItem,
}


def _item(value: Any, param: str) -> Item:
    if not isinstance(value, dict):
        raise InvalidRequest(f"invalid '{param}': an input item must be an object", param=param)
    kind = value.get("type", "message")
    model = ITEM_TYPES.get(str(kind))
    if model is None:
        raise InvalidRequest(
            f"invalid '{param}': input items of type '{kind}' are not supported (send messages, "
            "function_call and function_call_output items)",
            param=f"{param}.type",
        )
    try:
        item: Item = model.model_validate(value)  # type: ignore[assignment]
    except ValidationError as exc:
        raise _invalid(exc, param) from None
    return item


def _invalid(exc: ValidationError, prefix: str) -> InvalidRequest:
    error = max(exc.errors(), key=lambda e: len(e["loc"]))
    loc = [str(p) for p in error["loc"] if not str(p).startswith(("str", "list[", "dict["))]
    names = ([prefix] if prefix else []) + loc
    param = names[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in names[1:])
    if error["type"] == "extra_forbidden":
        hint = UNSUPPORTED_HINT.get(loc[-1] if loc else "", "Foundry agent runs cannot honour it")
        return InvalidRequest(f"unsupported parameter '{param}': {hint}", param=param)
    return InvalidRequest(f"invalid '{param}': {error['msg']}", param=param)


def plan_run(
    request: ResponsesRequest,
    items: list[Item],
    agent_id: str,
    *,
    kind: AgentKind | None = None,
    drop_params: bool = False,
) -> RunPlan:
    """Map a Responses request onto a run on a new or continued thread, or a tool answer."""
    kind = kind or agent_kind(agent_id)
    drop = request.drop_params if request.drop_params is not None else drop_params
    omit = Omissions(request.strict_params, drop)
    _check_neutral(request, omit)
    thread_id, run_id = _continued(request, items)
    answer = _tool_answer(items, thread_id, run_id)
    if answer is not None:
        return RunPlan(answer.thread_id, {"assistant_id": agent_id}, answer, tuple(omit.dropped))
    references = [i for i, item in enumerate(items) if _is_earlier_output(item)]
    turns = items[references[-1] + 1 :] if thread_id and references else items
    instructions = [
        m.text() for m in items if isinstance(m, MessageItem) and m.role in ("system", "developer")
    ]
    messages = [m for m in map(_thread_message, turns) if m is not None]
    if not messages:
        raise InvalidRequest("input must contain at least one message", param="input")
    if not thread_id and not any(m["role"] == "user" for m in messages):
        raise InvalidRequest("input must contain at least one user message", param="input")
    body: dict[str, Any] = {"assistant_id": agent_id}
    if request.instructions is not None:
        body["instructions"] = request.instructions
    if instructions:
        body["additional_instructions"] = "\n\n".join(instructions)
    if thread_id:
        body["additional_messages"] = messages
    else:
        body["thread"] = {"messages": messages}
    apply_options(body, _options(request, omit), kind, omit)
    return omit.plan(thread_id, body)


def _continued(request: ResponsesRequest, items: list[Item]) -> tuple[str | None, str | None]:
    """The thread (and run) a request continues: `previous_response_id`, `conversation`,
    or the earlier output an `item_reference` names."""
    conversation = request.conversation_id()
    if request.previous_response_id is not None:
        if conversation is not None:
            raise InvalidRequest(
                "send either 'previous_response_id' or 'conversation', not both",
                param="previous_response_id",
            )
        previous = ResponseId.parse(request.previous_response_id, "previous_response_id")
        return previous.thread_id, previous.run_id
    if conversation is not None:
        return conversation, None
    places = {
        item_thread(item.id)
        for item in items
        if isinstance(item, ItemReference | MessageItem | FunctionCallItem) and item.id
    } - {None}
    threads = {place[0] for place in places if place is not None}
    if len(threads) == 1:
        [thread] = threads
        return thread, None
    return None, None


def _is_earlier_output(item: Item) -> bool:
    if isinstance(item, ItemReference):
        return True
    if isinstance(item, MessageItem):
        return item.role == "assistant"
    return isinstance(item, FunctionCallItem | FunctionCallOutputItem)


def _thread_message(item: Item) -> dict[str, Any] | None:
    """A thread message; earlier tool turns become text, since threads hold no tool calls."""
    if isinstance(item, FunctionCallItem):
        return {"role": "assistant", "content": f"[called {item.name}({item.arguments})]"}
    if isinstance(item, FunctionCallOutputItem):
        return {"role": "user", "content": f"[tool result {item.call_id}]: {item.text()}"}
    if not isinstance(item, MessageItem) or item.role in ("system", "developer"):
        return None
    if item.role == "assistant":
        return {"role": "assistant", "content": item.text() or "(no text)"}
    content = item.content
    if isinstance(content, list) and any(isinstance(p, InputImage) for p in content):
        parts: list[dict[str, Any]] = []
        for part in content:
            if isinstance(part, InputImage):
                image = {"url": part.image_url or ""}
                if part.detail:
                    image["detail"] = part.detail
                parts.append({"type": "image_url", "image_url": image})
            elif isinstance(part, InputText):
                parts.append({"type": "text", "text": part.text})
        return {"role": "user", "content": parts}
    return {"role": "user", "content": item.text()}


def _tool_answer(items: list[Item], thread_id: str | None, run_id: str | None) -> ToolAnswer | None:
    """Trailing `function_call_output` items, routed by their call ids or the continued run."""
    trailing: list[FunctionCallOutputItem] = []
    for item in reversed(items):
        if not isinstance(item, FunctionCallOutputItem):
            break
        trailing.insert(0, item)
    if not trailing:
        return None
    routes = [decode_call_id(item.call_id) for item in trailing]
    if all(route is None for route in routes) and thread_id:
        outputs = [{"tool_call_id": item.call_id, "output": item.text()} for item in trailing]
        return ToolAnswer(thread_id, run_id, outputs)
    if None in routes:
        raise InvalidRequest(
            "these function calls were not issued by this service (unknown call_id format); "
            "answer the call_id of a function_call this service returned",
            param="input",
        )
    places = {(route[1], route[2]) for route in routes if route is not None}
    if len(places) != 1:
        raise InvalidRequest("the function calls belong to different responses", param="input")
    [(answer_thread, answer_run)] = places
    if thread_id and thread_id != answer_thread:
        raise InvalidRequest(
            "the function calls being answered belong to another conversation", param="input"
        )
    outputs = [
        {"tool_call_id": route[0], "output": item.text()}
        for item, route in zip(trailing, routes, strict=True)
        if route is not None
    ]
    return ToolAnswer(answer_thread, answer_run, outputs)


NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "service_tier": ("auto", "default"),
    "truncation": ("disabled",),
    "top_logprobs": (0,),
    "background": (False,),
    "store": (True,),
    "include": ([],),
    "reasoning": ({},),
}


def _check_neutral(request: ResponsesRequest, omit: Omissions) -> None:
    """Parameters Foundry runs cannot honour: accepted at values that cannot change the reply."""
    for name, neutral in NEUTRAL_VALUES.items():
        value = getattr(request, name)
        if value is None or value in neutral:
            continue
        if name == "store":
            omit.unsupported(name, "Foundry keeps every thread and conversation")
        elif name in ("include", "reasoning", "truncation"):
            omit.not_forwarded(name, "the agent owns its model settings")
        else:
            omit.unsupported(name, "Foundry agent runs cannot honour it")
    for name in ("max_tool_calls", "prompt"):
        if getattr(request, name) is not None:
            omit.unsupported(name, "Foundry agent runs cannot honour it")
    for name in ("prompt_cache_key", "safety_identifier"):
        if getattr(request, name) is not None:
            omit.dropped.append(name)


def _options(request: ResponsesRequest, omit: Omissions) -> TurnOptions:
    """The request's tools, sampling, format, limit and metadata in neutral terms.

    Built-in tools are the agent's own: not forwarded, reported.
    """
    functions: list[FunctionSpec] = []
    for index, raw in enumerate(request.tools or []):
        if raw.get("type") != "function":
            omit.not_forwarded(
                f"tools[{index}].{raw.get('type')}",
                "built-in tools are the agent's own; define them on the agent",
            )
            continue
        try:
            tool = FunctionTool.model_validate(raw)
        except ValidationError as exc:
            raise _invalid(exc, f"tools[{index}]") from None
        functions.append(FunctionSpec(tool.name, tool.description, tool.parameters, tool.strict))
    return TurnOptions(
        tools=functions,
        tool_choice=_tool_choice(request.tool_choice),
        temperature=request.temperature,
        top_p=request.top_p,
        output_format=_output_format((request.text or {}).get("format")),
        limit=(
            ("max_output_tokens", request.max_output_tokens)
            if request.max_output_tokens is not None
            else None
        ),
        parallel_tool_calls=request.parallel_tool_calls,
        metadata=request.metadata,
        user=request.user,
    )


def _tool_choice(choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    """The Responses `tool_choice` in the run's shape (`{"type": "function", "function"}`)."""
    if choice is None:
        return None
    if isinstance(choice, dict):
        name = choice.get("name")
        if choice.get("type") != "function" or not isinstance(name, str):
            raise InvalidRequest(
                'invalid \'tool_choice\': expected "none", "auto", "required" or '
                '{"type": "function", "name": ...}',
                param="tool_choice",
            )
        return {"type": "function", "function": {"name": name}}
    if choice not in ("none", "auto", "required"):
        raise InvalidRequest(
            "invalid 'tool_choice': expected 'none', 'auto', 'required' or a function",
            param="tool_choice",
        )
    return choice


def _output_format(format_: Any) -> OutputFormat | None:
    """`text.format`: `text` (the default) is nothing to ask for."""
    if format_ is None or (isinstance(format_, dict) and format_.get("type") == "text"):
        return None
    if not isinstance(format_, dict) or format_.get("type") not in ("json_object", "json_schema"):
        raise InvalidRequest(
            "invalid 'text.format': type must be 'text', 'json_object' or 'json_schema'",
            param="text.format",
        )
    if format_["type"] == "json_object":
        return OutputFormat("text.format", "json_object")
    return OutputFormat("text.format", "json_schema", format_)
