"""What the A2A conformance kit (a2aproject/a2a-tck) checks, over raw HTTP, for both agent kinds.

One test per behaviour the kit found, so CI guards them without the kit.
The `tck` demo agent is scripted by the messageId prefix, as the kit's
scenarios expect.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from conftest import Kind

V1 = {"A2A-Version": "1.0"}


def tck_agent(kind: Kind) -> str:
    return "tck" if kind.name == "classic" else "tck:1"


def message(prefix: str = "tck-complete-task", **fields: Any) -> dict[str, Any]:
    return {
        "messageId": f"{prefix}-{uuid.uuid4().hex[:8]}",
        "role": "ROLE_USER",
        "parts": [{"text": "conformance"}],
        **fields,
    }


def call(url: str, method: str, params: dict[str, Any], **kwargs: Any) -> httpx.Response:
    payload = {"jsonrpc": "2.0", "id": 41, "method": method, "params": params}
    return httpx.post(url, json=payload, headers=kwargs.pop("headers", V1), timeout=30, **kwargs)


def result(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = call(url, method, params).json()
    assert "result" in body, body
    return dict(body["result"])


def error(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = call(url, method, params).json()
    assert body["id"] == 41 and "error" in body, body
    return dict(body["error"])


def completed_task(url: str) -> dict[str, Any]:
    task = result(url, "SendMessage", {"message": message()})["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    return dict(task)


@pytest.fixture
def url(emulated: str, kind: Kind) -> str:
    return f"{emulated}/a2a/{tck_agent(kind)}"


def test_trailing_slash_serves_the_endpoint_and_card_without_redirect(url: str) -> None:
    response = call(f"{url}/", "SendMessage", {"message": message()})
    assert response.status_code == 200
    assert response.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    card = httpx.get(f"{url}/.well-known/agent-card.json", follow_redirects=False)
    assert card.status_code == 200


def test_tck_agent_follows_the_message_id_prefix(url: str) -> None:
    task = result(url, "SendMessage", {"message": message("tck-artifact-text")})["task"]
    assert task["artifacts"][0]["parts"] == [{"text": "Generated text content"}]
    asked = result(url, "SendMessage", {"message": message("tck-input-required")})["task"]
    assert asked["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"


def test_message_id_reaches_foundry_as_metadata(emulated: str, emulator: str) -> None:
    sent = message("tck-complete-task")
    task = result(f"{emulated}/a2a/tck", "SendMessage", {"message": sent})["task"]
    messages = httpx.get(
        f"{emulator}/threads/{task['contextId']}/messages",
        params={"api-version": "v1"},
        headers={"Authorization": "Bearer emulator"},
    ).json()["data"]
    [mine] = [m for m in messages if m["role"] == "user"]
    assert mine["metadata"] == {"a2a_message_id": sent["messageId"]}


def test_unsupported_version_is_32009_and_a_missing_one_is_fine(url: str) -> None:
    refused = call(url, "SendMessage", {"message": message()}, headers={"A2A-Version": "99.0"})
    assert refused.json()["error"]["code"] == -32009
    assert "result" in call(url, "SendMessage", {"message": message()}, headers={}).json()


def test_non_json_content_type_is_32005_before_parsing(url: str) -> None:
    response = httpx.post(url, content=b"{not json", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == -32005


def test_v1_errors_carry_error_info(url: str) -> None:
    failure = error(url, "GetTask", {"id": "thread_nope.run_nope"})
    assert failure["code"] == -32001
    [info] = failure["data"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert (info["reason"], info["domain"]) == ("TASK_NOT_FOUND", "a2a-protocol.org")


def test_message_to_a_terminal_task_is_32004_naming_its_state(url: str) -> None:
    task = completed_task(url)
    followup = message(taskId=task["id"], contextId=task["contextId"])
    failure = error(url, "SendMessage", {"message": followup})
    assert failure["code"] == -32004 and "completed" in failure["message"]


def test_cancel_of_a_terminal_task_is_32002_naming_its_state(url: str) -> None:
    failure = error(url, "CancelTask", {"id": completed_task(url)["id"]})
    assert failure["code"] == -32002 and "completed" in failure["message"]


def test_subscribe_to_a_terminal_task_is_32004(url: str) -> None:
    failure = error(url, "SubscribeToTask", {"id": completed_task(url)["id"]})
    assert failure["code"] == -32004


def test_failed_v03_resubscribe_has_an_http_error_status(url: str) -> None:
    response = call(url, "tasks/resubscribe", {"id": "thread_nope.run_nope"}, headers={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == -32001


def test_list_tasks_of_an_unknown_context_is_an_empty_page(url: str) -> None:
    page = result(url, "ListTasks", {"contextId": "tck-test-context-unknown"})
    assert page == {"tasks": [], "nextPageToken": "", "totalSize": 0, "pageSize": 50}


def test_list_tasks_pages_filters_and_counts(url: str) -> None:
    first = completed_task(url)
    context = {"contextId": first["contextId"]}
    asked = result(url, "SendMessage", {"message": message("tck-input-required", **context)})
    page = result(url, "ListTasks", {**context, "pageSize": 1})
    assert (page["totalSize"], len(page["tasks"])) == (2, 1)
    assert page["tasks"][0]["id"] == asked["task"]["id"]  # most recent first
    rest = result(url, "ListTasks", {**context, "pageSize": 1, "pageToken": page["nextPageToken"]})
    assert [t["id"] for t in rest["tasks"]] == [first["id"]] and rest["nextPageToken"] == ""
    done = result(url, "ListTasks", {**context, "status": "TASK_STATE_COMPLETED"})
    assert [t["id"] for t in done["tasks"]] == [first["id"]]
    assert "artifacts" not in done["tasks"][0]


def test_history_length_is_honoured_on_send_and_get(url: str) -> None:
    params = {"message": message(), "configuration": {"historyLength": 0}}
    task = result(url, "SendMessage", params)["task"]
    assert "history" not in task
    got = result(url, "GetTask", {"id": task["id"], "historyLength": 1})
    assert len(got["history"]) == 1 and got["history"][0]["role"] == "ROLE_AGENT"
    assert "history" not in result(url, "GetTask", {"id": task["id"], "historyLength": 0})
    assert error(url, "GetTask", {"id": task["id"], "historyLength": -1})["code"] == -32602


def test_output_modes_we_cannot_produce_are_32005(url: str) -> None:
    params = {"message": message(), "configuration": {"acceptedOutputModes": ["image/png"]}}
    assert error(url, "SendMessage", params)["code"] == -32005
    params["configuration"] = {"acceptedOutputModes": ["text/plain"]}
    assert result(url, "SendMessage", params)["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


def test_status_timestamp_is_when_the_status_changed(url: str) -> None:
    task = completed_task(url)
    time.sleep(1.1)
    again = result(url, "GetTask", {"id": task["id"]})
    assert again["status"]["timestamp"] == task["status"]["timestamp"]


def test_unauthenticated_errors_keep_the_request_id(start_adapter: Any, emulator: str) -> None:
    from agents_core.__main__ import emulator_registry

    base = start_adapter(registry=emulator_registry(emulator), gateway_api_keys="k")
    response = call(f"{base}/a2a/tck", "GetTask", {"id": "a.b"})
    assert response.status_code == 401
    assert (response.json()["id"], response.json()["error"]["code"]) == (41, -32600)


def test_card_has_cache_control_and_etag(url: str) -> None:
    card = httpx.get(f"{url}/.well-known/agent-card.json")
    assert "max-age=" in card.headers["cache-control"]
    etag = card.headers["etag"]
    again = httpx.get(f"{url}/.well-known/agent-card.json", headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")


def test_return_immediately_answers_at_once_and_the_run_goes_on(url: str, slow_runs: Any) -> None:
    """CORE-EXECUTION-MODE-002: the task before the run ends; GetTask follows it to its end."""
    params = {"message": message(), "configuration": {"returnImmediately": True}}
    with slow_runs(600):
        task = result(url, "SendMessage", params)["task"]
        assert task["status"]["state"] == "TASK_STATE_SUBMITTED"
        assert task["history"][0]["messageId"] == params["message"]["messageId"]
        for _ in range(100):
            got = result(url, "GetTask", {"id": task["id"]})
            if got["status"]["state"] == "TASK_STATE_COMPLETED":
                break
            time.sleep(0.05)
    assert got["status"]["state"] == "TASK_STATE_COMPLETED"
    assert got["artifacts"][0]["parts"] == [{"text": "Hello from TCK"}]


def test_v03_non_blocking_send_can_be_subscribed_to(url: str, slow_runs: Any) -> None:
    params = {
        "message": {
            "kind": "message",
            "messageId": f"tck-complete-task-{uuid.uuid4().hex[:8]}",
            "role": "user",
            "parts": [{"kind": "text", "text": "conformance"}],
        },
        "configuration": {"blocking": False},
    }
    with slow_runs(800):
        task = result(url, "message/send", params)
        assert (task["kind"], task["status"]["state"]) == ("task", "submitted")
        payload = {"jsonrpc": "2.0", "id": 5, "method": "tasks/resubscribe"}
        with httpx.stream("POST", url, json={**payload, "params": {"id": task["id"]}}) as events:
            frames = [line for line in events.iter_lines() if line.startswith("data:")]
    assert '"state":"completed"' in frames[-1].replace(" ", "")
    assert "Hello from TCK" in "".join(frames)


def test_a_working_non_blocking_task_can_be_cancelled(url: str, slow_runs: Any) -> None:
    """Versioned agents too: the run is a background response, cancelled upstream."""
    params = {"message": message(), "configuration": {"returnImmediately": True}}
    with slow_runs(3000):
        task = result(url, "SendMessage", params)["task"]
        canceled = result(url, "CancelTask", {"id": task["id"]})
        assert (canceled["id"], canceled["status"]["state"]) == (task["id"], "TASK_STATE_CANCELED")
        got = result(url, "GetTask", {"id": task["id"]})
    assert got["status"]["state"] == "TASK_STATE_CANCELED"
    assert error(url, "CancelTask", {"id": task["id"]})["code"] == -32002


def test_list_tasks_without_context_lists_the_callers_own(
    start_adapter: Any, emulator: str
) -> None:
    """Classic agents: the conversations the caller started (tagged so), newest first."""
    from agents_core.__main__ import emulator_registry

    base = start_adapter(
        registry=emulator_registry(emulator),
        gateway_api_keys="key-one-0123456789,key-two-0123456789",
    )
    url = f"{base}/a2a/tck"

    def as_caller(key: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        headers = {**V1, "Authorization": f"Bearer {key}"}
        body = call(url, method, params, headers=headers).json()
        assert "result" in body, body
        return dict(body["result"])

    first = as_caller("key-one-0123456789", "SendMessage", {"message": message()})["task"]
    second = as_caller("key-one-0123456789", "SendMessage", {"message": message()})["task"]
    other = as_caller("key-two-0123456789", "SendMessage", {"message": message()})["task"]
    mine = as_caller("key-one-0123456789", "ListTasks", {})
    ids = [task["id"] for task in mine["tasks"]]
    assert second["id"] in ids and first["id"] in ids and other["id"] not in ids
    assert ids.index(second["id"]) < ids.index(first["id"])  # newest first
    assert mine["totalSize"] == len(ids)
    theirs = as_caller("key-two-0123456789", "ListTasks", {"pageSize": 100})
    assert [task["id"] for task in theirs["tasks"]] == [other["id"]]


def test_list_tasks_without_context_is_32004_for_versioned_agents(emulated: str) -> None:
    """Foundry lists threads, not conversations: a versioned agent's tasks are listed by context."""
    failure = error(f"{emulated}/a2a/tck:1", "ListTasks", {})
    assert failure["code"] == -32004 and "contextId" in failure["message"]


