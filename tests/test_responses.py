"""The Responses API front door end to end: the openai SDK → adapter → Foundry emulator.

Every test runs for both kinds of agent (classic threads/runs, versioned Responses API).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from conftest import Kind

WEATHER = "What's the weather in Paris?"


def client_for(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="local", max_retries=0)


def counts(emulator: str) -> dict[str, int]:
    control = emulator.split("/api/projects/")[0] + "/_emulator"
    return dict(httpx.get(f"{control}/requests").json()["counts"])


def test_create_and_continue_with_previous_response_id(emulated: str, kind: Kind) -> None:
    client = client_for(emulated)
    first = client.responses.create(model=kind.echo, input="My name is Ada")
    assert first.status == "completed"
    assert first.output_text.startswith("Echo: My name is Ada")
    assert first.usage is not None and first.usage.total_tokens > 0
    assert first.usage.total_tokens == first.usage.input_tokens + first.usage.output_tokens
    second = client.responses.create(
        model=kind.echo, input="What is my name?", previous_response_id=first.id
    )
    assert "Ada" in second.output_text
    assert second.previous_response_id == first.id
    third = client.responses.create(
        model=kind.echo,
        input=[{"role": "user", "content": "What is my name?"}],
        conversation=first.conversation.id if first.conversation else "",
    )
    assert "Ada" in third.output_text


def test_stream_event_grammar(emulated: str, kind: Kind) -> None:
    client = client_for(emulated)
    with client.responses.stream(model=kind.echo, input="Tell me a story") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == final.output_text
    order = [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [t for t in dict.fromkeys(types) if t in order] == order
    assert final.usage is not None and final.usage.output_tokens > 0
    again = client.responses.retrieve(final.id)
    assert again.status == "completed" and again.output_text == final.output_text


def test_function_call_round_trip(emulated: str, kind: Kind) -> None:
    client = client_for(emulated)
    tools: Any = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a place",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
            "strict": True,
        }
    ]
    first = client.responses.create(model=kind.tools, input=WEATHER, tools=tools)
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"location": "Paris"}
    answer: Any = [{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]
    second = client.responses.create(
        model=kind.tools, input=answer, previous_response_id=first.id, tools=tools
    )
    assert "sunny" in second.output_text
    # Stateless replay (no previous_response_id): the call id routes the answer.
    with client.responses.stream(model=kind.tools, input=WEATHER, tools=tools) as stream:
        events = list(stream)
        streamed = stream.get_final_response()
    types = [event.type for event in events]
    assert "response.function_call_arguments.delta" in types
    assert "response.function_call_arguments.done" in types
    [call] = [item for item in streamed.output if item.type == "function_call"]
    replay: Any = [
        {"role": "user", "content": WEATHER},
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": "rainy"},
    ]
    third = client.responses.create(model=kind.tools, input=replay, tools=tools)
    assert "rainy" in third.output_text


def test_requests_per_turn(emulated: str, emulator: str, kind: Kind) -> None:
    """The same upstream cost as chat: one request per turn where the contract allows."""
    client = client_for(emulated)
    before = counts(emulator)
    first = client.responses.create(model=kind.echo, input="My name is Ada")
    after_first = counts(emulator)
    client.responses.create(model=kind.echo, input="And you?", previous_response_id=first.id)
    after_second = counts(emulator)
    turn_one = sum(after_first.values()) - sum(before.values())
    turn_two = sum(after_second.values()) - sum(after_first.values())
    assert (turn_one, turn_two) == ((1, 1) if kind.name == "classic" else (2, 1))


def test_cancel(emulated: str, kind: Kind, slow_runs: Any) -> None:
    client = client_for(emulated)
    with slow_runs(3000), client.responses.stream(model=kind.echo, input="Hello") as stream:
        created = next(iter(stream))
        assert created.type == "response.created"
        response_id = created.response.id
        if kind.name == "classic":
            cancelled = client.responses.cancel(response_id)
            assert cancelled.status == "cancelled"
            assert client.responses.retrieve(response_id).status == "cancelled"
        else:
            with pytest.raises(openai.ConflictError) as refused:
                client.responses.cancel(response_id)
            assert refused.value.code == "not_cancelable"


def test_unknown_ids_and_unsupported_values(emulated: str, kind: Kind) -> None:
    client = client_for(emulated)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_nothing")
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=kind.echo, input="Hi", store=False)
    assert refused.value.body["param"] == "store"  # type: ignore[index]
    raw = client.responses.with_raw_response.create(
        model=kind.echo, input="Hi", store=False, extra_body={"drop_params": True}
    )
    assert raw.headers["x-dropped-params"] == "store"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(
            model=kind.echo, input="Hi", extra_body={"agent_reference": {"name": "other"}}
        )
