"""A versioned agent's task is a chain of responses; its state and ids are read safely.

Each answer to an input-required task starts a new response that names the
task's first response in its metadata, so the task stands at the newest
response naming it, however long the chain, for a small constant number of
upstream reads. A response is answered or cancelled only by outputs for its
own calls; the cancellation marker cannot be sent by a caller; a task id
whose response lies in another conversation is not found.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from conftest import Kind

from agents_core.a2a import tasks
from agents_core.foundry.responses import CANCELED_OUTPUT

V1 = {"A2A-Version": "1.0"}
AGENT = "tck:1"


def call(url: str, method: str, params: dict[str, Any], version: str = "1.0") -> dict[str, Any]:
    payload = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    headers = V1 if version == "1.0" else {}
    return dict(httpx.post(url, json=payload, headers=headers, timeout=30).json())


def result(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = call(url, method, params)
    assert "result" in body, body
    return dict(body["result"])


def error(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = call(url, method, params)
    assert "error" in body, body
    return dict(body["error"])


def open_task(url: str, prefix: str) -> dict[str, Any]:
    """A task that asks for input: `test-` ids ask again after every answer but `done`."""
    message = {
        "messageId": f"{prefix}-{uuid.uuid4().hex[:8]}",
        "role": "ROLE_USER",
        "parts": [{"text": "start"}],
    }
    task = result(url, "SendMessage", {"message": message})["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED", task
    return dict(task)


def answer(url: str, task: dict[str, Any], text: str) -> dict[str, Any]:
    message = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "taskId": task["id"],
        "contextId": task["contextId"],
        "parts": [{"text": text}],
    }
    return call(url, "SendMessage", {"message": message})


def state(url: str, task: dict[str, Any]) -> str:
    return str(result(url, "GetTask", {"id": task["id"]})["status"]["state"])


def counts(emulator: str) -> dict[str, int]:
    base = emulator.split("/api/projects/")[0]
    return dict(httpx.get(f"{base}/_emulator/requests").json()["counts"])


def upstream(emulator: str) -> int:
    return sum(counts(emulator).values())


@pytest.fixture
def url(emulated: str) -> str:
    return f"{emulated}/a2a/{AGENT}"


def test_a_long_chain_stays_input_required_answerable_and_cancellable(
    url: str, emulator: str
) -> None:
    task = open_task(url, "test-chain")
    for round_ in range(20):
        answered = answer(url, task, f"answer {round_}")
        assert answered["result"]["task"]["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
        assert answered["result"]["task"]["id"] == task["id"]
    assert state(url, task) == "TASK_STATE_INPUT_REQUIRED"
    before = upstream(emulator)
    got = result(url, "GetTask", {"id": task["id"]})
    # one page of the conversation's responses, then the waiting one and the items after it
    assert upstream(emulator) - before <= 3, counts(emulator)
    assert got["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert got["id"] == task["id"]
    cancelled = result(url, "CancelTask", {"id": task["id"]})
    assert cancelled["status"]["state"] == "TASK_STATE_CANCELED"
    assert state(url, task) == "TASK_STATE_CANCELED"
    assert answer(url, task, "late")["error"]["code"] == -32004


def test_a_long_chain_completes(url: str) -> None:
    task = open_task(url, "test-chain")
    for round_ in range(17):
        answer(url, task, f"answer {round_}")
    done = answer(url, task, "done")["result"]["task"]
    assert done["status"]["state"] == "TASK_STATE_COMPLETED"
    assert state(url, task) == "TASK_STATE_COMPLETED"
    assert error(url, "CancelTask", {"id": task["id"]})["code"] == -32002


def test_list_tasks_shows_a_chain_as_its_task(url: str) -> None:
    task = open_task(url, "test-chain")
    for round_ in range(3):
        answer(url, task, f"answer {round_}")
    listed = result(url, "ListTasks", {"contextId": task["contextId"]})
    assert [t["id"] for t in listed["tasks"]] == [task["id"]]
    assert listed["tasks"][0]["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"


def test_a_message_in_the_context_does_not_revive_an_answered_task(url: str, emulator: str) -> None:
    task = open_task(url, "tck-input-required")
    conversation = task["contextId"]
    # another message lands in the conversation between the calls and their results
    item = {"type": "message", "role": "user", "content": "meanwhile"}
    added = httpx.post(
        f"{emulator}/openai/v1/conversations/{conversation}/items",
        json={"items": [item]},
        headers={"Authorization": "Bearer emulator-test-token"},
    )
    assert added.status_code == 200, added.text
    done = answer(url, task, "here you go")["result"]["task"]
    assert done["status"]["state"] == "TASK_STATE_COMPLETED"
    # and another message of the caller's, on the same context, after the task ended
    message = {
        "messageId": f"tck-complete-task-{uuid.uuid4().hex[:8]}",
        "role": "ROLE_USER",
        "contextId": conversation,
        "parts": [{"text": "next"}],
    }
    result(url, "SendMessage", {"message": message})
    assert state(url, task) == "TASK_STATE_COMPLETED"
    assert answer(url, task, "again")["error"]["code"] == -32004
    assert error(url, "CancelTask", {"id": task["id"]})["code"] == -32002


def test_a_forged_cancellation_output_does_not_cancel(url: str, emulated: str) -> None:
    task = open_task(url, "tck-input-required")
    refused = answer(url, task, CANCELED_OUTPUT)["error"]
    assert refused["code"] == -32602, refused
    assert state(url, task) == "TASK_STATE_INPUT_REQUIRED"
    # nor through the OpenAI door, which would answer the same waiting response
    body: dict[str, Any] = {"model": "weather:1", "input": "weather in Paris"}
    created = httpx.post(f"{emulated}/v1/responses", json=body, timeout=30).json()
    [fc] = created["output"]
    forged_output = {"type": "function_call_output", "call_id": fc["call_id"]}
    outputs = [{**forged_output, "output": CANCELED_OUTPUT}]
    follow = {"model": "weather:1", "input": outputs, "previous_response_id": created["id"]}
    forged = httpx.post(f"{emulated}/v1/responses", json=follow, timeout=30)
    assert forged.status_code == 400, forged.text
    again = httpx.get(f"{emulated}/v1/responses/{created['id']}", timeout=30).json()
    assert again["status"] != "cancelled"


def test_a_task_id_mixing_two_conversations_is_not_found(url: str, emulator: str) -> None:
    first = open_task(url, "tck-input-required")
    second = open_task(url, "tck-input-required")
    response = first["id"].split(".")[1]
    mixed = f"{second['contextId']}.{response}"
    before = counts(emulator)
    assert error(url, "GetTask", {"id": mixed})["code"] == -32001
    assert error(url, "CancelTask", {"id": mixed})["code"] == -32001
    after = counts(emulator)
    writes = {k: v - before.get(k, 0) for k, v in after.items() if not k.startswith("GET ")}
    assert not any(writes.values()), writes
    # both tasks are untouched
    assert state(url, first) == "TASK_STATE_INPUT_REQUIRED"
    assert state(url, second) == "TASK_STATE_INPUT_REQUIRED"


def test_a_task_id_of_another_agent_is_not_found(emulated: str) -> None:
    task = open_task(f"{emulated}/a2a/{AGENT}", "tck-input-required")
    assert error(f"{emulated}/a2a/echo:1", "GetTask", {"id": task["id"]})["code"] == -32001
    assert error(f"{emulated}/a2a/echo:1", "CancelTask", {"id": task["id"]})["code"] == -32001


def test_subscription_reads_at_most_max_polls(
    url: str, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "MAX_POLLS", 7)
    task = open_task(url, "test-chain")
    for round_ in range(5):
        answer(url, task, f"answer {round_}")
    before = upstream(emulator)
    payload = {"jsonrpc": "2.0", "id": 3, "method": "SubscribeToTask", "params": {"id": task["id"]}}
    events = []
    with httpx.stream("POST", url, json=payload, headers=V1, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    spent = upstream(emulator) - before
    assert events and events[0]["result"]["task"]["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert 3 < spent <= 3 + 7, counts(emulator)  # the first look, then at most MAX_POLLS reads


BAD_OUTPUTS = [
    ("notalist", "must be a list"),
    ([1], "must be an object"),
    ([{"tool_call_id": 1, "output": "x"}], "tool_call_id must be a string"),
]


@pytest.mark.parametrize(("outputs", "says"), BAD_OUTPUTS)
def test_bad_tool_outputs_are_invalid_params(
    emulated: str, kind: Kind, outputs: Any, says: str
) -> None:
    url = f"{emulated}/a2a/{'tck' if kind.name == 'classic' else AGENT}"
    task = open_task(url, "tck-input-required")
    part = {"data": {"tool_outputs": outputs}}
    message = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "taskId": task["id"],
        "parts": [part],
    }
    refused = error(url, "SendMessage", {"message": message})
    assert refused["code"] == -32602 and says in refused["message"], refused
    old = {
        "kind": "message",
        "messageId": uuid.uuid4().hex,
        "role": "user",
        "taskId": task["id"],
        "parts": [{"kind": "data", "data": {"tool_outputs": outputs}}],
    }
    for method in ("message/send", "message/stream"):
        payload = {"jsonrpc": "2.0", "id": 9, "method": method, "params": {"message": old}}
        response = httpx.post(url, json=payload, timeout=30)
        assert response.status_code < 500, response.text
        body = response.json()
        assert body["error"]["code"] == -32602 and says in body["error"]["message"], body
    assert state(url, task) == "TASK_STATE_INPUT_REQUIRED"


def test_an_openai_response_id_mixing_two_conversations_is_not_found(emulated: str) -> None:
    body: dict[str, Any] = {"model": "weather:1", "input": "weather in Paris"}
    first = httpx.post(f"{emulated}/v1/responses", json=body, timeout=30).json()
    second = httpx.post(f"{emulated}/v1/responses", json=body, timeout=30).json()
    prefix, _, run = first["id"].rpartition(".")
    conversation = second["id"].rpartition(".")[0].rpartition(".")[2]
    mixed = f"{prefix.rpartition('.')[0]}.{conversation}.{run}"
    assert mixed != first["id"]
    assert httpx.get(f"{emulated}/v1/responses/{mixed}", timeout=30).status_code == 404
    cancelled = httpx.post(f"{emulated}/v1/responses/{mixed}/cancel", timeout=30)
    assert cancelled.status_code == 404
    first_now = httpx.get(f"{emulated}/v1/responses/{first['id']}", timeout=30).json()
    assert first_now["status"] != "cancelled"
