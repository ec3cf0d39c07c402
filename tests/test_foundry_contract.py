"""Every upstream request the adapter builds, checked against Microsoft's own SDKs.

A matrix of caller requests (system and developer messages, `instructions`,
tools with and without `strict` / `parameters`, `json_schema` formats,
images, token limits, `temperature`, `tool_choice` variants, tool answers)
runs through the real Foundry clients for both agent kinds and both thread
states, over `httpx.MockTransport`. Each request body must hold only the
fields the installed SDK can send for that operation:
- classic routes: the keys of the `body` dict that `azure-ai-agents`'
  builder assembles in `create_thread_and_run`, `runs.create`,
  `threads.create` and `runs.submit_tool_outputs` (read from its source),
  and the fields of its models (`FunctionDefinition`,
  `ResponseFormatJsonSchema`, `ThreadMessageOptions`, ...);
- versioned routes: openai's `ResponseCreateParams` plus Foundry's
  `agent_reference`, minus what the agent owns (contract rule 14);
plus the rules of `../shared/reference/foundry-contract.md` the SDKs do
not encode (token minimums, typed input items, tool choice shapes).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.ai.agents import models as agent_models
from azure.ai.agents._utils.model_base import _RestField
from azure.ai.agents.operations import _operations
from openai.types.responses import easy_input_message_param, response_create_params
from openai.types.responses import response_input_item_param as input_items

from agents_core.errors import InvalidRequest
from agents_core.foundry.responses import ResponsesClient
from agents_core.foundry.threads import ThreadsClient
from agents_core.foundry.transport import Project, Transport
from agents_core.openai.chat_input import parse_request, plan_run
from agents_core.runs import AgentKind, start

ENDPOINT = "https://contoso.services.ai.azure.com/api/projects/p"
AGENT_TOOLS = [
    {"type": "code_interpreter"},
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
]


def _builder_keys(class_name: str, method: str) -> frozenset[str]:
    """Keys of the `body = {...}` dict the SDK's operation builds (its implementation)."""
    tree = ast.parse(inspect.getsource(_operations))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    for sub in ast.walk(item):
                        if (
                            isinstance(sub, ast.Assign)
                            and isinstance(sub.value, ast.Dict)
                            and any(isinstance(t, ast.Name) and t.id == "body" for t in sub.targets)
                            and sub.value.keys
                        ):
                            return frozenset(
                                k.value for k in sub.value.keys if isinstance(k, ast.Constant)
                            )
    raise AssertionError(f"no body builder for {class_name}.{method}")


def _fields(model: type) -> frozenset[str]:
    return frozenset(
        value._rest_name_input or name
        for name, value in vars(model).items()
        if isinstance(value, _RestField)
    )


CREATE_THREAD_AND_RUN = _builder_keys("_AgentsClientOperationsMixin", "create_thread_and_run")
CREATE_RUN = _builder_keys("RunsOperations", "create")
CREATE_THREAD = _builder_keys("ThreadsOperations", "create")
SUBMIT_TOOL_OUTPUTS = _builder_keys("RunsOperations", "submit_tool_outputs")
FUNCTION_DEFINITION = _fields(agent_models.FunctionDefinition)
JSON_SCHEMA = _fields(agent_models.ResponseFormatJsonSchema)
MESSAGE = _fields(agent_models.ThreadMessageOptions)
NAMED_TOOL_CHOICE = _fields(agent_models.AgentsNamedToolChoice)
TOOL_CHOICE_MODES = frozenset(mode.value for mode in agent_models.AgentsToolChoiceOptionMode)
IMAGE_URL = _fields(agent_models.MessageImageUrlParam)
AGENT_OWNED = frozenset({"model", "instructions", "tools", "text", "reasoning", "temperature"})
RESPONSES_FIELDS = (
    (
        frozenset(response_create_params.ResponseCreateParamsBase.__annotations__)
        | {"stream", "agent_reference"}
    )
    - AGENT_OWNED
    - {"top_p"}
)
MESSAGE_ITEM = frozenset(easy_input_message_param.EasyInputMessageParam.__annotations__)
FUNCTION_OUTPUT_ITEM = frozenset(input_items.FunctionCallOutput.__annotations__)


