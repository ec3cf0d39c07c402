"""Hostile ids at every door that takes one: refused, and no upstream request is made.

Ids are checked against their grammar where they enter; the Foundry
transport refuses any URL path that is not made of plain segments, as the
last line.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from agents_core.errors import InvalidRequest
from agents_core.foundry.transport import Project, Transport

HOSTILE = [
    "../../x",
    "thread_a/../../otherproj/threads/runs#",
    "a\r\nb",
    "a%2F..%2Fb",
    "a?b=c",
    "a#b",
    "a b",
    ".",
]


@pytest.mark.parametrize(
    "path",
    [
        "/threads/../x/runs",
        "/threads//runs",
        "/threads/a%2Fb",
        "/threads/a?b",
        "/threads/a#b",
        "/threads/a\r\nb",
        "/threads/.",
        "/threads/a b",
        "threads/a",
        "/",
    ],
)
async def test_the_transport_sends_only_plain_segments(path: str) -> None:
    sent: list[httpx.Request] = []
    upstream = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))
    transport = Transport(upstream, "v1", 1.0)
    project = Project("https://example.services.ai.azure.com/api/projects/p", "token")
    with pytest.raises(InvalidRequest) as raised:
        transport.build(project, "GET", path)
    assert raised.value.status_code == 400 and raised.value.code == "invalid_request"
    good = transport.build(project, "POST", "/threads/thread_1/runs/run_2:cancel")
    assert good.url.path.endswith("/threads/thread_1/runs/run_2:cancel")
    assert not sent
    await upstream.aclose()


def upstream_requests(emulator: str) -> int:
    base = emulator.split("/api/projects/")[0]
    return sum(httpx.get(f"{base}/_emulator/requests").json()["counts"].values())


def chat(body: dict[str, Any]) -> dict[str, Any]:
    return {"model": "echo", "messages": [{"role": "user", "content": "hi"}], **body}


def tool_answer(call_id: str) -> dict[str, Any]:
    call = {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}
    return {
        "model": "tools",
        "messages": [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": "x"},
        ],
    }


def a2a(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def message(**ids: str) -> dict[str, Any]:
    return {
        "message": {
            "kind": "message",
            "messageId": uuid.uuid4().hex,
            "role": "user",
            "parts": [{"kind": "text", "text": "hi"}],
            **ids,
        }
    }


Door = Callable[[str], tuple[str, str, Any]]
DOORS: dict[str, Door] = {
    "chat thread_id": lambda bad: ("POST", "/v1/chat/completions", chat({"thread_id": bad})),
    "chat model": lambda bad: ("POST", "/v1/chat/completions", {**chat({}), "model": bad}),
    "chat agent id": lambda bad: (
        "POST",
        "/v1/chat/completions",
        {**chat({}), "model": f"azure_ai/agents/{bad}"},
    ),
    "chat tool_call_id": lambda bad: (
        "POST",
        "/v1/chat/completions",
        tool_answer(f"call_1.{bad}.run_1"),
    ),
    "responses previous_response_id": lambda bad: (
        "POST",
        "/v1/responses",
        {"model": "echo", "input": "hi", "previous_response_id": f"resp_ZWNobw.{bad}.run_1"},
    ),
    "responses conversation": lambda bad: (
        "POST",
        "/v1/responses",
        {"model": "echo", "input": "hi", "conversation": bad},
    ),
    "responses item reference": lambda bad: (
        "POST",
        "/v1/responses",
        {"model": "echo", "input": [{"type": "item_reference", "id": f"msg_{bad}.run_1"}]},
    ),
    "responses function_call_output": lambda bad: (
        "POST",
        "/v1/responses",
        {
            "model": "echo",
            "input": [{"type": "function_call_output", "call_id": bad, "output": "x"}],
        },
    ),
    "responses get": lambda bad: ("GET", f"/v1/responses/{quote(bad, safe='')}", None),
    "responses cancel": lambda bad: ("POST", f"/v1/responses/{quote(bad, safe='')}/cancel", None),
    "file id": lambda bad: ("GET", f"/v1/files/{quote(bad, safe='')}/content?model=echo", None),
    "container id": lambda bad: (
        "GET",
        f"/v1/files/cfile_1/content?model=echo&container_id={quote(bad, safe='')}",
        None,
    ),
    "a2a contextId": lambda bad: ("POST", "/a2a/echo", a2a("message/send", message(contextId=bad))),
    "a2a taskId": lambda bad: (
        "POST",
        "/a2a/echo",
        a2a("message/send", message(taskId=f"{bad}.run_1")),
    ),
    "a2a tasks/get": lambda bad: ("POST", "/a2a/echo", a2a("tasks/get", {"id": bad})),
    "a2a tasks/cancel": lambda bad: ("POST", "/a2a/echo", a2a("tasks/cancel", {"id": bad})),
    "a2a tasks/resubscribe": lambda bad: (
        "POST",
        "/a2a/echo",
        a2a("tasks/resubscribe", {"id": bad}),
    ),
    "a2a ListTasks": lambda bad: ("POST", "/a2a/echo", a2a("ListTasks", {"contextId": bad})),
}


@pytest.mark.parametrize("door", sorted(DOORS))
def test_hostile_ids_never_reach_the_upstream(emulated: str, emulator: str, door: str) -> None:
    with httpx.Client(base_url=emulated, timeout=30) as http:
        for bad in HOSTILE:
            method, path, body = DOORS[door](bad)
            before = upstream_requests(emulator)
            response = http.request(method, path, json=body)
            assert upstream_requests(emulator) == before, (door, bad, response.text)
            if path.startswith("/a2a/"):
                answer = response.json()
                refused = "error" in answer or answer["result"].get("tasks") == []
                assert refused, (door, bad, response.text)  # ListTasks: no such conversation
            else:
                assert response.status_code in (400, 404, 405), (door, bad, response.text)
