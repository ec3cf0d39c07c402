"""JSON-RPC ids and error statuses on the A2A route.

Ids are strings or numbers (fractional too), never booleans, and every
error once the body is read, an unexpected one included, answers that id.
0.3 errors travel with HTTP 200, except for the streaming methods, whose
errors carry the status they mirror so clients see no stream.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from agents_core.a2a import tasks


def _rpc(url: str, method: str, params: dict[str, Any], call_id: Any = 1) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": call_id, "method": method, "params": params}
    return httpx.post(url, json=body, timeout=30)


# 2. JSON-RPC ids and error statuses


def test_ids_may_be_any_number_never_a_boolean(emulated: str) -> None:
    url = f"{emulated}/a2a/echo"
    message = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}
    sent = _rpc(url, "SendMessage", {"message": message}, call_id=1.5)
    assert sent.status_code == 200 and sent.json()["id"] == 1.5, sent.text
    assert "result" in sent.json()
    legacy = {"kind": "message", "messageId": "m2", "role": "user", "parts": []}
    legacy["parts"] = [{"kind": "text", "text": "hi"}]
    sent03 = _rpc(url, "message/send", {"message": legacy}, call_id=-2.25)
    assert sent03.json()["id"] == -2.25 and "result" in sent03.json(), sent03.text
    with httpx.stream(
        "POST",
        url,
        json={
            "jsonrpc": "2.0",
            "id": 0.5,
            "method": "message/stream",
            "params": {"message": legacy},
        },
        timeout=30,
    ) as stream:
        assert stream.status_code == 200
        events = [
            json.loads(line.removeprefix("data:"))
            for line in stream.iter_lines()
            if line.startswith("data:")
        ]
    assert events and {event["id"] for event in events} == {0.5}
    assert all("result" in event for event in events)
    for wrong in (True, False, [1], {"a": 1}):
        refused = _rpc(url, "GetTask", {"id": "a.b"}, call_id=wrong)
        assert refused.status_code == 200
        assert (refused.json()["id"], refused.json()["error"]["code"]) == (None, -32600)


def test_an_unexpected_failure_keeps_the_calls_id(
    emulated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(tasks.TaskService, "get", broken)
    url = f"{emulated}/a2a/echo"
    for method, call_id in (("GetTask", 7), ("tasks/get", "seven"), ("GetTask", 7.5)):
        response = _rpc(url, method, {"id": "thread_a.run_b"}, call_id=call_id)
        assert response.status_code == 500
        body = response.json()
        assert (body["id"], body["error"]["code"]) == (call_id, -32603)
        assert "boom" not in response.text
        if method == "GetTask":  # rendered in the caller's version
            assert body["error"]["data"][0]["reason"] == "INTERNAL_ERROR"
        else:
            assert body["error"]["data"]["httpStatus"] == 500


def test_0_3_errors_are_200_except_before_a_stream(emulated: str) -> None:
    """0.3 JSON-RPC answers errors with HTTP 200; a stream refused carries its status."""
    url = f"{emulated}/a2a/echo"
    cases: list[tuple[dict[str, Any], dict[str, str], int]] = [
        ({"params": []}, {}, -32602),  # params not an object
        ({"params": {}}, {}, -32602),  # no message
        ({"params": {"message": {}}}, {"A2A-Version": "9.9"}, -32009),
    ]
    for extra, headers, code in cases:
        for method, status in (("message/send", 200), ("message/stream", 400)):
            body = {"jsonrpc": "2.0", "id": 3, "method": method, **extra}
            response = httpx.post(url, json=body, headers=headers, timeout=30)
            assert (response.status_code, response.json()["error"]["code"]) == (status, code)
            assert response.json()["id"] == 3
    missing = {"jsonrpc": "2.0", "id": 4, "params": {"id": "thread_a.run_b"}}
    got = httpx.post(url, json={**missing, "method": "tasks/get"}, timeout=30)
    assert (got.status_code, got.json()["error"]["code"]) == (200, -32001)
    resubscribed = httpx.post(url, json={**missing, "method": "tasks/resubscribe"}, timeout=30)
    assert (resubscribed.status_code, resubscribed.json()["error"]["code"]) == (404, -32001)
    got10 = httpx.post(url, json={**missing, "method": "GetTask"}, timeout=30)
    assert (got10.status_code, got10.json()["error"]["code"]) == (200, -32001)
