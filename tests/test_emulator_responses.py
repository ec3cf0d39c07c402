"""Contract tests of the emulator's versioned agents, driven by azure-ai-projects 2.x and openai.

The emulator runs on a real loopback port. The SDK half proves the wire
format is what `AIProjectClient.agents` and the OpenAI client it hands out
(`get_openai_client()`: base URL `{endpoint}/openai/v1`, bearer token from
the project's credential, no `api-version`) read; the raw half pins stream
frames, faults, counts and error shapes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import AgentKind, PromptAgentDefinition
from azure.core.credentials import AccessToken
from azure.core.exceptions import ResourceNotFoundError
from azure.core.pipeline.policies import RetryPolicy
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseTextDeltaEvent,
)

from agents_core.emulator import DEMO_PROMPT_AGENTS
from agents_core.emulator.control import fingerprint

from strict_emulator import (  # noqa: F401 - fixtures
    RUN_MS,
    TOKEN,
    StaticBearer,
    base_url,
    clean_emulator,
    controls,
    endpoint,
)


class _FixedCredential:
    """A TokenCredential with a fixed token; `get_openai_client()` asks it for the OpenAI client."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def project(endpoint: str) -> Iterator[AIProjectClient]:
    client = AIProjectClient(
        endpoint=endpoint,
        credential=_FixedCredential(TOKEN),
        authentication_policy=StaticBearer(),
        retry_policy=RetryPolicy(retry_total=0),
    )
    with client:
        yield client


@pytest.fixture(scope="module")
def oai(project: AIProjectClient) -> Iterator[openai.OpenAI]:
    client = project.get_openai_client(max_retries=0)
    with client:
        yield client