def test_client_context_id_naming_no_conversation_is_32602(url: str) -> None:
    """CORE-MULTI-002a: a contextId Foundry did not issue is refused, with no new context."""
    for context in ("tck-client-context-rejected-0a1b2c3d", "thread_nope"):
        failure = error(url, "SendMessage", {"message": message(contextId=context)})
        assert failure["code"] == -32602 and "contextId" in failure["message"]
        assert failure["data"][0]["reason"] == "INVALID_PARAMS"
    sent = message(contextId="tck-client-context-rejected-0a1b2c3d")
    v03 = {"kind": "message", "role": "user", "messageId": sent["messageId"]}
    v03 |= {"contextId": sent["contextId"], "parts": [{"kind": "text", "text": "hi"}]}
    body = call(url, "message/send", {"message": v03}, headers={}).json()
    assert body["error"]["code"] == -32602 and "result" not in body


def only_file_part(task: dict[str, Any], emulated: str) -> dict[str, Any]:
    """The task's one artifact part: a file the agent generated, downloadable from its url."""
    [artifact] = task["artifacts"]
    assert artifact["artifactId"] == "response"
    [part] = artifact["parts"]
    assert (part["filename"], part["mediaType"]) == ("output.txt", "text/plain")
    assert part["url"].startswith(f"{emulated}/v1/files/")
    download = httpx.get(part["url"])
    assert (download.status_code, download.content) == (200, b"demo file output.txt\n")
    return dict(part)


