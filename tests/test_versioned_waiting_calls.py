"""A versioned response that ended with function calls waits for their results.

Foundry keeps no such state: the response is `completed` upstream, with
`function_call` output items. The adapter reads the conversation: results
right after the response's output mean the calls were answered; results that
are the cancellation marker mean the caller cancelled the wait.
"""

from __future__ import annotations

from typing import Any

import httpx


def test_cancelling_a_response_that_waits_for_function_results(emulated: str) -> None:
    body: dict[str, Any] = {"model": "weather:1", "input": "weather in Paris"}
    created = httpx.post(f"{emulated}/v1/responses", json=body, timeout=30).json()
    assert [item["type"] for item in created["output"]] == ["function_call"]
    cancelled = httpx.post(f"{emulated}/v1/responses/{created['id']}/cancel", timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = httpx.get(f"{emulated}/v1/responses/{created['id']}", timeout=30).json()
    assert again["status"] == "cancelled"
    # the conversation goes on: the next turn is not refused for the unanswered call
    follow = {"model": "weather:1", "input": "thanks", "previous_response_id": created["id"]}
    answered = httpx.post(f"{emulated}/v1/responses", json=follow, timeout=30)
    assert answered.status_code == 200, answered.text


def test_an_answered_response_reads_completed(emulated: str) -> None:
    body: dict[str, Any] = {"model": "weather:1", "input": "weather in Paris"}
    created = httpx.post(f"{emulated}/v1/responses", json=body, timeout=30).json()
    [call] = created["output"]
    outputs = [{"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]
    follow = {"model": "weather:1", "input": outputs, "previous_response_id": created["id"]}
    answered = httpx.post(f"{emulated}/v1/responses", json=follow, timeout=30)
    assert answered.status_code == 200, answered.text
    first = httpx.get(f"{emulated}/v1/responses/{created['id']}", timeout=30).json()
    assert first["status"] == "completed"
    assert [item["type"] for item in first["output"]] == ["function_call"]