@pytest.fixture(scope="module")
def api(endpoint: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{endpoint}/openai/v1", headers=headers) as http:
        yield http


def agent(name: str, version: str | None = None) -> dict[str, Any]:
    reference = {"type": "agent_reference", "name": name}
    if version is not None:
        reference["version"] = version
    return {"agent_reference": reference}


def control(controls: httpx.Client, path: str, body: dict[str, Any] | None = None) -> Any:
    response = controls.get(f"/{path}") if body is None else controls.post(f"/{path}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def sse(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """`(event, data)` per frame of an event-stream response."""
    event = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            yield event, json.loads(line[len("data: ") :])


def test_sdk_reads_and_versions_agents(project: AIProjectClient) -> None:
    echo = project.agents.get("echo")
    assert (echo.name, echo.versions.latest.id, echo.versions.latest.version) == (
        "echo",
        "echo:1",
        "1",
    )
    definition = echo.versions.latest.definition
    assert isinstance(definition, PromptAgentDefinition) and definition.kind == AgentKind.PROMPT
    weather = project.agents.get_version("weather", "1")
    assert weather.definition["tools"][0]["name"] == "get_weather"
    listed = {f"{a.name}:{a.versions.latest.version}" for a in project.agents.list()}
    assert listed >= set(DEMO_PROMPT_AGENTS)
    for expected in ("1", "2"):
        created = project.agents.create_version(
            "custom-bot", definition=PromptAgentDefinition(model="m", instructions="Be kind.")
        )
        assert (created.id, created.version) == (f"custom-bot:{expected}", expected)
    assert project.agents.get("custom-bot").versions.latest.version == "2"
    with pytest.raises(ResourceNotFoundError):
        project.agents.get("nobody")


def test_openai_client_calls_the_project_without_api_version(
    oai: openai.OpenAI, endpoint: str, controls: httpx.Client
) -> None:
    assert str(oai.base_url) == f"{endpoint}/openai/v1/"
    conversation = oai.conversations.create(metadata={"topic": "x"})
    assert conversation.id.startswith("conv_") and conversation.metadata == {"topic": "x"}
    assert oai.conversations.retrieve(conversation.id).id == conversation.id
    entry = control(controls, "requests")["log"][0]
    assert entry["route"] == "POST /openai/v1/conversations"
    assert entry["path"] == "/api/projects/demo/openai/v1/conversations"
    assert entry["query"] == {} and entry["authorization"] == fingerprint(f"Bearer {TOKEN}")
    assert oai.conversations.delete(conversation.id).deleted
    with pytest.raises(openai.NotFoundError):
        oai.conversations.retrieve(conversation.id)


def test_conversation_remembers_across_turns(oai: openai.OpenAI) -> None:
    conversation = oai.conversations.create()
    first = oai.responses.create(
        input="My name is Alice.", conversation=conversation.id, extra_body=agent("echo")
    )
    assert first.id.startswith("resp_") and first.object == "response"
    assert (first.status, first.output_text) == ("completed", "Echo: My name is Alice.")
    assert first.conversation is not None and first.conversation.id == conversation.id
    message = first.output[0]
    assert isinstance(message, ResponseOutputMessage) and message.role == "assistant"
    assert message.content[0].type == "output_text" and message.content[0].annotations == []
    assert first.usage is not None and first.usage.output_tokens == 5
    assert first.usage.total_tokens == first.usage.input_tokens + 5
    second = oai.responses.create(
        input=[{"type": "message", "role": "user", "content": "What is my name?"}],
        conversation={"id": conversation.id},
        extra_body=agent("echo", "1"),
    )
    assert second.output_text == "Your name is Alice."
    items = list(oai.conversations.items.list(conversation.id, order="asc"))
    assert [(i.type, getattr(i, "role", None)) for i in items] == [
        ("message", "user"),
        ("message", "assistant"),
    ] * 2
    assert items[-1].id == second.output[0].id
    assert oai.responses.retrieve(second.id).output_text == "Your name is Alice."


def test_streaming_deltas_arrive_before_completion(oai: openai.OpenAI) -> None:
    text = "one two three four five six seven eight"
    started = time.monotonic()
    events = [
        (time.monotonic(), event)
        for event in oai.responses.create(input=text, stream=True, extra_body=agent("echo"))
    ]
    kinds = [event.type for _, event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for _, event in events] == list(range(len(events)))
    deltas = [(at, e) for at, e in events if isinstance(e, ResponseTextDeltaEvent)]
    assert len(deltas) >= 3 and "".join(e.delta for _, e in deltas) == f"Echo: {text}"
    done_at, done = events[-1]
    assert isinstance(done, ResponseCompletedEvent) and done.response.output_text == f"Echo: {text}"
    assert deltas[0][0] < done_at - RUN_MS / 4000  # deltas are spread over run_ms
    assert done_at - started >= RUN_MS / 1000 * 0.9


def test_function_call_round_trip(oai: openai.OpenAI) -> None:
    conversation = oai.conversations.create()
    asked = oai.responses.create(
        input="What's the weather in Paris and Rome?",
        conversation=conversation.id,
        extra_body=agent("weather"),
    )
    assert asked.status == "completed"
    calls = [item for item in asked.output if isinstance(item, ResponseFunctionToolCall)]
    assert len(calls) == len(asked.output) == 2
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"location": "Paris"}),
        ("get_weather", {"location": "Rome"}),
    ]
    assert all(c.call_id.startswith("call_") and c.status == "completed" for c in calls)
    outputs = [
        {"type": "function_call_output", "call_id": c.call_id, "output": sky}
        for c, sky in zip(calls, ["sunny", "rainy"], strict=True)
    ]
    answer = oai.responses.create(
        input=outputs,  # type: ignore[arg-type]
        conversation=conversation.id,
        extra_body=agent("weather"),
    )
    assert answer.output_text == "The weather in Paris: sunny. The weather in Rome: rainy."
    with pytest.raises(openai.BadRequestError) as unknown:
        oai.responses.create(
            input=[{"type": "function_call_output", "call_id": "call_nope", "output": "x"}],
            conversation=conversation.id,
            extra_body=agent("weather"),
        )
    assert unknown.value.param == "input"


def test_previous_response_id_chains_memory_and_tool_calls(oai: openai.OpenAI) -> None:
    first = oai.responses.create(input="I like green tea.", extra_body=agent("echo"))
    assert first.conversation is None
    second = oai.responses.create(
        input="What do I like?", previous_response_id=first.id, extra_body=agent("echo")
    )
    assert (second.output_text, second.previous_response_id) == ("You like green tea.", first.id)
    asked = oai.responses.create(input="weather in Oslo?", extra_body=agent("weather"))
    call = asked.output[0]
    assert isinstance(call, ResponseFunctionToolCall)
    answer = oai.responses.create(
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "clear"}],
        previous_response_id=asked.id,
        extra_body=agent("weather"),
    )
    assert answer.output_text == "The weather in Oslo: clear."


def test_instructions_agent_shows_system_and_developer_items(oai: openai.OpenAI) -> None:
    response = oai.responses.create(
        input=[
            {"type": "message", "role": "system", "content": "Be terse."},
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Use French."}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look:"},
                    {"type": "input_image", "image_url": "https://x/cat.png", "detail": "auto"},
                ],
            },
        ],
        extra_body=agent("instructions"),
    )
    assert response.output_text == (
        "[instructions: You are a helpful assistant. Be terse. Use French.] "
        "Echo: Look: [image_url: https://x/cat.png]"
    )
    assert response.instructions == "You are a helpful assistant."


def test_sdk_error_mapping(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as override:
        oai.responses.create(input="hi", instructions="Be evil.", extra_body=agent("echo"))
    assert override.value.code == "invalid_payload"
    assert override.value.body["details"][0]["param"] == "instructions"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(input="hi", conversation="conv_missing", extra_body=agent("echo"))
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(input="hi", extra_body=agent("nobody"))
    with pytest.raises(openai.AuthenticationError):
        oai.with_options(api_key="wrong-token").responses.create(
            input="hi", extra_body=agent("echo")
        )


def test_bad_response_requests_are_upstream_shaped(api: httpx.Client) -> None:
    conversation = api.post("/conversations", json={}).json()["id"]
    cases = {
        "agent": {"agent": {"type": "agent_reference", "name": "echo"}, "input": "x"},
        "agent_reference": {"input": "x"},
        "previous_response_id": {
            **agent("echo"),
            "conversation": conversation,
            "previous_response_id": "resp_x",
        },
        "input.0.role": {
            **agent("echo"),
            "input": [{"type": "message", "role": "robot", "content": "x"}],
        },
        "input.0.content.0.text": {
            **agent("echo"),
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text"}]}],
        },
        "max_output_tokens": {**agent("echo"), "input": "x", "max_output_tokens": 15},
        "tool_choice.function": {
            **agent("echo"),
            "input": "x",
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        },
        "input.0.call_id": {**agent("echo"), "input": [{"type": "function_call_output"}]},
    }
    for param, body in cases.items():
        response = api.post("/responses", json=body)
        assert response.status_code == 400, (param, response.text)
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["param"], error["type"]) == (param, "invalid_request_error")
    owned = {
        "model": "gpt-4o",
        "tools": [],
        "text": {"format": {"type": "text"}},
        "reasoning": {"effort": "low"},
        "temperature": 0.2,
        "top_p": 0.5,
        "instructions": "Be evil.",
    }
    for name, value in owned.items():
        response = api.post("/responses", json={**agent("echo"), "input": "x", name: value})
        error = response.json()["error"]
        assert (response.status_code, error["code"], error["message"]) == (
            400,
            "invalid_payload",
            "Invalid payload",
        )
        assert [d["param"] for d in error["details"]] == [name]
    role_only = api.post(
        "/responses", json={**agent("echo"), "input": [{"role": "user", "content": "x"}]}
    )
    assert role_only.status_code == 400
    assert (role_only.json()["error"]["code"], role_only.json()["error"]["param"]) == (
        "invalid_value",
        "input[0].type",
    )
    missing = api.post("/responses", json={**agent("echo"), "previous_response_id": "resp_x"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "previous_response_not_found"
    assert api.post("/responses", json={**agent("echo", "9"), "input": "x"}).status_code == 404


def test_raw_stream_frames_and_api_version(
    api: httpx.Client, controls: httpx.Client, endpoint: str
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{endpoint}/agents/echo", headers=bearer).status_code == 400
    assert httpx.get(f"{endpoint}/agents/echo?api-version=v1", headers=bearer).status_code == 200
    control(controls, "reset", {})
    body = {**agent("weather"), "input": "weather in Lima?", "stream": True}
    with api.stream("POST", "/responses", json=body, params={"api-version": "v1"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = list(sse(response))
    assert all(event == data["type"] for event, data in frames)
    kinds = [event for event, _ in frames]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert frames[3][1]["delta"] == '{"location": "Lima"}'
    counts = control(controls, "requests")["counts"]
    assert counts == {"POST /openai/v1/responses": 1}


def test_http_faults_on_the_responses_route(api: httpx.Client, controls: httpx.Client) -> None:
    control(controls, "faults", {"kind": "http_429", "retry_after": 2})
    limited = api.post("/responses", json={**agent("echo"), "input": "x"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    route = "POST /openai/v1/responses"
    control(controls, "faults", {"kind": "http_503", "route": route})
    assert api.post("/responses", json={**agent("echo"), "input": "x"}).status_code == 503
    assert api.post("/responses", json={**agent("echo"), "input": "x"}).status_code == 200
    assert control(controls, "requests")["counts"][route] == 3


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("run_failed", "failed", "server_error"),
        ("run_failed_rate_limit", "failed", "rate_limit_exceeded"),
        ("run_expired", "failed", "expired"),
        ("run_incomplete", "incomplete", None),
    ],
)
def test_run_faults_end_the_response(
    oai: openai.OpenAI, controls: httpx.Client, kind: str, status: str, code: str | None
) -> None:
    control(controls, "faults", {"kind": kind, "route": "POST /openai/v1/responses"})
    response = oai.responses.create(input="one two three four", extra_body=agent("echo"))
    assert response.status == status
    if code is None:
        assert response.incomplete_details is not None
        assert response.incomplete_details.reason == "max_output_tokens"
        assert response.output_text == "Echo: one "
    else:
        assert response.error is not None and response.error.code == code
        assert response.output == []


def test_run_fault_in_a_stream_and_max_output_tokens(
    api: httpx.Client, controls: httpx.Client
) -> None:
    control(controls, "faults", {"kind": "run_failed_rate_limit"})
    with api.stream("POST", "/responses", json={**agent("echo"), "stream": True}) as response:
        frames = list(sse(response))
    assert [event for event, _ in frames][-1] == "response.failed"
    assert frames[-1][1]["response"]["error"]["code"] == "rate_limit_exceeded"
    words = " ".join(f"w{i}" for i in range(20))
    body = {**agent("echo"), "input": words, "max_output_tokens": 16}
    cut = api.post("/responses", json=body).json()
    assert (cut["status"], cut["output"][0]["status"]) == ("incomplete", "incomplete")
    assert cut["output"][0]["content"][0]["text"] == "Echo: " + words[: words.index("w15")]


def test_stream_faults_break_the_connection(api: httpx.Client, controls: httpx.Client) -> None:
    body = {**agent("echo"), "input": "one two three four five six", "stream": True}
    control(controls, "faults", {"kind": "drop_stream"})
    with (
        pytest.raises(httpx.RemoteProtocolError),
        api.stream("POST", "/responses", json=body) as dropped,
    ):
        for _ in dropped.iter_lines():
            pass
    control(controls, "faults", {"kind": "stall_stream"})
    seen: list[str] = []
    with (
        pytest.raises(httpx.ReadTimeout),
        api.stream("POST", "/responses", json=body, timeout=0.5) as stalled,
    ):
        seen.extend(event for event, _ in sse(stalled))
    assert seen[-1] == "response.output_text.delta"


def test_one_response_at_a_time_per_conversation(api: httpx.Client) -> None:
    conversation = api.post(
        "/conversations", json={"items": [{"type": "message", "role": "user", "content": "hi"}]}
    )
    conversation_id = conversation.json()["id"]
    body = {**agent("echo"), "conversation": conversation_id, "stream": True}
    with api.stream("POST", "/responses", json=body) as streaming:
        frames = sse(streaming)
        assert next(frames)[0] == "response.created"
        busy = api.post("/responses", json={**body, "stream": False})
        assert busy.status_code == 400 and busy.json()["error"]["code"] == "conversation_locked"
        kinds = [event for event, _ in frames]
    assert kinds[-1] == "response.completed"
    items = api.get(f"/conversations/{conversation_id}/items", params={"limit": 1}).json()
    assert items["data"][0]["content"][0]["text"] == "Echo: hi" and items["has_more"]
