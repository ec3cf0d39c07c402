"""Bad requests get a clear OpenAI-shaped error and never reach the upstream."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from fakes import ENDPOINT_PATH


@pytest.fixture
def base_url(httpserver: HTTPServer, start_adapter: Any) -> str:
    return str(
        start_adapter(project_endpoint=httpserver.url_for(ENDPOINT_PATH), max_body_bytes=4096)
    )


def post(
    base_url: str, body: Any = None, content: bytes | None = None, **headers: str
) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        json=body if content is None else None,
        content=content,
        headers={"content-type": "application/json", **headers},
    )


USER = [{"role": "user", "content": "hi"}]
MODEL = "azure_ai/agents/asst_x"


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"messages": USER}, "model", "model"),
        ({"model": MODEL}, "messages", "messages"),
        ({"model": MODEL, "messages": []}, "messages", "messages"),
        ({"model": MODEL, "messages": "hi"}, "messages", "messages"),
        ({"model": 3, "messages": USER}, "model", "model"),
        ({"model": MODEL, "messages": USER, "n": 2}, "n", "n"),
        ({"model": MODEL, "messages": USER, "logprobs": True}, "logprobs", "logprobs"),
        ({"model": MODEL, "messages": USER, "stop": ["x"]}, "stop", "unsupported value for 'stop'"),
        (
            {"model": MODEL, "messages": USER, "tools": [{"type": "code_interpreter"}]},
            "tools[0].type",
            "tools[0].type",
        ),
        (
            {"model": MODEL, "messages": USER, "api_base": "https://evil.example"},
            "api_base",
            "configuration only",
        ),
        ({"model": MODEL, "messages": USER, "api_key": "x"}, "api_key", "configuration only"),
        ({"model": MODEL, "messages": USER, "temperature": 3}, "temperature", "temperature"),
        ({"model": MODEL, "messages": USER, "stream": "yes"}, "stream", "stream"),
        (
            {"model": MODEL, "messages": [{"role": "tool", "content": "x", "tool_call_id": "c"}]},
            "messages[0]",
            "must follow the assistant message",
        ),
        (
            {
                "model": MODEL,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}
                        ],
                    }
                ],
            },
            "messages[0].content[0]",
            "'input_audio' is not supported",
        ),
        (
            {
                "model": MODEL,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
                    }
                ],
            },
            "messages[0].content[0]",
            "https://",
        ),
        (
            {
                "model": MODEL,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "data:image/svg+xml;base64,AAAA"},
                            }
                        ],
                    }
                ],
            },
            "messages[0].content[0]",
            "image/png",
        ),
        (
            {"model": MODEL, "messages": [{"role": "system", "content": "only system"}]},
            "messages",
            "user message",
        ),
        ({"model": MODEL, "messages": USER, "thread_id": "../../etc"}, "thread_id", "thread_id"),
        (
            {"model": MODEL, "messages": USER, "metadata": {str(i): "v" for i in range(17)}},
            "metadata",
            "16",
        ),
    ],
)
def test_invalid_bodies_are_400_naming_the_parameter(
    httpserver: HTTPServer, base_url: str, body: dict[str, Any], param: str, words: str
) -> None:
    response = post(base_url, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert words in error["message"]
    assert "Traceback" not in response.text
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"\xff\xfe", "UTF-8"),
        (b"[1, 2]", "object"),
    ],
)
def test_malformed_bodies_are_400(base_url: str, content: bytes, words: str) -> None:
    response = post(base_url, content=content)
    assert response.status_code == 400
    assert words in response.json()["error"]["message"]


def test_oversized_body_is_413(httpserver: HTTPServer, base_url: str) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 5000}]}
    response = post(base_url, body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert httpserver.log == []


def test_oversized_chunked_body_is_413_without_content_length(base_url: str) -> None:
    def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1000

    response = httpx.post(f"{base_url}/v1/chat/completions", content=chunks())
    assert response.status_code == 413


def test_unknown_model_is_404_model_not_found(httpserver: HTTPServer, base_url: str) -> None:
    response = post(base_url, {"model": "gpt-4o", "messages": USER})
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("model_not_found", "model")
    assert "azure_ai/agents/<AGENT_ID>" in error["message"]
    assert httpserver.log == []


def test_conflicting_thread_ids_are_rejected(base_url: str) -> None:
    response = post(
        base_url,
        {"model": MODEL, "messages": USER, "thread_id": "thread_a"},
        **{"x-thread-id": "thread_b"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "thread_id"


def test_unknown_routes_and_methods_are_json_errors(base_url: str) -> None:
    missing = httpx.get(f"{base_url}/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "route_not_found"
    wrong = httpx.get(f"{base_url}/v1/chat/completions")
    assert wrong.status_code == 405 and "not allowed" in wrong.json()["error"]["message"]


def test_models_lists_configured_aliases(start_adapter: Any, tmp_path: Any) -> None:
    config = tmp_path / "agents.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: support\n    litellm_params:\n      model: azure_ai/agents/asst_a\n"
        "      api_base: https://res.services.ai.azure.com/api/projects/p\n      api_key: tok\n"
        "  - model_name: gpt\n    litellm_params:\n      model: azure/gpt-4o\n"
    )
    base_url = start_adapter(agents_config=config)
    listing = httpx.get(f"{base_url}/v1/models").json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["support"]
    assert httpx.get(f"{base_url}/v1/models/support").json()["id"] == "support"
    assert httpx.get(f"{base_url}/v1/models/other").status_code == 404


@pytest.mark.parametrize(
    "model", ["azure_ai/agents/..", "azure_ai/agents/a/b", "azure_ai/agents/%2e%2e"]
)
def test_agent_ids_cannot_reach_other_upstream_paths(
    httpserver: HTTPServer, base_url: str, model: str
) -> None:
    response = post(base_url, {"model": model, "messages": USER})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert httpserver.log == []


def test_an_earlier_reply_sent_back_as_is_is_accepted(
    httpserver: HTTPServer, start_adapter: Any
) -> None:
    """The OpenAI SDK's `messages.append(reply.choices[0].message)` echoes annotations back."""
    from pydantic import SecretStr

    from agents_core.config import AgentRegistry, Credential

    from fakes import run_events, sse_response

    endpoint = httpserver.url_for(ENDPOINT_PATH)
    base_url = start_adapter(
        registry=AgentRegistry({}, endpoint, Credential("token", token=SecretStr("t")))
    )

    httpserver.expect_request(f"{ENDPOINT_PATH}/threads/thread_1/runs").respond_with_handler(
        lambda request: sse_response(run_events(["ok"], thread_id="thread_1", new_thread=False))
    )
    previous = {
        "role": "assistant",
        "content": "Paris",
        "refusal": None,
        "annotations": [{"type": "url_citation", "url_citation": {"url": "https://x"}}],
        "audio": None,
        "function_call": None,
    }
    response = post(
        base_url,
        {
            "model": MODEL,
            "thread_id": "thread_1",
            "messages": [*USER, previous, {"role": "user", "content": "more"}],
        },
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"max_tokens": 10**30}, "max_tokens", "less than or equal"),
        ({"max_completion_tokens": 2**31}, "max_completion_tokens", "less than or equal"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "schema": "x"},
                }
            },
            "response_format.json_schema",
            "JSON Schema object",
        ),
    ],
)
def test_values_the_service_would_refuse_are_400s_here(
    httpserver: HTTPServer, base_url: str, body: dict[str, Any], param: str, words: str
) -> None:
    response = post(base_url, {"model": MODEL, "messages": USER, **body})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert words in response.json()["error"]["message"]
    assert httpserver.log == []


def test_an_integer_with_thousands_of_digits_is_a_plain_400(
    httpserver: HTTPServer, start_adapter: Any
) -> None:
    base = start_adapter(project_endpoint=httpserver.url_for(ENDPOINT_PATH))
    raw = '{"model": "m", "messages": [], "max_tokens": ' + "9" * 5000 + "}"
    response = httpx.post(
        f"{base}/v1/chat/completions",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "too many digits" in message and "sys." not in message
