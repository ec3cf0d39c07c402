"""Versioned agents (`name:version`) through the Responses API, faked with pytest-httpserver.

These pin the exact requests: a new conversation costs one `POST
/openai/v1/conversations`, every turn one `POST /openai/v1/responses`
naming the agent with an `agent_reference`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pytest_httpserver import HTTPServer

from fakes import ENDPOINT_PATH, frame, json_body, response_events, sse_response

TOKEN = "versioned-agent-token"
RESPONSES = f"{ENDPOINT_PATH}/openai/v1/responses"
CONVERSATIONS = f"{ENDPOINT_PATH}/openai/v1/conversations"
USER = [{"role": "user", "content": "x"}]


@pytest.fixture
def base_url(httpserver: HTTPServer, start_adapter: Any, tmp_path: Path) -> str:
    config = tmp_path / "agents.yaml"
    config.write_text(
        "model_list:\n  - model_name: planner\n    litellm_params:\n"
        "      model: azure_ai/agents/trip-planner:3\n"
        f"      api_base: {httpserver.url_for(ENDPOINT_PATH)}\n      api_key: {TOKEN}\n"
    )
    return str(start_adapter(agents_config=config))


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)


def expect_response(httpserver: HTTPServer, **events: Any) -> None:
    httpserver.expect_request(
        RESPONSES, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_handler(lambda request: sse_response(response_events(**events)))


def expect_conversation(httpserver: HTTPServer, conversation: str = "conv_new") -> None:
    httpserver.expect_request(CONVERSATIONS, method="POST").respond_with_json(
        {"id": conversation, "object": "conversation", "created_at": 1, "metadata": {}}
    )


def test_new_conversation_then_one_request_per_turn(
    httpserver: HTTPServer, client: openai.OpenAI
) -> None:
    expect_conversation(httpserver)
    expect_response(httpserver, texts=["Day 1: ", "Paris."])
    raw = client.chat.completions.with_raw_response.create(
        model="planner",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Plan a trip"},
        ],
        temperature=0.3,
        max_tokens=200,
        extra_body={"instructions": "You plan trips."},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Day 1: Paris."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 6)
    assert completion.model_extra and completion.model_extra["thread_id"] == "conv_new"
    assert raw.headers["x-thread-id"] == "conv_new"
    assert raw.headers["x-dropped-params"] == "temperature"  # the agent owns it (rule 14)
    conversation, response = (request for request, _ in httpserver.log)
    assert conversation.path == CONVERSATIONS
    assert "api-version" not in response.args
    assert json_body(response) == {
        "agent_reference": {"type": "agent_reference", "name": "trip-planner", "version": "3"},
        "input": [
            {"type": "message", "role": "developer", "content": "You plan trips."},
            {"type": "message", "role": "developer", "content": "Be brief."},
            {"type": "message", "role": "user", "content": "Plan a trip"},
        ],
        "max_output_tokens": 200,
        "conversation": "conv_new",
        "stream": True,
    }

    httpserver.clear_log()
    streamed = client.chat.completions.create(
        model="planner",
        messages=[{"role": "user", "content": "And day 2?"}],
        extra_body={"thread_id": "conv_new"},
        stream=True,
    )
    chunks = list(streamed)
    assert chunks[0].model_extra and chunks[0].model_extra["thread_id"] == "conv_new"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Day 1: Paris."
    [only] = [request for request, _ in httpserver.log]
    assert only.path == RESPONSES
    assert json_body(only)["conversation"] == "conv_new"


def test_function_calls_round_trip(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    expect_conversation(httpserver, "conv_t")
    expect_response(
        httpserver,
        texts=[],
        response_id="resp_1",
        calls=[{"call_id": "call_9", "name": "get_weather", "arguments": '{"location": "Oslo"}'}],
    )
    asked = client.chat.completions.create(
        model="planner", messages=[{"role": "user", "content": "Weather in Oslo?"}]
    )
    choice = asked.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.id == "call_9.conv_t.resp_1"
    assert call.function.arguments == '{"location": "Oslo"}'

    httpserver.clear_log()
    httpserver.clear_all_handlers()
    expect_response(httpserver, texts=["Oslo is cold."], response_id="resp_2")
    answer = client.chat.completions.create(
        model="planner",
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            choice.message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "-3 C"},
        ],
    )
    assert answer.choices[0].message.content == "Oslo is cold."
    [request] = [request for request, _ in httpserver.log]
    assert json_body(request) == {
        "agent_reference": {"type": "agent_reference", "name": "trip-planner", "version": "3"},
        "input": [{"type": "function_call_output", "call_id": "call_9", "output": "-3 C"}],
        "metadata": {"continues_response": "resp_1"},  # the response it answers
        "conversation": "conv_t",
        "stream": True,
    }


AGENT_VERSION = f"{ENDPOINT_PATH}/agents/trip-planner/versions/3"
OWN_TOOLS = {
    "object": "agent.version",
    "name": "trip-planner",
    "version": "3",
    "definition": {
        "kind": "prompt",
        "model": "gpt-4.1",
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
    },
}


@pytest.mark.parametrize(
    ("extra", "sent", "headers"),
    [
        (
            {"temperature": 0.2, "top_p": 0.5, "response_format": {"type": "json_object"}},
            {},
            {"x-dropped-params": "temperature, top_p, response_format"},
        ),
        ({"response_format": {"type": "text"}}, {}, {}),
        ({"max_tokens": 1}, {"max_output_tokens": 16}, {"x-adjusted-params": "max_tokens=16"}),
        ({"max_tokens": 16}, {"max_output_tokens": 16}, {}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            {"tool_choice": {"type": "function", "name": "get_weather"}},
            {},
        ),
        ({"tool_choice": "required"}, {"tool_choice": "required"}, {}),
        ({"parallel_tool_calls": False}, {"parallel_tool_calls": False}, {}),
    ],
)
def test_versioned_requests_never_carry_what_the_agent_owns(
    httpserver: HTTPServer,
    base_url: str,
    extra: dict[str, Any],
    sent: dict[str, Any],
    headers: dict[str, str],
) -> None:
    expect_response(httpserver, texts=["ok"])
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "planner", "thread_id": "conv_x", "messages": USER, **extra},
    )
    assert response.status_code == 200, response.text
    [request] = [request for request, _ in httpserver.log]
    assert json_body(request) == {
        "agent_reference": {"type": "agent_reference", "name": "trip-planner", "version": "3"},
        "input": [{"type": "message", "role": "user", "content": "x"}],
        "conversation": "conv_x",
        "stream": True,
        **sent,
    }
    for name in ("x-dropped-params", "x-adjusted-params"):
        assert response.headers.get(name) == headers.get(name)


def test_strict_params_refuses_what_the_agent_owns(httpserver: HTTPServer, base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "planner", "messages": USER, "temperature": 0, "strict_params": True},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "temperature"
    assert httpserver.log == []


def test_declared_tools_are_never_sent_and_foreign_ones_are_reported(
    httpserver: HTTPServer, base_url: str
) -> None:
    """Open WebUI attaches its own tools to every chat; the agent keeps its own (issue example)."""
    httpserver.expect_request(AGENT_VERSION, query_string={"api-version": "v1"}).respond_with_json(
        OWN_TOOLS
    )
    expect_response(httpserver, texts=["ok"])
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {}}},
        {"type": "function", "function": {"name": "web_search", "parameters": {}}},
    ]
    for _ in range(2):
        response = httpx.post(
            f"{base_url}/v1/chat/completions",
            json={"model": "planner", "thread_id": "conv_x", "messages": USER, "tools": tools},
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-dropped-params"] == "tools.web_search"
    paths = [request.path for request, _ in httpserver.log]
    assert paths == [AGENT_VERSION, RESPONSES, RESPONSES]  # the definition is read once
    assert "tools" not in json_body(httpserver.log[1][0])


@pytest.mark.parametrize(
    ("item", "words"),
    [
        (
            {
                "type": "mcp_approval_request",
                "id": "mcpr_1",
                "server_label": "files",
                "name": "delete_all",
                "arguments": "{}",
            },
            "approval of the MCP tool call 'delete_all' on server 'files'",
        ),
        (
            {
                "type": "oauth_consent_request",
                "id": "oauth_1",
                "server_label": "github",
                "consent_link": "https://login.example/consent",
            },
            "OAuth consent for 'github'",
        ),
    ],
)
def test_approval_and_consent_stops_are_clear_errors(
    httpserver: HTTPServer, base_url: str, item: dict[str, Any], words: str
) -> None:
    def respond(request: Any) -> Any:
        events = list(response_events([]))
        final = json.loads(events[-1].split(b"data: ", 1)[1])
        final["response"]["output"] = [item]
        return sse_response([events[0], frame("response.completed", final)])

    httpserver.expect_request(RESPONSES).respond_with_handler(respond)
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "planner", "thread_id": "conv_x", "messages": USER},
    )
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "unsupported_required_action"
    assert words in error["message"]


def test_upstream_error_details_reach_the_caller(httpserver: HTTPServer, base_url: str) -> None:
    httpserver.expect_request(RESPONSES).respond_with_json(
        {
            "error": {
                "code": "invalid_payload",
                "message": "Invalid payload",
                "details": [
                    {"code": "ValidationError", "message": "not allowed", "param": "metadata"}
                ],
            }
        },
        status=400,
        headers={"apim-request-id": "apim-1"},
    )
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "planner", "thread_id": "conv_x", "messages": USER},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "metadata"
    assert "metadata: not allowed" in error["message"]
    assert (error["code"], error["upstream_code"]) == ("invalid_payload", "invalid_payload")
    assert error["upstream_request_id"] == "apim-1"


def test_busy_conversation_is_409_without_the_other_response_id(
    httpserver: HTTPServer, base_url: str
) -> None:
    httpserver.expect_request(RESPONSES).respond_with_json(
        {
            "error": {
                "code": "conversation_locked",
                "message": "Another response (resp_secret) is in progress in conversation conv_x.",
            }
        },
        status=400,
    )
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "planner", "thread_id": "conv_x", "messages": USER},
    )
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "thread_busy"
    assert "resp_secret" not in response.text


def test_bad_versioned_agent_names_never_reach_the_upstream(
    httpserver: HTTPServer, start_adapter: Any, tmp_path: Path
) -> None:
    config = tmp_path / "agents.yaml"
    config.write_text(
        "model_list:\n  - model_name: bad\n    litellm_params:\n"
        "      model: azure_ai/agents/trip_planner.v2\n"
        f"      api_base: {httpserver.url_for(ENDPOINT_PATH)}\n      api_key: {TOKEN}\n"
    )
    base = start_adapter(agents_config=config)
    response = httpx.post(f"{base}/v1/chat/completions", json={"model": "bad", "messages": USER})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("status", "extra", "http_status", "code"),
    [
        ("failed", {"error": {"code": "server_error", "message": "boom"}}, 502, "server_error"),
        (
            "failed",
            {"error": {"code": "rate_limit_exceeded", "message": "slow down"}},
            429,
            "rate_limit_exceeded",
        ),
    ],
)
def test_failed_responses_map_like_failed_runs(
    httpserver: HTTPServer,
    base_url: str,
    status: str,
    extra: dict[str, Any],
    http_status: int,
    code: str,
) -> None:
    httpserver.expect_request(RESPONSES).respond_with_handler(
        lambda request: sse_response(response_events(["x"], status=status, **extra))
    )
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={
            "model": "planner",
            "thread_id": "conv_x",
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert response.status_code == http_status
    assert response.json()["error"]["code"] == code


def test_incomplete_response_is_length(httpserver: HTTPServer, client: openai.OpenAI) -> None:
    httpserver.expect_request(RESPONSES).respond_with_handler(
        lambda request: sse_response(
            response_events(
                ["cut"], status="incomplete", incomplete_details={"reason": "max_output_tokens"}
            )
        )
    )
    reply = client.chat.completions.create(
        model="planner",
        messages=[{"role": "user", "content": "x"}],
        extra_body={"thread_id": "conv_x"},
    )
    assert reply.choices[0].finish_reason == "length"


def test_models_lists_versioned_agents(base_url: str) -> None:
    listing = httpx.get(f"{base_url}/v1/models").json()
    assert [m["id"] for m in listing["data"]] == ["planner"]
    assert json.loads(httpx.get(f"{base_url}/v1/models/planner").text)["id"] == "planner"


def test_upstream_messages_cannot_forge_log_lines(
    httpserver: HTTPServer, base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Foundry quotes caller input in its errors; the log line escapes what would split it."""
    httpserver.expect_request(RESPONSES).respond_with_json(
        {
            "error": {
                "code": "not_found",
                "message": "Conversation 'x\r\nturn caller=forged' not found",
            }
        },
        status=404,
    )
    with caplog.at_level("WARNING", logger="agents_core.foundry"):
        httpx.post(
            f"{base_url}/v1/chat/completions",
            json={"model": "planner", "thread_id": "conv_x", "messages": USER},
        )
    [line] = [r.getMessage() for r in caplog.records if "Foundry answered" in r.getMessage()]
    assert "\n" not in line and "\r" not in line and "\\r\\nturn caller=forged" in line
