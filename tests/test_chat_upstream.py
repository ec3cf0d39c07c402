"""Chat completions through the running adapter, upstream faked with pytest-httpserver.

These pin the exact upstream requests (method, path, api-version, Bearer,
body) and count them: a completion is exactly one upstream request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from agents_core import tags
from agents_core.config import Settings, load_registry
from agents_core.http import Handlers, create_app
from agents_core.runtime import Runtime

from fakes import ENDPOINT_PATH, frame, json_body, run_events, run_object, sse_response
from servers import serve

TOKEN = "static-entra-token-value"
RUNS = f"{ENDPOINT_PATH}/threads/runs"
USER = [{"role": "user", "content": "hi"}]


def post(base_url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=10)


def agents_file(httpserver: HTTPServer, tmp_path: Path, monkeypatch: Any) -> Path:
    """A LiteLLM-style file naming the fake upstream, its token from the environment."""
    monkeypatch.setenv("TEST_FOUNDRY_TOKEN", TOKEN)
    config = tmp_path / "agents.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: helper\n"
        "    litellm_params:\n"
        "      model: azure_ai/agents/asst_test\n"
        f"      api_base: {httpserver.url_for(ENDPOINT_PATH)}\n"
        "      api_key: os.environ/TEST_FOUNDRY_TOKEN\n"
    )
    return config


@pytest.fixture
def base_url(httpserver: HTTPServer, start_adapter: Any, tmp_path: Path, monkeypatch: Any) -> str:
    return str(start_adapter(agents_config=agents_file(httpserver, tmp_path, monkeypatch)))


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)


def expect_run(httpserver: HTTPServer, path: str = RUNS, **events: Any) -> None:
    httpserver.expect_request(
        path,
        method="POST",
        query_string={"api-version": "v1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).respond_with_handler(lambda request: sse_response(run_events(**events)))


def upstream_bodies(httpserver: HTTPServer) -> list[dict[str, Any]]:
    """Bodies as sent, less the retention tags of a new thread (tests/test_retention.py)."""
    bodies = [json_body(request) if request.data else {} for request, _ in httpserver.log]
    for body in bodies:
        for thread in (body, body.get("thread")):
            if isinstance(thread, dict) and tags.is_tagged(thread.get("metadata")):
                for key in (tags.CREATED_BY, tags.CREATOR_CALLER, tags.CREATED_AT):
                    del thread["metadata"][key]
                if not thread["metadata"]:
                    del thread["metadata"]
    return bodies


def test_completion_on_a_new_thread_is_one_upstream_request(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    expect_run(httpserver, texts=["Hello", ", ", "Ada!"])
    raw = client.chat.completions.with_raw_response.create(
        model="helper",
        messages=[{"role": "user", "content": "Hi, I am Ada"}],
        temperature=0.2,
        top_p=0.9,
        max_tokens=300,
        response_format={"type": "json_object"},
        metadata={"team": "docs"},
        extra_body={"instructions": "You are a greeter."},
    )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id == "chatcmpl-run_abc"
    assert completion.model == "helper"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Hello, Ada!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens == 12
    assert completion.model_extra and completion.model_extra["thread_id"] == "thread_abc"
    assert raw.headers["x-thread-id"] == "thread_abc"
    assert raw.headers["x-request-id"].startswith("req_")
    assert "x-dropped-params" not in raw.headers and "x-adjusted-params" not in raw.headers
    assert len(httpserver.log) == 1
    upstream = httpserver.log[0][0]
    assert upstream.headers["User-Agent"] == "foundry-agents-adapter/1.0"
    assert upstream.headers["Content-Type"] == "application/json"
    assert upstream.headers["Authorization"].startswith("Bearer ")
    assert list(upstream.args) == ["api-version"]
    assert upstream_bodies(httpserver) == [
        {
            "assistant_id": "asst_test",
            "stream": True,
            "instructions": "You are a greeter.",
            "thread": {"messages": [{"role": "user", "content": "Hi, I am Ada"}]},
            "temperature": 0.2,
            "top_p": 0.9,
            "max_completion_tokens": 300,
            "response_format": {"type": "json_object"},
            "metadata": {"team": "docs"},
        }
    ]


def test_system_text_on_a_new_thread_creates_the_thread_then_the_run(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    """`POST /threads/runs` has no `additional_instructions` (contract rule 1): two requests."""
    httpserver.expect_request(
        f"{ENDPOINT_PATH}/threads", method="POST", query_string={"api-version": "v1"}
    ).respond_with_json({"id": "thread_sys", "object": "thread", "created_at": 1, "metadata": {}})
    expect_run(
        httpserver, f"{ENDPOINT_PATH}/threads/thread_sys/runs", texts=["Hi"], thread_id="thread_sys"
    )
    raw = client.chat.completions.with_raw_response.create(
        model="helper",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Hi, I am Ada"},
        ],
    )
    assert raw.parse().choices[0].message.content == "Hi"
    assert raw.headers["x-thread-id"] == "thread_sys"
    assert upstream_bodies(httpserver) == [
        {"messages": [{"role": "user", "content": "Hi, I am Ada"}]},
        {
            "assistant_id": "asst_test",
            "stream": True,
            "additional_instructions": "Be brief.\n\nAnswer in French.",
        },
    ]


def test_caller_tools_are_added_to_the_agents_own_tools(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    """A run's tools replace the agent's (rule 6): the agent's are read once and sent first."""
    own = [
        {"type": "file_search"},
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
    ]
    httpserver.expect_request(f"{ENDPOINT_PATH}/assistants/asst_test").respond_with_json(
        {"id": "asst_test", "object": "assistant", "tools": own}
    )
    expect_run(httpserver, texts=["ok"])
    tools = [
        {"type": "function", "function": {"name": "lookup", "description": "caller's copy"}},
        {
            "type": "function",
            "function": {"name": "open_url", "strict": True, "parameters": {"type": "object"}},
        },
    ]
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(
            model="helper",
            messages=[{"role": "user", "content": "hi"}],
            tools=tools,  # type: ignore[arg-type]
            tool_choice="auto",
        )
        assert raw.headers["x-dropped-params"] == "tools.open_url.strict"
    paths = [request.path for request, _ in httpserver.log]
    assert paths == [f"{ENDPOINT_PATH}/assistants/asst_test", RUNS, RUNS]  # read once, cached
    run = json_body(httpserver.log[1][0])
    assert run["tools"] == [
        *own,
        {"type": "function", "function": {"name": "open_url", "parameters": {"type": "object"}}},
    ]
    assert run["tool_choice"] == "auto"


