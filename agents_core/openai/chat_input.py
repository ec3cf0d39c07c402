"""OpenAI chat-completions requests → one upstream run request.

`parse_request` validates a body (every problem is a 400 naming the
field); `plan_run` decides the upstream run a completion makes: a new run
(on a new thread, or on the caller's `thread_id`), or, when the request
answers tool calls, the tool outputs for the run that asked.

What cannot be honoured follows one rule (README, "Parameters"): a value
that cannot change the outcome (a parameter's documented default, or
unset) is accepted; settings the agent owns and token limits below the
service's minimum are not forwarded or are raised, and reported
(`RunPlan.dropped`, `RunPlan.adjusted`); any other value is a 400 naming
the parameter unless the request (`drop_params`) or the operator
(`DROP_PARAMS`) opts into dropping it. `strict_params: true` makes every
such case a 400 instead.

Tool-call ids handed to callers encode where the run lives
(`<call_id>.<thread_id>.<run_id>`), so any instance can route the answer
with no lookup and no server-side state; when the request names its
thread, the upstream call id alone is handed out (OpenAI's 40-character
limit) and the thread routes the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agents_core.errors import InvalidRequest
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

__all__ = ["ChatMessage", "ChatRequest", "parse_request", "plan_run"]

UNION_MEMBER = re.compile(r"str|int|float|bool|none|.*[\[\]-].*|[A-Z]\w*")
UNSUPPORTED_HINT = {
    "functions": "use 'tools' instead",
    "function_call": "use 'tool_choice' instead",
    "api_base": "the upstream endpoint comes from the server's configuration only",
    "base_url": "the upstream endpoint comes from the server's configuration only",
    "api_key": "upstream credentials come from the server's configuration only",
    "api_version": "the upstream API version comes from the server's configuration only",
}
STRICT = ConfigDict(extra="forbid", strict=True)


def _always(value: Any) -> bool:
    return True


# Parameters Foundry runs cannot honour, with the values that cannot change the outcome.
NEUTRAL: dict[str, Callable[[Any], bool]] = {
    "presence_penalty": lambda v: v == 0 and not isinstance(v, bool),
    "frequency_penalty": lambda v: v == 0 and not isinstance(v, bool),
    "stop": lambda v: v in ("", []),
    "n": lambda v: v == 1 and not isinstance(v, bool),
    "logprobs": lambda v: v is False,
    "top_logprobs": lambda v: v == 0 and not isinstance(v, bool),
    "logit_bias": lambda v: v == {},
    "seed": lambda v: False,
    "service_tier": lambda v: v in ("auto", "default"),
    "store": lambda v: v is False,
    "modalities": lambda v: v == ["text"],
    "prediction": lambda v: False,
    "audio": lambda v: False,
    "reasoning_effort": lambda v: False,
    "verbosity": lambda v: v == "medium",
    "web_search_options": lambda v: False,
    "prompt_cache_key": _always,
    "safety_identifier": _always,
}
"""`None` is neutral for every one; `prompt_cache_key` and `safety_identifier` never
change a reply, but they are not forwarded, so a value is reported."""
REPORTED_NEUTRAL = frozenset({"prompt_cache_key", "safety_identifier"})


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
    max_tokens: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = None
    response_format: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    drop_params: bool | None = None
    strict_params: bool = False
    presence_penalty: Any = None
    frequency_penalty: Any = None
    stop: Any = None
    n: Any = None
    logprobs: Any = None
    top_logprobs: Any = None
    logit_bias: Any = None
    seed: Any = None
    service_tier: Any = None
    store: Any = None
    modalities: Any = None
    prediction: Any = None
    audio: Any = None
    reasoning_effort: Any = None
    verbosity: Any = None
    web_search_options: Any = None
    prompt_cache_key: Any = None
    safety_identifier: Any = None

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
                    check_image(part.image_url.url, f"messages[{index}].content[{part_index}]")
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


def plan_run(
    request: ChatRequest,
    agent_id: str,
    thread_id: str | None,
    *,
    kind: AgentKind | None = None,
    drop_params: bool = False,
) -> RunPlan:
    """Map a chat request onto a run on a new thread or `thread_id`, or a tool answer.

    The body is in the classic run shape, valid for the operation it will
    be sent to (`../shared/reference/foundry-contract.md`); versioned
    agents' client translates it to a Responses request.
    Raises `InvalidRequest` (400) naming the parameter.
    """
    kind = kind or agent_kind(agent_id)
    drop = request.drop_params if request.drop_params is not None else drop_params
    omit = Omissions(request.strict_params, drop)
    _check_neutral(request, omit)
    answer = _tool_answer(request.messages, thread_id)
    if answer is not None:
        if thread_id and thread_id != answer.thread_id:
            raise InvalidRequest(
                "the tool calls being answered belong to another thread", param="thread_id"
            )
        return RunPlan(answer.thread_id, {"assistant_id": agent_id}, answer, tuple(omit.dropped))
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
    apply_options(body, _options(request), kind, omit)
    return omit.plan(thread_id, body)


def _options(request: ChatRequest) -> TurnOptions:
    """The chat request's tools, sampling, format, limit and metadata in neutral terms."""
    format_ = request.response_format
    output = None
    if format_ is not None and format_["type"] != "text":
        schema = format_.get("json_schema") if format_["type"] == "json_schema" else None
        if format_["type"] == "json_schema" and not isinstance(schema, dict):
            raise InvalidRequest(
                "invalid 'response_format.json_schema': a json_schema format needs a 'name' "
                "(string) and a 'schema' (a JSON Schema object)",
                param="response_format.json_schema",
            )
        param = "response_format.json_schema" if schema is not None else "response_format"
        output = OutputFormat(param, format_["type"], schema)
    limit_param = "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
    limit = request.max_completion_tokens or request.max_tokens
    return TurnOptions(
        tools=[
            FunctionSpec(f.name, f.description, f.parameters, f.strict)
            for f in (tool.function for tool in request.tools or [])
        ],
        tool_choice=request.tool_choice,
        temperature=request.temperature,
        top_p=request.top_p,
        output_format=output,
        limit=(limit_param, limit) if limit is not None else None,
        parallel_tool_calls=request.parallel_tool_calls,
        metadata=request.metadata,
        user=request.user,
    )


