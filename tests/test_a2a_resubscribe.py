"""`tasks/resubscribe` polls its run with a back-off, a bounded number of times per request."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from agents_core.a2a import tasks

SlowRuns = Callable[[float], AbstractContextManager[None]]


def run_reads(emulator: str) -> int:
    base = emulator.split("/api/projects/")[0]
    counts = httpx.get(f"{base}/_emulator/requests").json()["counts"]
    return int(counts.get("GET /threads/{thread_id}/runs/{run_id}", 0))


def start_task(base: str, agent: str = "echo", message_id: str = "") -> str:
    message = {
        "kind": "message",
        "messageId": message_id or uuid.uuid4().hex,
        "role": "user",
        "parts": [{"kind": "text", "text": "hi"}],
    }
    params = {"message": message, "configuration": {"blocking": False}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": params}
    answer = httpx.post(f"{base}/a2a/{agent}", json=body, timeout=30).json()
    return str(answer["result"]["id"])


def resubscribe(base: str, task_id: str, agent: str = "echo") -> list[dict[str, Any]]:
    body = {"jsonrpc": "2.0", "id": 2, "method": "tasks/resubscribe", "params": {"id": task_id}}
    events = []
    with httpx.stream("POST", f"{base}/a2a/{agent}", json=body, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    return events


def test_resubscribe_polling_backs_off(emulated: str, emulator: str, slow_runs: SlowRuns) -> None:
    with slow_runs(8000):
        task_id = start_task(emulated)
        before = run_reads(emulator)
        events = resubscribe(emulated, task_id)
    assert events[-1]["result"]["status"]["state"] == "completed"
    # Every 0.5 s would be about 16 reads over the run; backing off reads about half as often.
    assert run_reads(emulator) - before <= 10, run_reads(emulator) - before


def test_resubscribe_reads_a_bounded_number_of_times(
    emulated: str, emulator: str, slow_runs: SlowRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "MAX_POLLS", 2)
    with slow_runs(5000):
        task_id = start_task(emulated)
        before = run_reads(emulator)
        events = resubscribe(emulated, task_id)  # ends with the task still open
        assert run_reads(emulator) - before == 3  # the first read, then MAX_POLLS polls
    assert events and events[-1]["result"].get("status", {}).get("state") != "completed"


def test_resubscribe_ends_with_the_generated_file_of_a_classic_run(
    emulated: str, slow_runs: SlowRuns
) -> None:
    """The final artifact is read back from the run's messages, with the file annotation."""
    with slow_runs(1500):
        task_id = start_task(emulated, "tck", f"tck-artifact-file-{uuid.uuid4().hex[:8]}")
        events = [event["result"] for event in resubscribe(emulated, task_id, "tck")]
    assert events[-1]["status"]["state"] == "completed"
    [update] = [event for event in events if event.get("kind") == "artifact-update"]
    [part] = update["artifact"]["parts"]
    assert part["kind"] == "file"
    assert (part["file"]["name"], part["file"]["mimeType"]) == ("output.txt", "text/plain")
    assert part["file"]["uri"].startswith(f"{emulated}/v1/files/")
    download = httpx.get(part["file"]["uri"])
    assert (download.status_code, download.content) == (200, b"demo file output.txt\n")
    body = {"jsonrpc": "2.0", "id": 3, "method": "tasks/get", "params": {"id": task_id}}
    got = httpx.post(f"{emulated}/a2a/tck", json=body, timeout=30).json()["result"]
    assert got["artifacts"][0]["parts"] == [part]