@pytest.mark.parametrize(
    ("extra", "sent", "header"),
    [
        (
            {"max_tokens": 1},
            {"max_completion_tokens": 256},
            ("x-adjusted-params", "max_tokens=256"),
        ),
        (
            {"max_completion_tokens": 100},
            {"max_completion_tokens": 256},
            ("x-adjusted-params", "max_completion_tokens=256"),
        ),
        ({"max_tokens": 300}, {"max_completion_tokens": 300}, None),
        ({"presence_penalty": 0, "frequency_penalty": 0, "stop": [], "n": 1}, {}, None),
        ({"stop": ["x"], "drop_params": True}, {}, ("x-dropped-params", "stop")),
        ({"prompt_cache_key": "k"}, {}, ("x-dropped-params", "prompt_cache_key")),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": "required",
                "drop_params": True,
            },
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "parameters": {"type": "object", "properties": {}},
                        },
                    }
                ]
            },
            ("x-dropped-params", "tool_choice"),
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "strict": True, "schema": {"type": "object"}},
                }
            },
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "schema": {"type": "object"}},
                }
            },
            ("x-dropped-params", "response_format.json_schema.strict"),
        ),
    ],
)
def test_classic_run_bodies_carry_contract_fields_only(
    httpserver: HTTPServer,
    base_url: str,
    extra: dict[str, Any],
    sent: dict[str, Any],
    header: tuple[str, str] | None,
) -> None:
    if "tools" in extra:
        httpserver.expect_request(f"{ENDPOINT_PATH}/assistants/asst_test").respond_with_json(
            {"id": "asst_test", "tools": []}
        )
    expect_run(httpserver, texts=["ok"])
    response = post(base_url, {"model": "helper", "messages": USER, **extra})
    assert response.status_code == 200, response.text
    sent_bodies = zip(httpserver.log, upstream_bodies(httpserver), strict=True)
    [body] = [b for (r, _), b in sent_bodies if r.path == RUNS]
    expected = {"assistant_id": "asst_test", "stream": True, "thread": {"messages": USER}, **sent}
    assert body == expected
    if header is None:
        assert "x-dropped-params" not in response.headers
        assert "x-adjusted-params" not in response.headers
    else:
        assert response.headers[header[0]] == header[1]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"max_tokens": 100, "strict_params": True}, "max_tokens"),
        (
            {"tool_choice": "required", "tools": [{"type": "function", "function": {"name": "f"}}]},
            "tool_choice",
        ),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"seed": 7}, "seed"),
        ({"stop": ["x"]}, "stop"),
    ],
)
def test_what_cannot_be_honoured_is_a_400_before_any_upstream_request(
    httpserver: HTTPServer, base_url: str, extra: dict[str, Any], param: str
) -> None:
    response = post(base_url, {"model": "helper", "messages": USER, **extra})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert httpserver.log == []


