"""The `openai` Python SDK, unmodified: completions, streams, continuity, a tool loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from clients.matrix import Agents, sentences


@pytest.fixture
def client(server: str) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{server}/v1", api_key="unused-on-loopback", max_retries=0) as client:
        yield client


def test_completion_and_continuity_through_thread_id(client: OpenAI, agents: Agents) -> None:
    first = client.chat.completions.create(
        model=agents.echo, messages=[{"role": "user", "content": "My name is Ada"}]
    )
    assert first.choices[0].message.content == "Echo: My name is Ada"
    assert first.choices[0].finish_reason == "stop"
    thread_id = (first.model_extra or {})["thread_id"]
    assert thread_id.startswith(agents.conversation_prefix)
    second = client.chat.completions.create(
        model=agents.echo,
        messages=[{"role": "user", "content": "What is my name?"}],
        extra_body={"thread_id": thread_id},
    )
    assert second.choices[0].message.content == "Your name is Ada."
    # The header works as well, read back from the raw response.
    raw = client.chat.completions.with_raw_response.create(
        model=agents.echo,
        messages=[{"role": "user", "content": "What is my name?"}],
        extra_headers={"x-thread-id": thread_id},
    )
    assert raw.headers["x-thread-id"] == thread_id
    assert raw.parse().choices[0].message.content == "Your name is Ada."


def test_stream_with_usage(client: OpenAI, agents: Agents) -> None:
    chunks = list(
        client.chat.completions.create(
            model=agents.echo,
            messages=[{"role": "user", "content": "Please echo this rather long sentence"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: Please echo this rather long sentence"
    assert (chunks[0].model_extra or {})["thread_id"].startswith(agents.conversation_prefix)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [f for f in finish if f] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a location.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def test_tool_loop(client: OpenAI, agents: Agents) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris and Rome?"}]
    asked = client.chat.completions.create(model=agents.weather, messages=messages, tools=[WEATHER])
    choice = asked.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    places = [json.loads(call.function.arguments)["location"] for call in calls]  # type: ignore[union-attr]
    assert places == ["Paris", "Rome"]
    messages.append(choice.message.model_dump(exclude_none=True))
    for call, place in zip(calls, places, strict=True):
        messages.append({"role": "tool", "tool_call_id": call.id, "content": f"sunny in {place}"})
    answer = client.chat.completions.create(
        model=agents.weather, messages=messages, tools=[WEATHER]
    )
    # Parallel results are described in the order they reach the agent (not asserted here).
    assert sentences(answer.choices[0].message.content or "") == [
        "The weather in Paris: sunny in Paris.",
        "The weather in Rome: sunny in Rome.",
    ]


def test_streamed_tool_loop_on_the_thread(client: OpenAI, agents: Agents) -> None:
    """Streamed tool calls, answered on the same thread (only the new messages are sent)."""
    stream = client.chat.completions.create(
        model=agents.weather,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER],
        stream=True,
    )
    chunks = list(stream)
    thread_id = (chunks[0].model_extra or {})["thread_id"]
    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
    assert deltas and deltas[0].id and deltas[0].function and deltas[0].function.name
    call_id, name = deltas[0].id, deltas[0].function.name
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert name == "get_weather" and json.loads(arguments) == {"location": "Oslo"}
    answer = client.chat.completions.create(
        model=agents.weather,
        messages=[
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "rain"},
        ],
        tools=[WEATHER],
        extra_body={"thread_id": thread_id},
    )
    assert answer.choices[0].message.content == "The weather in Oslo: rain."


def test_models_list_both_kinds(client: OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert {"echo", "tools", "echo:1", "weather:1"} <= ids
