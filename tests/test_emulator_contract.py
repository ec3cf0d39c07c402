"""Contract tests of the Agent Service emulator, driven by the official SDK and raw HTTP.

The emulator runs on a real loopback port (streams must be observed through
a socket). The SDK half proves the wire format is what `azure-ai-agents`
reads; the raw half pins timing, faults, the control API and error shapes.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.ai.agents import AgentsClient
from azure.ai.agents.models import (
    AgentEventHandler,
    AgentThreadCreationOptions,
    ListSortOrder,
    MessageDeltaChunk,
    MessageRole,
    RequiredFunctionToolCall,
    RunStep,
    RunStepMessageCreationDetails,
    SubmitToolOutputsAction,
    ThreadMessageOptions,
    ThreadRun,
    ToolOutput,
)
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.core.pipeline.policies import RetryPolicy

from agents_core.emulator import DEMO_AGENTS
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

TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete", "requires_action"}


class _UnusedCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise AssertionError("the static bearer policy supplies the token")


def sdk_client(endpoint: str, token: str = TOKEN) -> AgentsClient:
    return AgentsClient(
        endpoint,
        _UnusedCredential(),
        authentication_policy=StaticBearer(token),
        retry_policy=RetryPolicy(retry_total=0),
    )


@pytest.fixture(scope="module")
def client(endpoint: str) -> Iterator[AgentsClient]:
    with sdk_client(endpoint) as agents:
        yield agents


@pytest.fixture(scope="module")
def api(endpoint: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=endpoint, headers=headers, params={"api-version": "v1"}) as http:
        yield http


def control(controls: httpx.Client, path: str, body: dict[str, Any] | None = None) -> Any:
    response = controls.get(f"/{path}") if body is None else controls.post(f"/{path}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def new_thread(api: httpx.Client, *texts: str) -> str:
    messages = [{"role": "user", "content": text} for text in texts]
    response = api.post("/threads", json={"messages": messages})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def start_run(api: httpx.Client, thread_id: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"/threads/{thread_id}/runs", json={"assistant_id": "asst_echo", **body})
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_run(api: httpx.Client, thread_id: str, run_id: str, timeout: float = 5) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = dict(api.get(f"/threads/{thread_id}/runs/{run_id}").json())
        if run["status"] in TERMINAL:
            return run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not settle")


def reply(api: httpx.Client, thread_id: str) -> str:
    latest = api.get(f"/threads/{thread_id}/messages", params={"limit": 1}).json()["data"][0]
    assert latest["role"] == "assistant"
    return str(latest["content"][0]["text"]["value"])


def run_to_end(api: httpx.Client, thread_id: str, **body: Any) -> dict[str, Any]:
    return wait_run(api, thread_id, start_run(api, thread_id, **body)["id"])


def sse(response: httpx.Response) -> Iterator[tuple[float, str, Any]]:
    """`(arrival time, event, data)` per frame of an event-stream response."""
    event = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            raw = line[len("data: ") :]
            yield time.monotonic(), event, raw if raw == "[DONE]" else json.loads(raw)


def test_sdk_reads_demo_agents(client: AgentsClient) -> None:
    weather = client.get_agent("asst_tools")
    assert (weather.id, weather.name, weather.object) == ("asst_tools", "Weather", "assistant")
    assert weather.tools[0]["function"]["name"] == "get_weather"
    assert {agent.id for agent in client.list_agents()} >= set(DEMO_AGENTS)


def test_sdk_create_and_process_echoes_and_reports_usage(client: AgentsClient) -> None:
    thread = client.threads.create()
    message = client.messages.create(thread.id, role="user", content="Hello there emulator")
    assert message.text_messages[0].text.value == "Hello there emulator"
    run = client.runs.create_and_process(
        thread.id,
        agent_id="asst_echo",
        polling_interval=0.02,  # type: ignore[arg-type]
    )
    assert run.status == "completed"
    assert run.agent_id == "asst_echo" and run.thread_id == thread.id
    assert run.usage.completion_tokens == 4  # "Echo: Hello there emulator"
    assert run.usage.total_tokens == run.usage.prompt_tokens + 4
    text = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
    assert text is not None and text.text.value == "Echo: Hello there emulator"
    steps = list(client.run_steps.list(thread.id, run.id))
    assert [step.type for step in steps] == ["message_creation"]
    last = client.messages.get_last_message_by_role(thread.id, MessageRole.AGENT)
    assert last is not None
    details = steps[0].step_details
    assert isinstance(details, RunStepMessageCreationDetails)
    assert details.message_creation.message_id == last.id
    assert client.run_steps.get(thread.id, run.id, steps[0].id).status == "completed"


def test_sdk_pages_through_messages(client: AgentsClient, controls: httpx.Client) -> None:
    thread = client.threads.create()
    sent = [f"message number {i}" for i in range(7)]
    for text in sent:
        client.messages.create(thread.id, role="user", content=text)
    control(controls, "reset", {})
    listed = client.messages.list(thread.id, limit=2, order=ListSortOrder.ASCENDING)
    assert [m.text_messages[0].text.value for m in listed] == sent
    counts = control(controls, "requests")["counts"]
    assert counts["GET /threads/{thread_id}/messages"] >= 4  # 7 messages, 2 per page
    newest_first = [m.text_messages[0].text.value for m in client.messages.list(thread.id, limit=3)]
    assert newest_first == sent[::-1]


class _Recorder(AgentEventHandler):  # type: ignore[type-arg]
    def __init__(self) -> None:
        super().__init__()
        self.deltas: list[str] = []
        self.chunks: list[MessageDeltaChunk] = []
        self.statuses: list[str] = []
        self.done = False

    def on_message_delta(self, delta: MessageDeltaChunk) -> None:
        self.deltas.append(delta.text)
        self.chunks.append(delta)

    def on_thread_run(self, run: ThreadRun) -> None:
        self.statuses.append(str(getattr(run.status, "value", run.status)))

    def on_run_step(self, step: RunStep) -> None:
        self.statuses.append(f"step {getattr(step.status, 'value', step.status)}")

    def on_done(self) -> None:
        self.done = True


def test_sdk_streams_with_event_handler(client: AgentsClient) -> None:
    thread = client.threads.create()
    client.messages.create(thread.id, role="user", content="one two three four five six seven")
    recorder = _Recorder()
    with client.runs.stream(thread.id, agent_id="asst_echo", event_handler=recorder) as stream:
        stream.until_done()
    assert "".join(recorder.deltas) == "Echo: one two three four five six seven"
    assert len(recorder.deltas) >= 3
    assert recorder.statuses[:3] == ["queued", "queued", "in_progress"]
    assert recorder.statuses[-2:] == ["step completed", "completed"]
    assert recorder.done


def test_sdk_create_thread_and_run_with_instructions(client: AgentsClient) -> None:
    run = client.create_thread_and_run(
        agent_id="asst_instructions",
        thread=AgentThreadCreationOptions(
            messages=[ThreadMessageOptions(role="user", content="Hi")]
        ),
        instructions="Be brief.",
    )
    assert run.status == "queued" and run.instructions == "Be brief."
    while run.status in ("queued", "in_progress"):
        time.sleep(0.02)
        run = client.runs.get(run.thread_id, run.id)
    assert run.status == "completed"
    text = client.messages.get_last_message_text_by_role(run.thread_id, MessageRole.AGENT)
    assert text is not None and text.text.value == "[instructions: Be brief.] Echo: Hi"


def test_sdk_cancels_a_run(client: AgentsClient, controls: httpx.Client) -> None:
    control(controls, "settings", {"run_ms": 3000})
    thread = client.threads.create()
    client.messages.create(thread.id, role="user", content="take your time")
    run = client.runs.create(thread.id, agent_id="asst_echo")
    assert client.runs.cancel(thread.id, run.id).status == "cancelling"
    while run.status not in ("cancelled", "completed"):
        run = client.runs.get(thread.id, run.id)
    assert run.status == "cancelled" and run.cancelled_at is not None


def test_sdk_tool_round_trip(client: AgentsClient) -> None:
    thread = client.threads.create()
    client.messages.create(thread.id, role="user", content="What's the weather in Paris and Rome?")
    run = client.runs.create(thread.id, agent_id="asst_tools")
    while run.status in ("queued", "in_progress"):
        time.sleep(0.02)
        run = client.runs.get(thread.id, run.id)
    assert run.status == "requires_action"
    assert isinstance(run.required_action, SubmitToolOutputsAction)
    required = run.required_action.submit_tool_outputs.tool_calls
    calls = [c for c in required if isinstance(c, RequiredFunctionToolCall)]
    assert len(calls) == len(required)
    assert [(c.type, c.function.name) for c in calls] == [("function", "get_weather")] * 2
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"location": "Paris"},
        {"location": "Rome"},
    ]
    assert all(c.id.startswith("call_") for c in calls)
    outputs = [
        ToolOutput(tool_call_id=c.id, output=o)
        for c, o in zip(calls, ["sunny", "rainy"], strict=True)
    ]
    run = client.runs.submit_tool_outputs(thread.id, run.id, tool_outputs=outputs)
    while run.status in ("queued", "in_progress"):
        time.sleep(0.02)
        run = client.runs.get(thread.id, run.id)
    assert run.status == "completed"
    text = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
    assert text is not None
    assert text.text.value == "The weather in Paris: sunny. The weather in Rome: rainy."


def test_sdk_streams_automatic_function_calls(endpoint: str) -> None:
    asked: list[str] = []

    def get_weather(location: str) -> str:
        asked.append(location)
        return json.dumps({"sky": "clear"})

    with sdk_client(endpoint) as agents:
        agents.enable_auto_function_calls({get_weather})
        thread = agents.threads.create()
        agents.messages.create(thread.id, role="user", content="weather in Oslo?")
        recorder = _Recorder()
        with agents.runs.stream(thread.id, agent_id="asst_tools", event_handler=recorder) as s:
            s.until_done()
    assert asked == ["Oslo"]
    assert "requires_action" in recorder.statuses
    assert recorder.statuses[-1] == "completed"
    assert "".join(recorder.deltas) == 'The weather in Oslo: {"sky": "clear"}.'


def test_sdk_error_mapping(client: AgentsClient, endpoint: str) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        client.threads.get("thread_nope")
    assert missing.value.error is not None and missing.value.error.code == "not_found"
    with (
        sdk_client(endpoint, token="wrong-token") as intruder,
        pytest.raises(ClientAuthenticationError),
    ):
        intruder.get_agent("asst_echo")


def test_api_version_and_bearer_are_required(endpoint: str) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    missing_version = httpx.get(f"{endpoint}/assistants/asst_echo", headers=bearer)
    assert missing_version.status_code == 400
    assert missing_version.json()["error"]["param"] == "api-version"
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}):
        denied = httpx.get(f"{endpoint}/assistants/asst_echo?api-version=v1", headers=headers)
        assert denied.status_code == 401
        assert set(denied.json()["error"]) >= {"code", "message"}
    ok = httpx.get(f"{endpoint}/assistants/asst_echo?api-version=2025-05-01", headers=bearer)
    assert ok.status_code == 200
    for response in (missing_version, denied, ok):
        assert response.headers["apim-request-id"] and response.headers["x-request-id"]


def test_bad_requests_are_upstream_shaped(api: httpx.Client) -> None:
    thread_id = new_thread(api)
    cases = [
        api.post(f"/threads/{thread_id}/runs", json={}),
        api.post(f"/threads/{thread_id}/runs", json={"assistant_id": "asst_echo", "top_p": 3}),
        api.post(f"/threads/{thread_id}/messages", json={"role": "robot", "content": "x"}),
        api.post(f"/threads/{thread_id}/messages", content=b"{not json"),
        api.get(f"/threads/{thread_id}/messages", params={"limit": 101}),
    ]
    for response in cases:
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_request"
    assert cases[1].json()["error"]["param"] == "top_p"
    unknown = api.post(f"/threads/{thread_id}/runs", json={"assistant_id": "asst_missing"})
    assert unknown.status_code == 404
    assert api.get("/threads/thread_missing/runs/run_missing").status_code == 404
    assert api.get("/no/such/route").json()["error"]["code"] == "not_found"


def test_one_active_run_per_thread(api: httpx.Client) -> None:
    thread_id = new_thread(api, "hello")
    run = start_run(api, thread_id)
    busy = api.post(f"/threads/{thread_id}/runs", json={"assistant_id": "asst_echo"})
    assert busy.status_code == 400 and run["id"] in busy.json()["error"]["message"]
    blocked = api.post(f"/threads/{thread_id}/messages", json={"role": "user", "content": "x"})
    assert blocked.status_code == 400
    outputs = {"tool_outputs": [{"tool_call_id": "call_x", "output": "y"}]}
    not_waiting = api.post(
        f"/threads/{thread_id}/runs/{run['id']}/submit_tool_outputs", json=outputs
    )
    assert not_waiting.status_code == 400
    assert wait_run(api, thread_id, run["id"])["status"] == "completed"
    again = api.post(f"/threads/{thread_id}/runs/{run['id']}/cancel")
    assert again.status_code == 400
    assert start_run(api, thread_id)["status"] == "queued"


def test_echo_agent_remembers_across_runs(api: httpx.Client) -> None:
    thread_id = new_thread(api, "My name is Alice and I like green tea.")
    assert run_to_end(api, thread_id)["status"] == "completed"
    assert reply(api, thread_id) == "Echo: My name is Alice and I like green tea."
    api.post(f"/threads/{thread_id}/messages", json={"role": "user", "content": "What is my name?"})
    run_to_end(api, thread_id)
    assert reply(api, thread_id) == "Your name is Alice."
    additional = [{"role": "user", "content": "What do I like?"}]
    run_to_end(api, thread_id, additional_messages=additional)
    assert reply(api, thread_id) == "You like green tea."
    fresh = new_thread(api, "What is my name?")
    run_to_end(api, fresh)
    assert reply(api, fresh) == "I don't know your name yet."


def test_echo_agent_reads_image_parts(api: httpx.Client) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
    ]
    thread_id = new_thread(api)
    stored = api.post(f"/threads/{thread_id}/messages", json={"role": "user", "content": content})
    assert stored.json()["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }
    run_to_end(api, thread_id)
    assert reply(api, thread_id) == "Echo: What is this? [image_url: https://example.com/cat.png]"


def test_instructions_agent_shows_effective_instructions(api: httpx.Client) -> None:
    thread_id = new_thread(api, "Hello")
    run = run_to_end(api, thread_id, assistant_id="asst_instructions")
    assert reply(api, thread_id) == "[instructions: You are a helpful assistant.] Echo: Hello"
    assert run["instructions"] == "You are a helpful assistant."
    run = run_to_end(
        api,
        thread_id,
        assistant_id="asst_instructions",
        instructions="Talk like a pirate.",
        additional_instructions="Be brief.",
    )
    assert run["instructions"] == "Talk like a pirate. Be brief."
    assert reply(api, thread_id) == "[instructions: Talk like a pirate. Be brief.] Echo: Hello"
    run_to_end(api, thread_id, assistant_id="asst_instructions", additional_instructions="Rhyme.")
    assert (
        reply(api, thread_id) == "[instructions: You are a helpful assistant. Rhyme.] Echo: Hello"
    )


def test_run_tools_override_calls_first_function(api: httpx.Client) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
    thread_id = new_thread(api, "where is order 42")
    run = run_to_end(api, thread_id, tools=[tool])
    assert run["status"] == "requires_action" and run["tools"] == [tool]
    [call] = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert call["function"] == {
        "name": "lookup_order",
        "arguments": '{"order_id": "where is order 42"}',
    }
    done = api.post(
        f"/threads/{thread_id}/runs/{run['id']}/submit_tool_outputs",
        json={"tool_outputs": [{"tool_call_id": call["id"], "output": "shipped"}]},
    )
    assert done.json()["status"] == "queued"
    assert wait_run(api, thread_id, run["id"])["status"] == "completed"
    assert reply(api, thread_id) == "lookup_order returned: shipped."
    steps = api.get(f"/threads/{thread_id}/runs/{run['id']}/steps", params={"order": "asc"}).json()
    assert [s["type"] for s in steps["data"]] == ["tool_calls", "message_creation"]
    assert steps["data"][0]["step_details"]["tool_calls"][0]["function"]["output"] == "shipped"


def test_stream_event_sequence_and_spread_deltas(api: httpx.Client, controls: httpx.Client) -> None:
    control(controls, "settings", {"run_ms": 600})
    text = " ".join(f"w{i}" for i in range(12))
    body = {
        "assistant_id": "asst_echo",
        "thread": {"messages": [{"role": "user", "content": text}]},
    }
    started = time.monotonic()
    with api.stream("POST", "/threads/runs", json={**body, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = list(sse(response))
    names = [name for _, name, _ in frames]
    assert names[:8] == [
        "thread.created",
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
    ]
    assert names[-4:] == [
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
        "done",
    ]
    deltas = [(at, data) for at, name, data in frames if name == "thread.message.delta"]
    assert len(deltas) >= 4
    assert "".join(d["delta"]["content"][0]["text"]["value"] for _, d in deltas) == f"Echo: {text}"
    assert deltas[0][1]["object"] == "thread.message.delta"
    completed_at = next(at for at, name, _ in frames if name == "thread.run.completed")
    assert completed_at - deltas[0][0] > 0.3  # tokens arrive well before the run ends
    assert deltas[-1][0] - deltas[0][0] > 0.25  # and keep arriving over time
    assert completed_at - started >= 0.55
    assert frames[-1][2] == "[DONE]"
    run = frames[-2][2]
    assert run["status"] == "completed" and run["usage"]["completion_tokens"] == 13


def test_cancel_stops_a_streaming_run(api: httpx.Client, controls: httpx.Client) -> None:
    control(controls, "settings", {"run_ms": 2000})
    thread_id = new_thread(api, " ".join(["word"] * 30))
    names: list[str] = []
    body = {"assistant_id": "asst_echo", "stream": True}
    with api.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
        for _, name, data in sse(response):
            names.append(name)
            if name == "thread.run.created":
                run_id = data["id"]
            if name == "thread.message.delta" and names.count(name) == 1:
                assert api.post(f"/threads/{thread_id}/runs/{run_id}/cancel").status_code == 200
    tail = names[names.index("thread.run.cancelling") :]
    assert tail == [
        "thread.run.cancelling",
        "thread.message.incomplete",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
        "done",
    ]
    assert api.get(f"/threads/{thread_id}/runs/{run_id}").json()["status"] == "cancelled"


def test_run_outlives_a_disconnected_client(api: httpx.Client) -> None:
    thread_id = new_thread(api, "keep going without me please")
    body = {"assistant_id": "asst_echo", "stream": True}
    with api.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
        for _, name, data in sse(response):
            if name == "thread.run.created":
                run_id = data["id"]
            if name == "thread.message.delta":
                break
    assert wait_run(api, thread_id, run_id)["status"] == "completed"
    assert reply(api, thread_id) == "Echo: keep going without me please"


def test_streamed_tool_round_trip(api: httpx.Client) -> None:
    thread_id = new_thread(api, "weather in Lima")
    body = {"assistant_id": "asst_tools", "stream": True}
    with api.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
        first = [(name, data) for _, name, data in sse(response)]
    assert [name for name, _ in first[-3:]] == [
        "thread.run.step.in_progress",
        "thread.run.requires_action",
        "done",
    ]
    run = first[-2][1]
    [call] = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    submit = {"tool_outputs": [{"tool_call_id": call["id"], "output": "warm"}], "stream": True}
    path = f"/threads/{thread_id}/runs/{run['id']}/submit_tool_outputs"
    with api.stream("POST", path, json=submit) as response:
        second = [(name, data) for _, name, data in sse(response)]
    assert [name for name, _ in second[:3]] == [
        "thread.run.step.completed",
        "thread.run.queued",
        "thread.run.in_progress",
    ]
    assert second[-2][0] == "thread.run.completed"
    assert reply(api, thread_id) == "The weather in Lima: warm."


async def _raw_stream(url: httpx.URL, path: str, body: bytes) -> bytes:
    """POST over a bare asyncio socket and return the de-chunked body.

    httpx's connection pool, not the emulator, is the bottleneck at hundreds of
    concurrent connections.
    """
    assert url.host is not None and url.port is not None
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    status = await reader.readuntil(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200"), status
    content = b""
    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
        content += (await reader.readexactly(size + 2))[:-2]
    writer.close()
    return content


def test_many_concurrent_streamed_runs(endpoint: str) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:  # both ends of 500 connections live in this process
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    url = httpx.URL(endpoint)
    path = f"{url.path}/threads/runs?api-version=v1"

    async def one(i: int) -> str:
        thread = {"messages": [{"role": "user", "content": f"hello {i} " + "x " * 10}]}
        body = {"assistant_id": "asst_echo", "stream": True, "thread": thread}
        content = (await _raw_stream(url, path, json.dumps(body).encode())).decode()
        frames = [f.split("\ndata: ", 1) for f in content.strip().split("\n\n")]
        assert frames[-1] == ["event: done", "[DONE]"]
        assert frames[-2][0] == "event: thread.run.completed"
        deltas = [json.loads(d) for e, d in frames if e == "event: thread.message.delta"]
        return "".join(d["delta"]["content"][0]["text"]["value"] for d in deltas)

    async def all_at_once() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(500)))

    texts = asyncio.run(all_at_once())
    assert texts == [f"Echo: hello {i} " + "x " * 9 + "x" for i in range(500)]


def test_control_api_counts_and_logs(api: httpx.Client, controls: httpx.Client) -> None:
    thread_id = new_thread(api, "hi")
    run = start_run(api, thread_id, metadata={"k": "v"})
    api.get(f"/threads/{thread_id}/runs/{run['id']}")
    httpx.get(f"{api.base_url}threads/{thread_id}")  # no auth: still counted
    seen = control(controls, "requests")
    assert seen["counts"] == {
        "POST /threads": 1,
        "POST /threads/{thread_id}/runs": 1,
        "GET /threads/{thread_id}/runs/{run_id}": 1,
        "GET /threads/{thread_id}": 1,
    }
    entry = seen["log"][1]
    assert entry["method"] == "POST" and entry["route"] == "POST /threads/{thread_id}/runs"
    assert entry["path"] == f"/api/projects/demo/threads/{thread_id}/runs"
    assert entry["query"] == {"api-version": "v1"}
    assert entry["body"] == {"assistant_id": "asst_echo", "metadata": {"k": "v"}}
    assert entry["authorization"] == fingerprint(f"Bearer {TOKEN}")
    assert seen["log"][3]["authorization"] is None
    control(controls, "reset", {})
    assert control(controls, "requests") == {"counts": {}, "log": []}
    assert api.get(f"/threads/{thread_id}").status_code == 200  # threads survive a reset


def test_settings_add_latency(api: httpx.Client, controls: httpx.Client) -> None:
    assert control(controls, "settings", {"latency_ms": 150}) == {
        "latency_ms": 150,
        "run_ms": RUN_MS,
        "max_deltas": 40,
    }
    started = time.monotonic()
    assert api.get("/assistants/asst_echo").status_code == 200
    assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize(
    ("kind", "status", "retry_after"),
    [("http_429", 429, "2"), ("http_503", 503, "2"), ("http_500", 500, None)],
)
def test_http_faults(
    api: httpx.Client, controls: httpx.Client, kind: str, status: int, retry_after: str | None
) -> None:
    control(controls, "faults", {"kind": kind, "retry_after": 2})
    thread_id = new_thread(api, "hi")  # not a run-creating route: unaffected
    refused = api.post(f"/threads/{thread_id}/runs", json={"assistant_id": "asst_echo"})
    assert refused.status_code == status
    assert refused.headers.get("retry-after") == retry_after
    if retry_after:
        assert refused.headers["retry-after-ms"] == "2000"
    assert refused.json()["error"]["code"]
    assert api.get(f"/threads/{thread_id}/runs").json()["data"] == []  # no run was created
    assert start_run(api, thread_id)["status"] == "queued"  # the fault was used up


def test_fault_on_a_chosen_route_with_count(api: httpx.Client, controls: httpx.Client) -> None:
    control(
        controls, "faults", {"kind": "http_500", "route": "GET /threads/{thread_id}", "count": 2}
    )
    thread_id = new_thread(api)
    assert [api.get(f"/threads/{thread_id}").status_code for _ in range(3)] == [500, 500, 200]
    bad = controls.post("/faults", json={"kind": "run_failed", "route": "GET /x"})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("kind", "status", "detail"),
    [
        ("run_failed_rate_limit", "failed", ("last_error", {"code": "rate_limit_exceeded"})),
        ("run_failed", "failed", ("last_error", {"code": "server_error"})),
        ("run_expired", "expired", ("last_error", None)),
        (
            "run_incomplete",
            "incomplete",
            ("incomplete_details", {"reason": "max_completion_tokens"}),
        ),
    ],
)
def test_run_faults(
    api: httpx.Client, controls: httpx.Client, kind: str, status: str, detail: tuple[str, Any]
) -> None:
    control(controls, "faults", {"kind": kind})
    thread_id = new_thread(api, "one two three four five six")
    run = run_to_end(api, thread_id)
    assert run["status"] == status
    field, expected = detail
    if expected is None:
        assert run[field] is None
    else:
        assert expected.items() <= run[field].items()
    assert run["usage"] is not None
    if kind == "run_incomplete":
        message = api.get(f"/threads/{thread_id}/messages", params={"limit": 1}).json()["data"][0]
        assert message["status"] == "incomplete"
        partial = message["content"][0]["text"]["value"]
        assert partial and "Echo: one two three four five six".startswith(partial)
        assert partial != "Echo: one two three four five six"
    assert run_to_end(api, thread_id)["status"] == "completed"  # one fault, one run


def test_run_fault_in_a_stream(api: httpx.Client, controls: httpx.Client) -> None:
    control(controls, "faults", {"kind": "run_failed_rate_limit"})
    thread_id = new_thread(api, "hi")
    body = {"assistant_id": "asst_echo", "stream": True}
    with api.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
        frames = [(name, data) for _, name, data in sse(response)]
    assert [name for name, _ in frames[-2:]] == ["thread.run.failed", "done"]
    assert frames[-2][1]["last_error"]["code"] == "rate_limit_exceeded"


def test_drop_stream_breaks_the_connection(api: httpx.Client, controls: httpx.Client) -> None:
    control(controls, "faults", {"kind": "drop_stream"})
    thread_id = new_thread(api, "a b c d e f g h")
    assert start_run(api, thread_id)["status"] == "queued"  # non-streaming: not affected
    wait_run(api, thread_id, api.get(f"/threads/{thread_id}/runs").json()["data"][0]["id"])
    names: list[str] = []
    body = {"assistant_id": "asst_echo", "stream": True}
    with (
        pytest.raises(httpx.RemoteProtocolError),
        api.stream("POST", f"/threads/{thread_id}/runs", json=body) as response,
    ):
        names.extend(name for _, name, _ in sse(response))
    assert names.count("thread.message.delta") == 1 and "done" not in names
    run_id = api.get(f"/threads/{thread_id}/runs").json()["data"][0]["id"]
    assert wait_run(api, thread_id, run_id)["status"] == "completed"  # the run went on


def test_stall_stream_goes_silent(api: httpx.Client, controls: httpx.Client) -> None:
    control(controls, "faults", {"kind": "stall_stream"})
    thread_id = new_thread(api, "a b c d e f g h")
    names: list[str] = []
    body = {"assistant_id": "asst_echo", "stream": True}
    started = time.monotonic()
    with (
        pytest.raises(httpx.ReadTimeout),
        api.stream("POST", f"/threads/{thread_id}/runs", json=body, timeout=0.6) as response,
    ):
        names.extend(name for _, name, _ in sse(response))
    assert time.monotonic() - started >= 0.6
    assert names[-1] == "thread.message.delta" and names.count("thread.message.delta") == 1


def test_emulator_import_does_not_load_uvicorn() -> None:
    import subprocess
    import sys

    code = "import sys, agents_core.emulator; print('uvicorn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_threads_are_independent_of_each_other(api: httpx.Client) -> None:
    first, second = new_thread(api, "first"), new_thread(api, "second")
    runs = [start_run(api, first), start_run(api, second)]
    settled = [wait_run(api, t, r["id"]) for t, r in zip((first, second), runs, strict=True)]
    assert [run["status"] for run in settled] == ["completed", "completed"]
    assert (reply(api, first), reply(api, second)) == ("Echo: first", "Echo: second")
    deleted = api.delete(f"/threads/{first}")
    assert deleted.json() == {"id": first, "object": "thread.deleted", "deleted": True}
    assert api.get(f"/threads/{first}").status_code == 404


@pytest.mark.parametrize(
    ("route", "body", "status", "code", "param"),
    [
        (
            "/threads/runs",
            {"additional_instructions": "Be brief."},
            400,
            "unknown_parameter",
            "additional_instructions",
        ),
        (
            "/threads/runs",
            {"additional_messages": [{"role": "user", "content": "x"}]},
            400,
            "unknown_parameter",
            "additional_messages",
        ),
        (
            "{thread}",
            {"max_completion_tokens": 255},
            400,
            "invalid_request",
            "max_completion_tokens",
        ),
        ("{thread}", {"max_prompt_tokens": 100}, 400, "invalid_request", "max_prompt_tokens"),
        (
            "{thread}",
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "f", "parameters": {}, "strict": True},
                    }
                ]
            },
            400,
            "unknown_parameter",
            "tools[0].function.strict",
        ),
        (
            "{thread}",
            {"tools": [{"type": "function", "function": {"name": "f"}}]},
            400,
            "invalid_request",
            "tools[0].function.parameters",
        ),
        (
            "{thread}",
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "schema": {}, "strict": True},
                }
            },
            400,
            "unknown_parameter",
            "response_format.json_schema.strict",
        ),
        ("{thread}", {"tool_choice": "required"}, 400, "invalid_request", "tool_choice"),
        ("{thread}", {"temprature": 0.5}, 400, "unknown_parameter", "temprature"),
    ],
)
def test_run_bodies_outside_the_contract_are_refused(
    api: httpx.Client, route: str, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    """What the published contract refuses (rules 1-5), the emulator refuses too."""
    path = f"/threads/{new_thread(api, 'hi')}/runs" if route == "{thread}" else route
    payload = {"assistant_id": "asst_echo", **body}
    if route == "/threads/runs":
        payload["thread"] = {"messages": [{"role": "user", "content": "hi"}]}
    response = api.post(path, json=payload)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)


def test_sdk_reads_generated_files_and_json_formats(client: AgentsClient) -> None:
    """The `tck` agent's generated file (`file_path`) and JSON reply, as the SDK reads them."""
    thread = client.threads.create()
    metadata = {"a2a_message_id": "tck-artifact-file-1"}
    client.messages.create(thread.id, role="user", content="a file", metadata=metadata)
    run = client.runs.create_and_process(
        thread.id,
        agent_id="asst_tck",
        polling_interval=0.02,  # type: ignore[arg-type]
    )
    assert run.status == "completed"
    last = client.messages.get_last_message_by_role(thread.id, MessageRole.AGENT)
    assert last is not None
    [annotation] = last.file_path_annotations
    assert annotation.text == "sandbox:/mnt/data/output.txt"
    assert last.text_messages[0].text.value == annotation.text
    assert (annotation.start_index, annotation.end_index) == (0, len(annotation.text))
    content = b"".join(client.files.get_content(annotation.file_path.file_id))
    assert content == b"demo file output.txt\n"
    with pytest.raises(ResourceNotFoundError):
        b"".join(client.files.get_content("assistant-nope"))

    recorder = _Recorder()
    metadata = {"a2a_message_id": "tck-artifact-file-2"}
    client.messages.create(thread.id, role="user", content="again", metadata=metadata)
    with client.runs.stream(thread.id, agent_id="asst_tck", event_handler=recorder) as stream:
        stream.until_done()
    [streamed] = [a for chunk in recorder.chunks for a in chunk.delta.content[0].text.annotations]
    assert streamed.type == "file_path" and streamed.text == "sandbox:/mnt/data/output.txt"

    metadata = {"a2a_message_id": "tck-artifact-data-1"}
    client.messages.create(thread.id, role="user", content="data", metadata=metadata)
    run = client.runs.create_and_process(
        thread.id,
        agent_id="asst_tck",
        polling_interval=0.02,  # type: ignore[arg-type]
    )
    assert run.response_format == {"type": "json_object"}
    text = client.messages.get_last_message_text_by_role(thread.id, MessageRole.AGENT)
    assert text is not None and json.loads(text.text.value) == {"key": "value", "count": 42}