def test_thread_id_in_body_continues_the_thread_with_only_new_messages(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    expect_run(
        httpserver,
        f"{ENDPOINT_PATH}/threads/thread_old/runs",
        texts=["Ada"],
        thread_id="thread_old",
        new_thread=False,
    )
    completion = client.chat.completions.create(
        model="azure_ai/agents/asst_test",
        messages=[
            {"role": "user", "content": "I am Ada"},
            {"role": "assistant", "content": "Hello Ada"},
            {"role": "user", "content": "What is my name?"},
        ],
        extra_body={"thread_id": "thread_old"},
    )
    assert completion.choices[0].message.content == "Ada"
    assert completion.model_extra and completion.model_extra["thread_id"] == "thread_old"
    [body] = upstream_bodies(httpserver)
    assert body["additional_messages"] == [{"role": "user", "content": "What is my name?"}]
    assert "thread" not in body


def test_thread_id_header_is_accepted(httpserver: HTTPServer, base_url: str) -> None:
    expect_run(
        httpserver,
        f"{ENDPOINT_PATH}/threads/thread_h/runs",
        texts=["ok"],
        thread_id="thread_h",
        new_thread=False,
    )
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        headers={"x-thread-id": "thread_h"},
        json={"model": "helper", "messages": [{"role": "user", "content": "again"}]},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-thread-id"] == "thread_h"
    assert len(httpserver.log) == 1


def test_streaming_sends_tokens_as_they_arrive(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    expect_run(httpserver, texts=["one ", "two ", "three"], delay=0.4)
    arrivals: list[tuple[float, Any]] = []
    stream = client.chat.completions.create(
        model="helper",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        arrivals.append((time.monotonic(), chunk))
    chunks = [chunk for _, chunk in arrivals]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].model_extra and chunks[0].model_extra["thread_id"] == "thread_abc"
    assert all(c.object == "chat.completion.chunk" and c.id == "chatcmpl-run_abc" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    finals = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finals == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage and chunks[-1].usage.total_tokens == 12
    first_token = next(t for t, c in arrivals if c.choices and c.choices[0].delta.content)
    assert arrivals[-1][0] - first_token > 0.6, "tokens were buffered until the run ended"


def test_stream_frames_on_the_wire(httpserver: HTTPServer, base_url: str) -> None:
    expect_run(httpserver, texts=["hi"])
    with httpx.stream(
        "POST",
        f"{base_url}/v1/chat/completions",
        json={"model": "helper", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-thread-id"] == "thread_abc"
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


def test_run_stopping_for_tools_reports_tool_calls(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    action = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ]
        },
    }
    expect_run(httpserver, texts=[], status="requires_action", required_action=action)
    completion = client.chat.completions.create(
        model="helper", messages=[{"role": "user", "content": "weather?"}]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1.thread_abc.run_abc",
        "get_weather",
        '{"city": "Paris"}',
    )

    # The answer goes to the waiting run: one GET to check it, then submit_tool_outputs.
    run_path = f"{ENDPOINT_PATH}/threads/thread_abc/runs/run_abc"
    httpserver.expect_request(run_path, method="GET").respond_with_json(
        run_object("thread_abc", "run_abc", "requires_action", required_action=action)
    )
    httpserver.expect_request(
        f"{run_path}/submit_tool_outputs", method="POST"
    ).respond_with_handler(
        lambda request: sse_response(run_events(["It is sunny."], new_thread=False))
    )
    answer = client.chat.completions.create(
        model="helper",
        messages=[
            {"role": "user", "content": "weather?"},
            choice.message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
        ],
    )
    assert answer.choices[0].message.content == "It is sunny."
    assert answer.model_extra and answer.model_extra["thread_id"] == "thread_abc"
    submitted = json_body(httpserver.log[-1][0])
    assert submitted == {
        "tool_outputs": [{"tool_call_id": "call_1", "output": "sunny, 21 C"}],
        "stream": True,
    }


def test_parallel_tool_results_go_upstream_in_the_order_asked(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    calls = [
        {"id": call, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        for call in ("call_z", "call_a")
    ]
    action = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}}
    run_path = f"{ENDPOINT_PATH}/threads/thread_abc/runs/run_abc"
    httpserver.expect_request(run_path, method="GET").respond_with_json(
        run_object("thread_abc", "run_abc", "requires_action", required_action=action)
    )
    httpserver.expect_request(
        f"{run_path}/submit_tool_outputs", method="POST"
    ).respond_with_handler(lambda request: sse_response(run_events(["ok"], new_thread=False)))
    asked = [
        {**call, "id": f"{call['id']}.thread_abc.run_abc"}  # type: ignore[dict-item]
        for call in calls
    ]
    client.chat.completions.create(
        model="helper",
        messages=[
            {"role": "user", "content": "weather in Zurich and Aarau?"},
            {"role": "assistant", "content": None, "tool_calls": asked},  # type: ignore[list-item, typeddict-item]
            {"role": "tool", "tool_call_id": asked[1]["id"], "content": "Aarau: rain"},
            {"role": "tool", "tool_call_id": asked[0]["id"], "content": "Zurich: sun"},
        ],
    )
    submitted = json_body(httpserver.log[-1][0])
    assert [o["tool_call_id"] for o in submitted["tool_outputs"]] == ["call_z", "call_a"]


@pytest.mark.parametrize(
    ("status", "final", "http_status", "code"),
    [
        (
            "failed",
            {"last_error": {"code": "server_error", "message": "boom"}},
            502,
            "server_error",
        ),
        (
            "failed",
            {
                "last_error": {
                    "code": "rate_limit_exceeded",
                    "message": "Rate limit. Try again in 7 seconds.",
                }
            },
            429,
            "rate_limit_exceeded",
        ),
        ("expired", {}, 504, "run_expired"),
        ("cancelled", {}, 502, "run_cancelled"),
    ],
)
def test_failed_runs_become_errors(
    httpserver: HTTPServer,
    base_url: str,
    status: str,
    final: dict[str, Any],
    http_status: int,
    code: str,
) -> None:
    expect_run(httpserver, texts=["partial"], status=status, **final)
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "helper", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == http_status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    if http_status == 429:
        assert response.headers["retry-after"] == "7"


def test_incomplete_run_finishes_with_length(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    expect_run(
        httpserver,
        texts=["trunc"],
        status="incomplete",
        incomplete_details={"reason": "max_completion_tokens"},
    )
    completion = client.chat.completions.create(
        model="helper", messages=[{"role": "user", "content": "x"}]
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "trunc"


def test_upstream_throttling_is_retried_then_reported(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    httpserver.expect_request(RUNS, method="POST").respond_with_response(
        Response(
            '{"error": {"code": "too_many_requests", "message": "slow down"}}',
            status=429,
            headers={"Retry-After": "1", "retry-after-ms": "300", "apim-request-id": "apim-123"},
        )
    )
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="helper", messages=[{"role": "user", "content": "x"}])
    assert raised.value.response.headers["retry-after"] == "1"
    assert raised.value.response.headers["x-upstream-request-id"] == "apim-123"
    assert 3 <= len(httpserver.log) <= 8  # retried within the 2 s deadline, honouring 300 ms


def test_throttling_then_success_loses_nothing(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    calls = {"n": 0}

    def handler(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return Response("{}", status=429, headers={"retry-after-ms": "50"})
        return sse_response(run_events(["fine"]))

    httpserver.expect_request(RUNS, method="POST").respond_with_handler(handler)
    completion = client.chat.completions.create(
        model="helper", messages=[{"role": "user", "content": "x"}]
    )
    assert completion.choices[0].message.content == "fine"
    assert calls["n"] == 2


def test_server_errors_on_run_creation_are_not_retried(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    httpserver.expect_request(RUNS, method="POST").respond_with_response(
        Response('{"error": {"code": "internal", "message": "oops"}}', status=500)
    )
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="helper", messages=[{"role": "user", "content": "x"}])
    assert raised.value.status_code == 502
    assert len(httpserver.log) == 1  # a 500 may have started a run: never duplicated


def test_unknown_thread_is_404(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    httpserver.expect_request(f"{ENDPOINT_PATH}/threads/thread_gone/runs").respond_with_response(
        Response(
            '{"error": {"code": "not_found", "message": "No thread found with id thread_gone"}}',
            status=404,
        )
    )
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(
            model="helper",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"thread_id": "thread_gone"},
        )
    assert raised.value.code == "thread_not_found"


def test_upstream_auth_failure_is_502_naming_the_credential(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    httpserver.expect_request(RUNS).respond_with_response(
        Response('{"error": {"code": "PermissionDenied", "message": "denied"}}', status=403)
    )
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="helper", messages=[{"role": "user", "content": "x"}])
    assert raised.value.status_code == 502
    message = raised.value.body["message"]  # type: ignore[index]
    assert "static token" in message and "Azure AI User" in message
    assert TOKEN not in raised.value.response.text


def test_upstream_timeout_is_504_and_cancels_the_run(
    httpserver: HTTPServer, start_adapter: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    def slow(request: Request) -> Response:
        def frames() -> Any:
            yield frame("thread.created", {"id": "thread_t"})
            yield frame("thread.run.created", run_object("thread_t", "run_t", "queued"))
            time.sleep(1.5)
            yield frame("done", "[DONE]")

        return sse_response(frames())

    httpserver.expect_request(RUNS, method="POST").respond_with_handler(slow)
    httpserver.expect_request(
        f"{ENDPOINT_PATH}/threads/thread_t/runs/run_t/cancel", method="POST"
    ).respond_with_json(run_object("thread_t", "run_t", "cancelling"))
    config = agents_file(httpserver, tmp_path, monkeypatch)
    base_url = start_adapter(agents_config=config, upstream_read_timeout=0.5)
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "helper", "messages": [{"role": "user", "content": "x"}]},
        timeout=10,
    )
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout_error"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not any(
        r.path.endswith("/cancel") for r, _ in httpserver.log
    ):
        time.sleep(0.05)
    assert any(r.path.endswith("/runs/run_t/cancel") for r, _ in httpserver.log)


def test_caller_disconnect_mid_stream_cancels_the_run(
    httpserver: HTTPServer, base_url: str
) -> None:
    expect_run(httpserver, texts=["a ", "b ", "c ", "d ", "e"], delay=0.5)
    httpserver.expect_request(
        f"{ENDPOINT_PATH}/threads/thread_abc/runs/run_abc/cancel", method="POST"
    ).respond_with_json(run_object("thread_abc", "run_abc", "cancelling"))
    body = {"model": "helper", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if '"content":"a "' in line:
                break  # leave after the first token
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
        r.path.endswith("/cancel") for r, _ in httpserver.log
    ):
        time.sleep(0.05)
    assert any(r.path.endswith("/runs/run_abc/cancel") for r, _ in httpserver.log)


ANNOTATED_TEXT = {
    "value": "Paris is big【1†source】 see chart【2†file】",
    "annotations": [
        {
            "type": "url_citation",
            "text": "【1†source】",
            "start_index": 12,
            "end_index": 22,
            "url_citation": {"url": "https://en.wikipedia.org/wiki/Paris", "title": "Paris"},
        },
        {
            "type": "file_path",
            "text": "【2†file】",
            "start_index": 32,
            "end_index": 40,
            "file_path": {"file_id": "assistant-chart1"},
        },
    ],
}
"""A reply citing a web page and a generated file, in the threads API's text shape."""


def annotated_run(request: Request) -> Response:
    """A run whose message cites a web page and a file, in the threads API's delta shape."""

    def frames() -> Any:
        yield frame("thread.created", {"id": "thread_abc"})
        yield frame("thread.run.created", run_object("thread_abc", "run_abc", "queued"))
        delta = {
            "id": "msg_1",
            "object": "thread.message.delta",
            "delta": {
                "content": [
                    {
                        "index": 0,
                        "type": "text",
                        "text": ANNOTATED_TEXT,
                    }
                ]
            },
        }
        yield frame("thread.message.delta", delta)
        yield frame("thread.run.completed", run_object("thread_abc", "run_abc", "completed"))
        yield frame("done", "[DONE]")

    return sse_response(frames())


def test_citations_become_openai_annotations_and_files_download(
    httpserver: HTTPServer, base_url: str
) -> None:
    httpserver.expect_request(RUNS, method="POST").respond_with_handler(annotated_run)
    httpserver.expect_request(
        f"{ENDPOINT_PATH}/files/assistant-chart1/content",
        method="GET",
        query_string={"api-version": "v1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).respond_with_data(b"\x89PNG fake chart", content_type="image/png")
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "helper", "messages": [{"role": "user", "content": "Paris?"}]},
    )
    message = response.json()["choices"][0]["message"]
    assert message["content"] == "Paris is big【1†source】 see chart【2†file】"
    url, path = message["annotations"]
    assert url == {
        "type": "url_citation",
        "url_citation": {
            "start_index": 12,
            "end_index": 22,
            "url": "https://en.wikipedia.org/wiki/Paris",
            "title": "Paris",
        },
    }
    assert path["type"] == "file_path"
    assert path["file_path"]["file_id"] == "assistant-chart1"
    download = httpx.get(f"{base_url}{path['file_path']['url']}")
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert download.content == b"\x89PNG fake chart"
    missing_model = httpx.get(f"{base_url}/v1/files/assistant-chart1/content")
    assert missing_model.status_code == 400
    assert missing_model.json()["error"]["param"] == "model"


def test_streamed_citations_arrive_with_their_delta(httpserver: HTTPServer, base_url: str) -> None:
    httpserver.expect_request(RUNS, method="POST").respond_with_handler(annotated_run)
    body = {"model": "helper", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body) as response:
        chunks = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")
        ]
    annotated = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("annotations")]
    assert len(annotated) == 1
    kinds = [a["type"] for a in annotated[0]["choices"][0]["delta"]["annotations"]]
    assert kinds == ["url_citation", "file_path"]


def tool_action(call_id: str, city: str) -> dict[str, Any]:
    return {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
                }
            ]
        },
    }


