"""Chat completions end to end: the openai SDK → adapter → Foundry emulator.

Every test runs for both kinds of agent (classic threads/runs and versioned
Responses API). Also the upstream faults the adapter must survive, injected
with the emulator's fault knobs, and the upstream request count per turn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from conftest import Kind

from agents_core.__main__ import emulator_registry

USER = [{"role": "user", "content": "My name is Ada"}]


def client_for(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="local", max_retries=0)


def control(emulator: str) -> str:
    return emulator.split("/api/projects/")[0] + "/_emulator"


def counts(emulator: str) -> dict[str, int]:
    return dict(httpx.get(f"{control(emulator)}/requests").json()["counts"])


def fault(emulator: str, kind: str, **extra: Any) -> None:
    response = httpx.post(f"{control(emulator)}/faults", json={"kind": kind, **extra})
    assert response.status_code == 200, response.text


def assert_cancelled(emulator: str, kind: Kind, thread_id: str) -> None:
    """The abandoned turn stopped upstream.

    Classic: the run was cancelled (`POST .../cancel`). Versioned: closing the
    stream stopped the (non-background) response, which the emulator records as
    `cancelled`, read back through the conversation's responses listing.
    """
    assert thread_id.startswith(kind.conversation_prefix)
    if kind.cancel_route is not None:
        route = kind.cancel_route
        assert wait_for(lambda: counts(emulator).get(route, 0) == 1)
        return

    def stopped() -> bool:
        listing = httpx.get(
            f"{emulator}/openai/v1/responses",
            params={"conversation_id": thread_id},
            headers={"Authorization": "Bearer emulator"},
        ).json()
        return [r["status"] for r in listing["data"]][:1] == ["cancelled"]

    assert wait_for(stopped)


def first_thread_id(lines: list[str]) -> str:
    return str(json.loads(lines[0].removeprefix("data: "))["thread_id"])


def wait_for(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_conversation_continues_through_thread_id(emulated: str, emulator: str, kind: Kind) -> None:
    client = client_for(emulated)
    first = client.chat.completions.create(model=kind.echo, messages=USER)  # type: ignore[arg-type]
    thread_id = first.model_extra["thread_id"] if first.model_extra else None
    assert thread_id and thread_id.startswith(kind.conversation_prefix)
    second = client.chat.completions.create(
        model=f"azure_ai/agents/{'asst_echo' if kind.name == 'classic' else 'echo:1'}",
        messages=[{"role": "user", "content": "What is my name?"}],
        extra_body={"thread_id": thread_id},
    )
    assert second.choices[0].message.content == "Your name is Ada."
    assert second.usage is not None and second.usage.completion_tokens > 0
    stream = client.chat.completions.create(
        model=kind.echo,
        messages=[{"role": "user", "content": "What is my name?"}],
        extra_body={"thread_id": thread_id},
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == (
        "Your name is Ada."
    )
    # One upstream request per turn; a new versioned conversation costs one more.
    expected = (
        {kind.new_route: 1, kind.run_route: 2}
        if kind.name == "classic"
        else {kind.new_route: 1, kind.run_route: 3}
    )
    assert counts(emulator) == expected


def test_instructions_and_system_messages(emulated: str, kind: Kind) -> None:
    reply = client_for(emulated).chat.completions.create(
        model=kind.instructions,
        messages=[
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "hello"},
        ],
        extra_body={"instructions": "You are a pirate."},
    )
    # Classic runs replace the agent's instructions; versioned agents only take additions.
    own = "" if kind.name == "classic" else "You are a helpful assistant. "
    assert reply.choices[0].message.content is not None
    assert reply.choices[0].message.content.startswith(
        f"[instructions: {own}You are a pirate. Answer in French.]"
    )


def test_streamed_tool_calls_assemble_and_answer_on_another_instance(
    start_adapter: Any, emulator: str, kind: Kind
) -> None:
    registry = emulator_registry(emulator)
    first = client_for(start_adapter(registry=registry, project_endpoint=emulator))
    second = client_for(start_adapter(registry=registry, project_endpoint=emulator))
    question = [{"role": "user", "content": "What is the weather in Paris and Rome?"}]
    stream = first.chat.completions.create(model=kind.tools, messages=question, stream=True)  # type: ignore[arg-type]
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        for call in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            entry["name"] += (call.function.name or "") if call.function else ""
            entry["arguments"] += (call.function.arguments or "") if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [c["name"] for c in calls.values()] == ["get_weather", "get_weather"]
    assert {c["arguments"] for c in calls.values()} == {
        '{"location": "Paris"}',
        '{"location": "Rome"}',
    }
    assistant = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in calls.values()
        ],
    }
    results = [
        {"role": "tool", "tool_call_id": c["id"], "content": f"sunny in {c['arguments'][14:-2]}"}
        for c in calls.values()
    ]
    answer = second.chat.completions.create(
        model=kind.tools,
        messages=[*question, assistant, *results],  # type: ignore[list-item]
    )
    text = answer.choices[0].message.content or ""
    assert "sunny in Paris" in text and "sunny in Rome" in text
    if kind.name == "classic":
        submit = "POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs"
        assert counts(emulator).get(submit) == 1
    else:
        assert counts(emulator).get(kind.run_route) == 2  # the question, then the answer
    if kind.name == "classic":  # the Responses API itself accepts results sent twice
        again = httpx.post(
            f"{start_adapter(registry=registry, project_endpoint=emulator)}/v1/chat/completions",
            json={"model": kind.tools, "messages": [*question, assistant, *results]},
        )
        assert again.status_code == 409, again.text  # the run no longer waits


def test_throttling_before_the_run_is_retried(emulated: str, emulator: str, kind: Kind) -> None:
    fault(emulator, "http_429", count=1, retry_after=0.2)
    reply = client_for(emulated).chat.completions.create(model=kind.echo, messages=USER)  # type: ignore[arg-type]
    assert reply.choices[0].message.content
    assert counts(emulator)[kind.turn_route] == 2


@pytest.mark.parametrize(("fault_kind", "status"), [("http_429", 429), ("http_503", 503)])
def test_persistent_throttling_reaches_the_caller_with_retry_after(
    emulated: str, emulator: str, kind: Kind, fault_kind: str, status: int
) -> None:
    fault(emulator, fault_kind, count=50, retry_after=0.5)
    response = httpx.post(
        f"{emulated}/v1/chat/completions", json={"model": kind.echo, "messages": USER}, timeout=30
    )
    assert response.status_code == status
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("fault_kind", "status", "code"),
    [
        ("run_failed_rate_limit", 429, "rate_limit_exceeded"),
        ("run_failed", 502, "server_error"),
        ("run_expired", 504, "run_expired"),
        ("http_500", 502, None),
    ],
)
def test_failed_runs_map_to_errors(
    emulated: str, emulator: str, kind: Kind, fault_kind: str, status: int, code: str | None
) -> None:
    fault(emulator, fault_kind)
    response = httpx.post(
        f"{emulated}/v1/chat/completions", json={"model": kind.echo, "messages": USER}, timeout=30
    )
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code
    assert counts(emulator)[kind.turn_route] == 1  # never retried: a run may exist


def test_incomplete_run_finishes_with_length(emulated: str, emulator: str, kind: Kind) -> None:
    fault(emulator, "run_incomplete")
    reply = client_for(emulated).chat.completions.create(model=kind.echo, messages=USER)  # type: ignore[arg-type]
    assert reply.choices[0].finish_reason == "length"


def test_dropped_stream_ends_with_an_error_frame_and_cancels_the_run(
    emulated: str, emulator: str, kind: Kind
) -> None:
    fault(emulator, "drop_stream")
    stream = client_for(emulated).chat.completions.create(
        model=kind.echo, messages=[{"role": "user", "content": "a b c d e f g h i j"}], stream=True
    )
    chunks = []
    with pytest.raises(openai.APIError, match=r"stream broke|stream ended"):
        for chunk in stream:
            chunks.append(chunk)
    assert chunks[0].model_extra is not None
    assert_cancelled(emulator, kind, chunks[0].model_extra["thread_id"])


def test_stalled_stream_times_out_and_cancels(
    start_adapter: Any, emulator: str, kind: Kind, slow_runs: Any
) -> None:
    base = start_adapter(registry=emulator_registry(emulator), upstream_read_timeout=0.5)
    fault(emulator, "stall_stream")
    with (
        slow_runs(3000),
        httpx.stream(
            "POST",
            f"{base}/v1/chat/completions",
            json={"model": kind.echo, "stream": True, "messages": USER},
            timeout=10,
        ) as response,
    ):
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    assert '"type":"timeout_error"' in lines[-2] and lines[-1] == "data: [DONE]"
    assert_cancelled(emulator, kind, first_thread_id(lines))


def test_completion_deadline_cancels_and_recommends_streaming(
    start_adapter: Any, emulator: str, kind: Kind, slow_runs: Any
) -> None:
    base = start_adapter(registry=emulator_registry(emulator), completion_deadline=0.3)
    with slow_runs(2000):
        response = httpx.post(
            f"{base}/v1/chat/completions", json={"model": kind.echo, "messages": USER}, timeout=10
        )
    assert response.status_code == 504
    error = response.json()["error"]
    assert '"stream": true' in error["message"]
    assert response.headers["x-thread-id"] == error["thread_id"]  # the turn can be continued
    assert_cancelled(emulator, kind, error["thread_id"])


def test_heartbeats_keep_a_quiet_stream_alive(
    start_adapter: Any, emulator: str, kind: Kind, slow_runs: Any
) -> None:
    base = start_adapter(registry=emulator_registry(emulator), heartbeat_interval=0.05)
    with (
        slow_runs(600),
        httpx.stream(
            "POST",
            f"{base}/v1/chat/completions",
            json={
                "model": kind.echo,
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            },
        ) as response,
    ):
        lines = list(response.iter_lines())
    assert ": ping" in lines
    assert lines[-2] == "data: [DONE]" or lines[-1] == "data: [DONE]"


def test_upstream_connections_are_kept_alive(emulator: str, kind: Kind) -> None:
    """Reading each upstream stream to its end returns the connection to the pool."""
    from agents_core.config import Settings
    from agents_core.http import Handlers, create_app
    from agents_core.runtime import Runtime

    from servers import serve

    runtime = Runtime.build(Settings(), registry=emulator_registry(emulator))
    with serve(create_app(Handlers(runtime))) as base_url:
        for stream in (False, True, False, True):
            body = {"model": kind.echo, "stream": stream, "messages": USER}
            assert httpx.post(f"{base_url}/v1/chat/completions", json=body).status_code == 200
    log = httpx.get(f"{control(emulator)}/requests").json()["log"]
    assert len(log) >= 4
    assert len({entry["client"] for entry in log}) == 1  # every request on one connection


def test_stream_deadline_ends_the_stream_and_cancels(
    start_adapter: Any, emulator: str, kind: Kind, slow_runs: Any
) -> None:
    base = start_adapter(registry=emulator_registry(emulator), stream_deadline=0.5)
    with (
        slow_runs(3000),
        httpx.stream(
            "POST",
            f"{base}/v1/chat/completions",
            json={"model": kind.echo, "stream": True, "messages": USER},
            timeout=10,
        ) as response,
    ):
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    assert '"code":"stream_deadline_exceeded"' in lines[-2] and lines[-1] == "data: [DONE]"
    assert_cancelled(emulator, kind, first_thread_id(lines))


def test_versioned_code_interpreter_files_download_through_the_adapter(emulated: str) -> None:
    reply = httpx.post(
        f"{emulated}/v1/chat/completions",
        json={"model": "echo:1", "messages": [{"role": "user", "content": "draw a chart"}]},
    ).json()
    [cited] = reply["choices"][0]["message"]["annotations"]
    assert cited["type"] == "container_file_citation"
    body = cited["container_file_citation"]
    assert body["container_id"].startswith("cntr_") and "container_id=" in body["url"]
    download = httpx.get(f"{emulated}{body['url']}")
    assert download.status_code == 200 and download.content == b"demo file chart.png\n"


@pytest.mark.parametrize(
    ("text", "words"), [("needs approval", "delete_files"), ("give consent", "OAuth consent")]
)
def test_versioned_approval_and_consent_stops_are_clear_errors(
    emulated: str, text: str, words: str
) -> None:
    response = httpx.post(
        f"{emulated}/v1/chat/completions",
        json={"model": "echo:1", "messages": [{"role": "user", "content": text}]},
    )
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "unsupported_required_action" and words in error["message"]
    assert response.headers["x-thread-id"] == error["thread_id"]