def _check_neutral(request: ChatRequest, omit: Omissions) -> None:
    for name, neutral in NEUTRAL.items():
        value = getattr(request, name)
        if value is None:
            continue
        if not neutral(value):
            omit.unsupported(name, "Foundry agent runs cannot honour it")
        elif name in REPORTED_NEUTRAL:
            omit.dropped.append(name)


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


def _tool_answer(messages: list[ChatMessage], thread_id: str | None) -> ToolAnswer | None:
    """Tool results that end the conversation, matched to the assistant turn that asked.

    Ids in the self-routing form name their run; plain upstream ids are
    routed by the request's `thread_id` to the run waiting on that thread.
    """
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
    by_id = {m.tool_call_id: m.text() for m in trailing}
    # Results go upstream in the order the agent asked for them (parallel calls).
    order = list(dict.fromkeys(call.id for call in asking.tool_calls))
    routes = {call_id: decode_call_id(call_id) for call_id in order}
    if thread_id and all(
        route is None and THREAD_ID.fullmatch(call_id) for call_id, route in routes.items()
    ):
        outputs = [{"tool_call_id": c, "output": by_id[c]} for c in order]
        return ToolAnswer(thread_id, None, outputs)
    if None in routes.values():
        raise InvalidRequest(
            "these tool calls were not issued by this service (unknown tool_call_id format); "
            "tool calls handed out on a named thread are answered with the same thread_id",
            param="messages",
        )
    places = {(route[1], route[2]) for route in routes.values() if route is not None}
    if len(places) != 1:
        raise InvalidRequest("the tool calls belong to different runs", param="messages")
    [(answer_thread, run_id)] = places
    outputs = []
    for call_id in order:
        route = routes[call_id]
        assert route is not None
        outputs.append({"tool_call_id": route[0], "output": by_id[call_id]})
    return ToolAnswer(answer_thread, run_id, outputs)