def test_two_rounds_of_tool_use(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    run_path = f"{ENDPOINT_PATH}/threads/thread_abc/runs/run_abc"
    rounds = iter([tool_action("call_1", "Paris"), tool_action("call_2", "Rome")])
    state: dict[str, Any] = {"action": next(rounds)}

    def get_run(request: Request) -> Response:
        run = run_object(
            "thread_abc", "run_abc", "requires_action", required_action=state["action"]
        )
        return Response(json.dumps(run), content_type="application/json")

    def submit(request: Request) -> Response:
        state["action"] = next(rounds, None)
        if state["action"] is None:
            return sse_response(run_events(["Paris sunny, Rome rainy."], new_thread=False))
        return sse_response(
            run_events(
                [], status="requires_action", new_thread=False, required_action=state["action"]
            )
        )

    expect_run(httpserver, texts=[], status="requires_action", required_action=state["action"])
    httpserver.expect_request(run_path, method="GET").respond_with_handler(get_run)
    httpserver.expect_request(f"{run_path}/submit_tool_outputs").respond_with_handler(submit)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris, then Rome?"}]
    for _ in range(3):
        reply = client.chat.completions.create(model="helper", messages=messages)
        choice = reply.choices[0]
        if choice.finish_reason != "tool_calls":
            break
        assert choice.message.tool_calls
        messages.append(choice.message.model_dump(exclude_none=True))
        for call in choice.message.tool_calls:
            city = json.loads(call.function.arguments)["city"]
            messages.append({"role": "tool", "tool_call_id": call.id, "content": f"{city} ok"})
    assert choice.finish_reason == "stop"
    assert choice.message.content == "Paris sunny, Rome rainy."
    submits = [json_body(r) for r, _ in httpserver.log if r.path.endswith("submit_tool_outputs")]
    assert [s["tool_outputs"] for s in submits] == [
        [{"tool_call_id": "call_1", "output": "Paris ok"}],
        [{"tool_call_id": "call_2", "output": "Rome ok"}],
    ]


def test_tool_results_for_calls_never_issued_are_rejected(base_url: str) -> None:
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_x", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_x", "content": "1"},
    ]
    response = httpx.post(
        f"{base_url}/v1/chat/completions", json={"model": "helper", "messages": messages}
    )
    assert response.status_code == 400
    assert "not issued by this service" in response.json()["error"]["message"]
    partial = [
        messages[0],
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1.thread_a.run_b",
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}"},
                },
                {
                    "id": "call_2.thread_a.run_b",
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1.thread_a.run_b", "content": "1"},
    ]
    response = httpx.post(
        f"{base_url}/v1/chat/completions", json={"model": "helper", "messages": partial}
    )
    assert response.status_code == 400
    assert "missing tool results for: call_2.thread_a.run_b" in response.json()["error"]["message"]