def test_the_sdk_signatures_were_read() -> None:
    """The oracle itself: what the SDKs' builders can send (guards the source parsing)."""
    assert "additional_instructions" in CREATE_RUN
    assert "additional_instructions" not in CREATE_THREAD_AND_RUN
    assert {"assistant_id", "thread", "tools", "max_completion_tokens"} <= CREATE_THREAD_AND_RUN
    assert {"stream", "tool_outputs"} == SUBMIT_TOOL_OUTPUTS
    assert {"name", "description", "parameters"} == FUNCTION_DEFINITION
    assert "strict" not in JSON_SCHEMA and "schema" in JSON_SCHEMA
    assert {"none", "auto"} == TOOL_CHOICE_MODES
    assert {"input", "conversation", "agent_reference"} <= RESPONSES_FIELDS


class Upstream:
    """A fake Foundry project over `httpx.MockTransport` that records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/projects/p")
        if path.startswith("/assistants/"):
            return httpx.Response(200, json={"id": path.rsplit("/", 1)[-1], "tools": AGENT_TOOLS})
        if path.startswith("/agents/"):
            return httpx.Response(
                200,
                json={
                    "name": "planner",
                    "versions": {"latest": {"definition": {"tools": []}}},
                    "definition": {"tools": []},
                },
            )
        if path == "/threads":
            return httpx.Response(200, json={"id": "thread_new", "object": "thread"})
        if path == "/openai/v1/conversations":
            return httpx.Response(200, json={"id": "conv_new", "object": "conversation"})
        if path.endswith("/runs/run_1") and request.method == "GET":
            return httpx.Response(200, json=_waiting_run())
        if path == "/openai/v1/responses":
            return _sse(
                ("response.created", {"type": "response.created", "response": {"id": "resp_1"}}),
                (
                    "response.completed",
                    {
                        "type": "response.completed",
                        "response": {"id": "resp_1", "status": "completed", "output": []},
                    },
                ),
            )
        thread = "thread_new" if path == "/threads/runs" else path.split("/")[2]
        run = {"id": "run_1", "thread_id": thread, "status": "completed"}
        return _sse(("thread.run.created", run), ("thread.run.completed", run))


def _waiting_run() -> dict[str, Any]:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    return {
        "id": "run_1",
        "thread_id": "thread_old",
        "status": "requires_action",
        "required_action": {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": [call]},
        },
    }


def _sse(*events: tuple[str, dict[str, Any]]) -> httpx.Response:
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    return httpx.Response(200, content=(body + "event: done\ndata: [DONE]\n\n").encode())


SYSTEM = [
    [],
    [{"role": "system", "content": "Be brief."}],
    [{"role": "developer", "content": "Answer in French."}],
]
INSTRUCTIONS: list[dict[str, Any]] = [{}, {"instructions": "You plan trips."}]
TOOLS: list[dict[str, Any]] = [
    {},
    {"tools": [{"type": "function", "function": {"name": "f"}}]},
    {
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "g",
                    "description": "d",
                    "strict": True,
                    "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
                },
            }
        ]
    },
]
FORMATS: list[dict[str, Any]] = [
    {},
    {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "r", "strict": True, "schema": {"type": "object"}},
        }
    },
]
IMAGES = [
    "hi",
    [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
    ],
]
LIMITS: list[dict[str, Any]] = [{}, {"max_tokens": 1}, {"max_tokens": 100}, {"max_tokens": 300}]
SAMPLING: list[dict[str, Any]] = [{}, {"temperature": 0.2, "top_p": 0.9}]
CHOICES: list[dict[str, Any]] = [
    {},
    {"tool_choice": "auto"},
    {"tool_choice": "none"},
    {"tool_choice": "required", "drop_params": True},
    {"tool_choice": {"type": "function", "function": {"name": "f"}}},
]


def caller_requests() -> Iterator[dict[str, Any]]:
    for system, instructions, tools, format_, image, limit, sampling, choice in itertools.product(
        SYSTEM, INSTRUCTIONS, TOOLS, FORMATS, IMAGES, LIMITS, SAMPLING, CHOICES
    ):
        messages = [*system, {"role": "user", "content": image}]
        yield {
            "model": "m",
            "messages": messages,
            **instructions,
            **tools,
            **format_,
            **limit,
            **sampling,
            **choice,
        }


def check_classic(request: httpx.Request) -> list[str]:
    path = request.url.path.removeprefix("/api/projects/p")
    problems: list[str] = []
    if request.url.params.get("api-version") != "v1":
        problems.append("api-version missing")
    if request.method != "POST":
        return problems
    body = json.loads(request.content)
    allowed = {
        "/threads/runs": CREATE_THREAD_AND_RUN,
        "/threads": CREATE_THREAD,
    }.get(path)
    if allowed is None:
        allowed = SUBMIT_TOOL_OUTPUTS if path.endswith("/submit_tool_outputs") else CREATE_RUN
    problems += [f"{path}: '{k}' is not a field of the operation" for k in set(body) - allowed]
    for key in ("max_completion_tokens", "max_prompt_tokens"):
        if key in body and body[key] < 256:
            problems.append(f"{key} below 256")
    for tool in body.get("tools") or []:
        if tool.get("type") == "function":
            fields = set(tool["function"])
            problems += [f"function tool field '{f}'" for f in fields - FUNCTION_DEFINITION]
            if "parameters" not in fields:
                problems.append("function tool without parameters")
    format_ = body.get("response_format")
    if isinstance(format_, dict) and format_.get("type") == "json_schema":
        problems += [f"json_schema field '{f}'" for f in set(format_["json_schema"]) - JSON_SCHEMA]
    choice = body.get("tool_choice")
    if isinstance(choice, str) and choice not in TOOL_CHOICE_MODES:
        problems.append(f"tool_choice '{choice}'")
    if isinstance(choice, dict) and (
        set(choice) - NAMED_TOOL_CHOICE or "name" not in choice.get("function", {})
    ):
        problems.append(f"tool_choice shape {choice}")
    messages = (body.get("thread") or {}).get("messages") or body.get("messages") or []
    for message in [*messages, *(body.get("additional_messages") or [])]:
        problems += [f"message field '{f}'" for f in set(message) - MESSAGE]
        if message["role"] not in ("user", "assistant"):
            problems.append(f"message role {message['role']}")
        for part in message["content"] if isinstance(message["content"], list) else []:
            if part["type"] == "image_url":
                problems += [f"image_url field '{f}'" for f in set(part["image_url"]) - IMAGE_URL]
    return problems


def check_versioned(request: httpx.Request) -> list[str]:
    path = request.url.path.removeprefix("/api/projects/p")
    problems: list[str] = []
    if path.startswith("/openai/v1/") and "api-version" in request.url.params:
        problems.append(f"{path}: /openai/v1 routes take no api-version")
    if path.startswith("/agents/") and request.url.params.get("api-version") != "v1":
        problems.append(f"{path}: api-version must be v1")
    if path != "/openai/v1/responses":
        return problems
    body = json.loads(request.content)
    problems += [
        f"'{k}' is not a Responses field with an agent" for k in set(body) - RESPONSES_FIELDS
    ]
    if body.get("max_output_tokens", 16) < 16:
        problems.append("max_output_tokens below 16")
    if not re.fullmatch(
        r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", body["agent_reference"]["name"]
    ):
        problems.append("agent name")
    for item in body["input"]:
        if item.get("type") == "message":
            problems += [f"message item field '{f}'" for f in set(item) - MESSAGE_ITEM]
        elif item.get("type") == "function_call_output":
            problems += [f"output item field '{f}'" for f in set(item) - FUNCTION_OUTPUT_ITEM]
        else:
            problems.append(f"input item without a known type: {item}")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and set(choice) != {"type", "name"}:
        problems.append(f"tool_choice shape {choice}")
    return problems


async def _requests_for(
    kind: AgentKind, payload: dict[str, Any], thread: str | None
) -> list[httpx.Request]:
    upstream = Upstream()
    async with httpx.MockTransport(upstream) as mock:
        transport = Transport(mock, "v1", 1.0)
        client = ThreadsClient(transport) if kind == "classic" else ResponsesClient(transport)
        agent = "asst_abc" if kind == "classic" else "planner:2"
        project = Project(ENDPOINT, "token")
        request = parse_request(payload, 256)
        try:
            plan = plan_run(request, agent, thread, kind=kind)
        except InvalidRequest:
            return []  # refused before any upstream request: nothing to check
        async with await start(client, project, plan) as run:
            async for _ in run:
                pass
    return upstream.requests


@pytest.mark.parametrize("thread", [None, "thread_old"])
@pytest.mark.parametrize("kind", ["classic", "versioned"])
def test_every_upstream_request_fits_the_sdk_and_the_contract(
    kind: AgentKind, thread: str | None
) -> None:
    check = check_classic if kind == "classic" else check_versioned
    problems: dict[str, list[str]] = {}
    checked = 0

    async def run_all() -> None:
        nonlocal checked
        for payload in caller_requests():
            for request in await _requests_for(kind, payload, thread):
                checked += 1
                found = check(request)
                if found:
                    problems.setdefault(json.dumps(payload), []).extend(found)

    asyncio.run(run_all())
    assert checked > 1000
    assert not problems, next(iter(problems.items()))


@pytest.mark.parametrize("kind", ["classic", "versioned"])
def test_tool_answers_fit_the_sdk(kind: AgentKind) -> None:
    call = "call_1.thread_old.run_1"
    payload = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": call, "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": call, "content": "sunny"},
        ],
    }
    requests = asyncio.run(_requests_for(kind, payload, None))
    check = check_classic if kind == "classic" else check_versioned
    assert requests and all(not check(request) for request in requests)
    if kind == "classic":
        assert requests[-1].url.path.endswith("/threads/thread_old/runs/run_1/submit_tool_outputs")
    else:
        assert json.loads(requests[-1].content)["input"][0]["type"] == "function_call_output"


@pytest.mark.parametrize(
    ("path", "body", "check"),
    [
        ("/threads/runs", {"assistant_id": "a", "additional_instructions": "x"}, check_classic),
        (
            "/threads/runs",
            {"assistant_id": "a", "tools": [{"type": "function", "function": {"name": "f"}}]},
            check_classic,
        ),
        (
            "/threads/t/runs",
            {
                "assistant_id": "a",
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "f", "parameters": {}, "strict": True},
                    }
                ],
            },
            check_classic,
        ),
        ("/threads/t/runs", {"assistant_id": "a", "max_completion_tokens": 100}, check_classic),
        ("/threads/t/runs", {"assistant_id": "a", "tool_choice": "required"}, check_classic),
        (
            "/openai/v1/responses",
            {
                "agent_reference": {"type": "agent_reference", "name": "a"},
                "input": [{"role": "user", "content": "x"}],
            },
            check_versioned,
        ),
        (
            "/openai/v1/responses",
            {
                "agent_reference": {"type": "agent_reference", "name": "a"},
                "input": [],
                "temperature": 0.2,
            },
            check_versioned,
        ),
        (
            "/openai/v1/responses",
            {
                "agent_reference": {"type": "agent_reference", "name": "a"},
                "input": [],
                "tool_choice": {"type": "function", "function": {"name": "f"}},
            },
            check_versioned,
        ),
    ],
)
def test_the_checks_refuse_the_forms_that_broke_real_users(
    path: str, body: dict[str, Any], check: Any
) -> None:
    request = httpx.Request(
        "POST",
        f"{ENDPOINT}{path}",
        params={"api-version": "v1"} if "threads" in path else {},
        json=body,
    )
    assert check(request)