@pytest.mark.parametrize("prefix", ["tck-artifact-file", "tck-artifact-file-url"])
def test_generated_file_is_a_file_part_linking_to_the_download_route(
    url: str, emulated: str, kind: Kind, prefix: str
) -> None:
    """DM-ART-001: a file_path / container_file_citation annotation becomes a url file part."""
    task = result(url, "SendMessage", {"message": message(prefix)})["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    part = only_file_part(task, emulated)
    query = "container_id=" in part["url"]
    assert query == (kind.name == "versioned")  # container files, as the OpenAI front doors link
    got = result(url, "GetTask", {"id": task["id"]})  # the reply read back, annotations and all
    assert got["artifacts"][0]["parts"] == [part]
    listed = result(url, "ListTasks", {"contextId": task["contextId"], "includeArtifacts": True})
    [again] = [each for each in listed["tasks"] if each["id"] == task["id"]]
    assert again["artifacts"][0]["parts"] == [part]
    v03 = {"kind": "message", "role": "user", "messageId": f"{prefix}-v03"}
    v03["parts"] = [{"kind": "text", "text": "file please"}]
    old = call(url, "message/send", {"message": v03}, headers={}).json()["result"]
    [old_part] = old["artifacts"][0]["parts"]
    assert old_part["kind"] == "file"
    assert old_part["file"]["name"] == "output.txt"
    assert old_part["file"]["mimeType"] == "text/plain"
    assert old_part["file"]["uri"].startswith(f"{emulated}/v1/files/")


def test_generated_file_part_is_streamed_when_its_annotation_arrives(
    url: str, emulated: str
) -> None:
    payload = {"jsonrpc": "2.0", "id": 3, "method": "SendStreamingMessage"}
    payload["params"] = {"message": message("tck-artifact-file")}
    with httpx.stream("POST", url, json=payload, headers=V1, timeout=30) as events:
        frames = [
            json.loads(line[5:])["result"]
            for line in events.iter_lines()
            if line.startswith("data:")
        ]
    files = [
        part
        for frame in frames
        if "artifactUpdate" in frame
        for part in frame["artifactUpdate"]["artifact"]["parts"]
        if "url" in part
    ]
    [part] = files
    assert (part["filename"], part["mediaType"]) == ("output.txt", "text/plain")
    assert httpx.get(part["url"]).content == b"demo file output.txt\n"
    assert frames[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"


def test_json_reply_of_a_run_that_asked_for_json_is_a_data_part(url: str) -> None:
    """DM-ART-001: structured output (the run reports a json format) is a data part."""
    task = result(url, "SendMessage", {"message": message("tck-artifact-data")})["task"]
    assert task["artifacts"][0]["parts"] == [{"data": {"key": "value", "count": 42}}]
    got = result(url, "GetTask", {"id": task["id"]})
    assert got["artifacts"][0]["parts"] == [{"data": {"key": "value", "count": 42}}]
    payload = {"jsonrpc": "2.0", "id": 3, "method": "SendStreamingMessage"}
    payload["params"] = {"message": message("tck-artifact-data")}
    with httpx.stream("POST", url, json=payload, headers=V1, timeout=30) as events:
        frames = [
            json.loads(line[5:])["result"]
            for line in events.iter_lines()
            if line.startswith("data:")
        ]
    last = [frame["artifactUpdate"] for frame in frames if "artifactUpdate" in frame][-1]
    assert last["artifact"]["parts"] == [{"data": {"key": "value", "count": 42}}]
    assert last["lastChunk"] is True and not last.get("append")


def test_plain_text_stays_text_when_no_json_was_asked_for(url: str) -> None:
    """A reply that happens to look like JSON is text unless the run asked for JSON."""
    task = result(url, "SendMessage", {"message": message("tck-artifact-text")})["task"]
    assert task["artifacts"][0]["parts"] == [{"text": "Generated text content"}]


def test_file_links_belong_to_their_caller(start_adapter: Any, emulator: str, kind: Kind) -> None:
    from agents_core.__main__ import emulator_registry

    base = start_adapter(
        registry=emulator_registry(emulator),
        gateway_api_keys="one=key-one-0123456789,two=key-two-0123456789",
    )
    headers = {**V1, "Authorization": "Bearer key-one-0123456789"}
    body = call(
        f"{base}/a2a/{tck_agent(kind)}",
        "SendMessage",
        {"message": message("tck-artifact-file")},
        headers=headers,
    ).json()
    [part] = body["result"]["task"]["artifacts"][0]["parts"]
    mine = httpx.get(part["url"], headers={"Authorization": "Bearer key-one-0123456789"})
    assert mine.content == b"demo file output.txt\n"
    theirs = httpx.get(part["url"], headers={"Authorization": "Bearer key-two-0123456789"})
    assert theirs.status_code == 404


def input_required_task(url: str, **fields: Any) -> dict[str, Any]:
    task = result(url, "SendMessage", {"message": message("tck-input-required", **fields)})["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    return dict(task)


def test_an_input_required_task_can_be_cancelled(url: str) -> None:
    """CORE-CANCEL-001, both kinds: a versioned agent's waiting calls are answered as cancelled."""
    task = input_required_task(url)
    canceled = result(url, "CancelTask", {"id": task["id"]})
    assert (canceled["id"], canceled["status"]["state"]) == (task["id"], "TASK_STATE_CANCELED")
    got = result(url, "GetTask", {"id": task["id"]})
    assert got["status"]["state"] == "TASK_STATE_CANCELED"
    assert error(url, "CancelTask", {"id": task["id"]})["code"] == -32002
    answer = message(taskId=task["id"], contextId=task["contextId"])
    assert error(url, "SendMessage", {"message": answer})["code"] == -32004
    outputs = [{"tool_call_id": "call_x", "output": "late"}]
    answer["parts"] = [{"data": {"tool_outputs": outputs}}]
    assert error(url, "SendMessage", {"message": message(**answer)})["code"] in (-32004, -32602)
    # the conversation goes on after the cancelled calls
    later = result(url, "SendMessage", {"message": message(contextId=task["contextId"])})["task"]
    assert later["status"]["state"] == "TASK_STATE_COMPLETED"


def test_an_answered_task_keeps_its_id_through_the_continuation(url: str) -> None:
    """A versioned agent's results go to a new response; the task is still the same task."""
    task = input_required_task(url)
    answer = message(taskId=task["id"], contextId=task["contextId"])
    done = result(url, "SendMessage", {"message": answer})["task"]
    assert (done["id"], done["status"]["state"]) == (task["id"], "TASK_STATE_COMPLETED")
    assert done["history"][0]["taskId"] == task["id"]
    got = result(url, "GetTask", {"id": task["id"]})
    assert got["status"]["state"] == "TASK_STATE_COMPLETED"
    assert got["artifacts"][0]["parts"] == [{"text": "Hello from TCK"}]
    assert error(url, "SendMessage", {"message": message(taskId=task["id"])})["code"] == -32004


def test_a_subscription_ends_when_the_task_it_follows_completes(url: str) -> None:
    """STREAM-SUB-002, both kinds: the answer arrives from another request."""
    task = input_required_task(url)
    payload = {"jsonrpc": "2.0", "id": 9, "method": "SubscribeToTask", "params": {"id": task["id"]}}
    with httpx.stream("POST", url, json=payload, headers=V1, timeout=30) as events:
        lines = events.iter_lines()
        first = next(line for line in lines if line.startswith("data:"))
        assert json.loads(first[5:])["result"]["task"]["id"] == task["id"]
        answer = message(taskId=task["id"])
        assert "result" in call(url, "SendMessage", {"message": answer}).json()
        frames = [json.loads(line[5:])["result"] for line in lines if line.startswith("data:")]
    last = frames[-1]["statusUpdate"]
    assert (last["taskId"], last["status"]["state"]) == (task["id"], "TASK_STATE_COMPLETED")


def test_v03_part_without_a_kind_is_32602(url: str) -> None:
    """The 0.3 schema requires each part's `kind`: a part without one is invalid params."""
    sent = {"kind": "message", "role": "user", "messageId": "m-kindless"}
    sent["parts"] = [{"type": "unsupported_type", "text": "no kind"}]
    body = call(url, "message/send", {"message": sent}, headers={}).json()
    assert body["error"]["code"] == -32602 and "kind" in body["error"]["message"]


def v03(message_id: str, text: str = "Hello from TCK!", **fields: Any) -> dict[str, Any]:
    parts = [{"kind": "text", "text": text}]
    return {"kind": "message", "role": "user", "messageId": message_id, "parts": parts, **fields}


def v03_result(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = call(url, method, params, headers={}).json()
    assert "result" in body, body
    return dict(body["result"])


def test_v03_kit_tasks_stay_open_for_more_messages_and_cancel(url: str) -> None:
    """The 0.3 kit's flows: plain messages open tasks it continues, reads back and cancels."""
    opened = v03_result(url, "message/send", {"message": v03("test-history-create-message-id-1")})
    assert opened["status"]["state"] == "input-required"
    for index in range(3):
        answer = v03(f"test-history-message-{index}", f"Follow-up {index}", taskId=opened["id"])
        again = v03_result(url, "message/send", {"message": answer})
        assert (again["id"], again["status"]["state"]) == (opened["id"], "input-required")
    got = v03_result(url, "tasks/get", {"id": opened["id"], "historyLength": 2})
    assert 1 <= len(got["history"]) <= 2 and got["history"][-1]["role"] == "agent"
    done = v03_result(url, "message/send", {"message": v03("m-done", "done", taskId=opened["id"])})
    assert (done["id"], done["status"]["state"]) == (opened["id"], "completed")

    to_cancel = v03_result(url, "message/send", {"message": v03("cancel-test-message-id-1")})
    canceled = v03_result(url, "tasks/cancel", {"id": to_cancel["id"]})
    assert (canceled["id"], canceled["status"]["state"]) == (to_cancel["id"], "canceled")
    body = call(url, "tasks/cancel", {"id": to_cancel["id"]}, headers={}).json()
    assert body["error"]["code"] == -32002