def test_expired_run_waiting_for_tools_is_410(httpserver: HTTPServer, base_url: str) -> None:
    httpserver.expect_request(f"{ENDPOINT_PATH}/threads/thread_a/runs/run_b").respond_with_json(
        run_object("thread_a", "run_b", "expired")
    )
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1.thread_a.run_b",
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1.thread_a.run_b", "content": "1"},
    ]
    response = httpx.post(
        f"{base_url}/v1/chat/completions", json={"model": "helper", "messages": messages}
    )
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "run_expired"


def test_approval_requests_are_a_clear_error(httpserver: HTTPServer, base_url: str) -> None:
    action = {
        "type": "submit_tool_approval",
        "submit_tool_approval": {
            "tool_calls": [
                {"id": "call_m", "type": "mcp", "name": "search", "server_label": "docs"}
            ]
        },
    }
    expect_run(httpserver, texts=[], status="requires_action", required_action=action)
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "helper", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "unsupported_required_action"


@pytest.fixture
def served_runtime(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: Any
) -> Iterator[tuple[str, Runtime]]:
    """The adapter and its runtime, to look at the upstream connection pool."""
    settings = Settings(agents_config=agents_file(httpserver, tmp_path, monkeypatch))
    runtime = Runtime.build(settings, registry=load_registry(settings))
    with serve(create_app(Handlers(runtime))) as base_url:
        yield base_url, runtime


