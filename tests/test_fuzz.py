"""Generated bad requests: never a 5xx, never a stack trace, always the documented error shape."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
CHAT_KEYS = [
    "model",
    "messages",
    "stream",
    "thread_id",
    "instructions",
    "temperature",
    "top_p",
    "max_tokens",
    "tools",
    "tool_choice",
    "response_format",
    "metadata",
    "n",
    "stop",
    "stream_options",
    "api_base",
    "user",
]
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool", "robot", 3])},
    optional={"content": json_values, "tool_calls": json_values, "tool_call_id": json_values},
)
chat_bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(CHAT_KEYS), json_values, max_size=6),
    st.fixed_dictionaries(
        {
            "model": st.sampled_from(["echo", "nope", "azure_ai/agents/", ""]),
            "messages": st.lists(message, max_size=3),
        },
        optional={key: json_values for key in CHAT_KEYS[2:]},
    ),
)
A2A_METHODS = [
    "message/send",
    "message/stream",
    "tasks/get",
    "tasks/cancel",
    "SendMessage",
    "GetTask",
    "CancelTask",
    "ListTasks",
    "SubscribeToTask",
    "bogus",
]
a2a_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"jsonrpc": st.sampled_from(["2.0", "1.0", 2]), "method": st.sampled_from(A2A_METHODS)},
        optional={"id": json_values, "params": json_values},
    ),
    st.fixed_dictionaries(
        {
            "jsonrpc": st.just("2.0"),
            "id": st.integers(),
            "method": st.sampled_from(A2A_METHODS),
            "params": st.fixed_dictionaries(
                {}, optional={"id": json_values, "message": json_values, "contextId": json_values}
            ),
        },
    ),
)
FUZZ = settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def http() -> httpx.Client:
    with httpx.Client(timeout=30) as client:
        yield client  # type: ignore[misc]


def encode(body: Any) -> bytes:
    return json.dumps(body).encode()


@FUZZ
@given(body=chat_bodies | st.binary(max_size=64).map(lambda b: {"raw": b}))
def test_chat_completions_rejects_garbage_cleanly(
    emulated: str, http: httpx.Client, body: Any
) -> None:
    content = (
        body["raw"]
        if isinstance(body, dict) and isinstance(body.get("raw"), bytes)
        else encode(body)
    )
    response = http.post(
        f"{emulated}/v1/chat/completions",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert {"message", "type", "code", "param", "request_id"} <= set(error)
        assert error["message"]


@FUZZ
@given(body=a2a_bodies)
def test_a2a_rejects_garbage_cleanly(emulated: str, http: httpx.Client, body: Any) -> None:
    response = http.post(
        f"{emulated}/a2a/echo", content=encode(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text
    if response.headers["content-type"].startswith("application/json"):
        reply = response.json()
        assert reply["jsonrpc"] == "2.0"
        assert ("result" in reply) != ("error" in reply)
        if "error" in reply:
            assert isinstance(reply["error"]["code"], int) and reply["error"]["message"]
