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
    # JSON-RPC errors travel with HTTP 200, except where the status mirrors the error
    # (0.3 streaming methods); never an unhandled 500.
    assert response.status_code != 500, response.text
    assert "Traceback" not in response.text
    if response.status_code != 200 or response.headers["content-type"].startswith(
        "application/json"
    ):
        reply = response.json()
        assert reply["jsonrpc"] == "2.0"
        assert ("result" in reply) != ("error" in reply)
        if "error" in reply:
            assert isinstance(reply["error"]["code"], int) and reply["error"]["message"]


# Crafted values that parse as JSON but cannot be encoded again: a lone surrogate, a number
# that overflows to infinity, nesting 1,000 deep; and bad base64 where A2A expects bytes.
crafted = st.sampled_from(
    [
        '"\\ud800"',
        '"a\\udfffb"',
        '{"\\udc00": 1}',
        "1e400",
        "-1e999",
        "[" * 1000 + "]" * 1000,
        '{"a": ' * 1000 + "1" + "}" * 1000,
    ]
)
CHAT_SLOTS = [
    '{{"model": "echo", "messages": [{{"role": "user", "content": {0}}}]}}',
    '{{"model": "echo", "messages": [{{"role": "user", "content": "hi"}}], "metadata": {0}}}',
    '{{"model": "echo", "messages": [{{"role": "user", "content": "hi"}}], "response_format": '
    '{{"type": "json_schema", "json_schema": {{"name": "x", "schema": {{"a": {0}}}}}}}}}',
    '{{"model": "echo", "messages": [{{"role": "user", "content": "hi"}}], "tools": [{{"type": '
    '"function", "function": {{"name": "f", "parameters": {{"p": {0}}}}}}}]}}',
    '{{"model": {0}, "messages": []}}',
]
A2A_SLOTS = [
    '{{"kind": "text", "text": {0}}}',
    '{{"kind": "data", "data": {{"v": {0}}}}}',
    '{{"kind": "file", "file": {{"bytes": {0}, "mimeType": "image/png"}}}}',
    '{{"text": {0}}}',
    '{{"data": {{"v": {0}}}}}',
    '{{"raw": {0}, "mediaType": "image/png"}}',
]
bad_base64 = st.sampled_from(['"!!!notbase64"', '"abc"', '"===="', '"a b c d"'])


@FUZZ
@given(slot=st.sampled_from(CHAT_SLOTS), value=crafted)
def test_crafted_chat_bodies_are_400_never_5xx(
    emulated: str, http: httpx.Client, slot: str, value: str
) -> None:
    response = http.post(
        f"{emulated}/v1/chat/completions",
        content=slot.format(value).encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


@FUZZ
@given(
    slot=st.sampled_from(A2A_SLOTS),
    value=crafted | bad_base64,
    method=st.sampled_from(["message/send", "SendMessage"]),
)
def test_crafted_a2a_bodies_are_json_rpc_errors(
    emulated: str, http: httpx.Client, slot: str, value: str, method: str
) -> None:
    role = '"user"' if method == "message/send" else '"ROLE_USER"'
    kind = '"kind": "message", ' if method == "message/send" else ""
    body = (
        f'{{"jsonrpc": "2.0", "id": 3, "method": "{method}", "params": {{"message": {{{kind}'
        f'"messageId": "m", "role": {role}, "parts": [{slot.format(value)}]}}}}}}'
    )
    response = http.post(
        f"{emulated}/a2a/echo", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    reply = response.json()
    assert reply["jsonrpc"] == "2.0"
    if "result" in reply:  # harmless where the value is never decoded (e.g. short valid base64)
        return
    assert isinstance(reply["error"]["code"], int) and reply["error"]["message"]