def busy_connections(runtime: Runtime) -> int:
    """Upstream connections taken from the pool and not given back (aiohttp's connector)."""
    session = runtime.http._inner._session  # type: ignore[attr-defined]
    return 0 if session is None else len(session.connector._acquired)


def test_disconnects_leave_no_upstream_connection_behind(
    httpserver: HTTPServer, served_runtime: tuple[str, Runtime]
) -> None:
    """Each caller that leaves mid-stream must release its pooled upstream connection."""
    base_url, runtime = served_runtime
    expect_run(httpserver, texts=[f"{i} " for i in range(20)], delay=0.2)
    httpserver.expect_request(
        f"{ENDPOINT_PATH}/threads/thread_abc/runs/run_abc/cancel", method="POST"
    ).respond_with_json(run_object("thread_abc", "run_abc", "cancelling"))
    body = {"model": "helper", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    for _ in range(3):
        with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if '"content":"1 "' in line:
                    break
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and busy_connections(runtime):
        time.sleep(0.05)
    assert busy_connections(runtime) == 0


def test_built_in_tool_steps_do_not_disturb_the_stream(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    """Code interpreter, file search and the like run server-side as run steps."""

    def run(request: Request) -> Response:
        def frames() -> Any:
            yield frame("thread.created", {"id": "thread_abc"})
            yield frame("thread.run.created", run_object("thread_abc", "run_abc", "queued"))
            details = {
                "type": "tool_calls",
                "tool_calls": [
                    {
                        "id": "ci_1",
                        "type": "code_interpreter",
                        "code_interpreter": {"input": "1+1", "outputs": []},
                    }
                ],
            }
            step = {
                "id": "step_1",
                "object": "thread.run.step",
                "type": "tool_calls",
                "step_details": details,
            }
            yield frame("thread.run.step.created", step)
            yield frame(
                "thread.run.step.delta",
                {
                    "id": "step_1",
                    "object": "thread.run.step.delta",
                    "delta": {"step_details": details},
                },
            )
            yield frame("thread.run.step.completed", step)
            yield from run_events(["2"], new_thread=False)

        return sse_response(frames())

    httpserver.expect_request(RUNS).respond_with_handler(run)
    chunks = list(
        client.chat.completions.create(
            model="helper", messages=[{"role": "user", "content": "1+1?"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "2"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


@pytest.mark.parametrize("stream", [False, True])
def test_citation_markers_can_be_stripped(
    httpserver: HTTPServer, base_url: str, stream: bool
) -> None:
    httpserver.expect_request(RUNS, method="POST").respond_with_handler(annotated_run)
    body = {
        "model": "helper",
        "stream": stream,
        "citation_markers": "strip",
        "messages": [{"role": "user", "content": "Paris?"}],
    }
    if stream:
        with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body) as response:
            chunks = [
                json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")
            ]
        deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
        content = "".join(d.get("content") or "" for d in deltas)
        annotations = [a for d in deltas for a in d.get("annotations", [])]
    else:
        message = httpx.post(f"{base_url}/v1/chat/completions", json=body).json()["choices"][0][
            "message"
        ]
        content, annotations = message["content"], message["annotations"]
    assert content == "Paris is big see chart"
    url, path = annotations
    assert (url["url_citation"]["start_index"], url["url_citation"]["end_index"]) == (12, 12)
    assert path["file_path"]["start_index"] == len("Paris is big see chart")


def test_images_pass_through_as_image_url_content(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    expect_run(httpserver, texts=["A cat."])
    pixel = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    )
    reply = client.chat.completions.create(
        model="helper",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/cat.png", "detail": "high"},
                    },
                    {"type": "image_url", "image_url": {"url": pixel}},
                ],
            }
        ],
    )
    assert reply.choices[0].message.content == "A cat."
    [body] = upstream_bodies(httpserver)
    assert body["thread"]["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/cat.png", "detail": "high"},
                },
                {"type": "image_url", "image_url": {"url": pixel}},
            ],
        }
    ]


def test_a_cookie_one_answer_sets_never_rides_on_a_later_request(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    def with_cookie(request: Any) -> Any:
        response = sse_response(run_events(texts=["Hi"]))
        response.headers["Set-Cookie"] = "affinity=caller-a; Path=/"
        return response

    httpserver.expect_ordered_request(RUNS, method="POST").respond_with_handler(with_cookie)
    expect_run(httpserver, texts=["Hello"])
    for _ in range(2):
        client.chat.completions.create(model="helper", messages=[{"role": "user", "content": "Hi"}])
    assert len(httpserver.log) == 2
    assert "Cookie" not in httpserver.log[1][0].headers


def test_a_classic_response_read_back_keeps_its_citations_and_files(
    httpserver: HTTPServer, base_url: str
) -> None:
    """`GET /v1/responses/{id}` of a classic run reads its reply, annotations too, back."""
    httpserver.expect_request(RUNS, method="POST").respond_with_handler(annotated_run)
    created = httpx.post(f"{base_url}/v1/responses", json={"model": "helper", "input": "Paris?"})
    assert created.status_code == 200, created.text
    [message] = [item for item in created.json()["output"] if item["type"] == "message"]
    streamed = message["content"][0]["annotations"]
    assert {a["type"] for a in streamed} == {"url_citation", "file_path"}
    httpserver.expect_request(
        f"{ENDPOINT_PATH}/threads/thread_abc/runs/run_abc", method="GET"
    ).respond_with_json(run_object("thread_abc", "run_abc", "completed"))
    text = {"type": "text", "text": ANNOTATED_TEXT}
    reply = {"id": "msg_1", "role": "assistant", "content": [text]}
    httpserver.expect_request(
        f"{ENDPOINT_PATH}/threads/thread_abc/messages", method="GET"
    ).respond_with_json({"object": "list", "data": [reply], "has_more": False})
    again = httpx.get(f"{base_url}/v1/responses/{created.json()['id']}")
    assert again.status_code == 200, again.text
    [read] = [item for item in again.json()["output"] if item["type"] == "message"]
    assert read["content"][0]["text"] == message["content"][0]["text"]
    assert read["content"][0]["annotations"] == streamed
