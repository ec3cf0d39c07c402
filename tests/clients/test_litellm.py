"""LiteLLM as a client: the `openai/` provider with `api_base` set to this server.

Recipe: `model="openai/<agent>"`, `api_base="<server>/v1"`. The thread id of a
reply is on the response object (`response.thread_id`; LiteLLM keeps unknown
response fields) and in its headers as `llm_provider-x-thread-id`
(`response._hidden_params["additional_headers"]`); continue with
`extra_body={"thread_id": ...}`.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from clients.matrix import Agents

# No download of the model price list at import (the machine may be offline).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")

# LiteLLM leaves event loops and sockets to the garbage collector.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),  # pydantic on LiteLLM's own types
]


@pytest.fixture(autouse=True)
def collect_leftovers() -> Iterator[None]:
    """Collect what LiteLLM leaves behind while this module's warning filters apply."""
    yield
    gc.collect()


def complete(server: str, model: str, **options: Any) -> Any:
    return litellm.completion(
        model=f"openai/{model}", api_base=f"{server}/v1", api_key="unused-on-loopback", **options
    )


def test_completion_stream_and_continuity(server: str, agents: Agents) -> None:
    first = complete(server, agents.echo, messages=[{"role": "user", "content": "My name is Ada"}])
    assert first.choices[0].message.content == "Echo: My name is Ada"
    thread_id = first.thread_id
    assert thread_id.startswith(agents.conversation_prefix)
    headers = first._hidden_params["additional_headers"]
    assert headers["llm_provider-x-thread-id"] == thread_id
    second = complete(
        server,
        agents.echo,
        messages=[{"role": "user", "content": "What is my name?"}],
        extra_body={"thread_id": thread_id},
    )
    assert second.choices[0].message.content == "Your name is Ada."
    stream = complete(
        server,
        agents.echo,
        messages=[{"role": "user", "content": "What is my name?"}],
        extra_body={"thread_id": thread_id},
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream) == "Your name is Ada."


async def test_async_completion(server: str, agents: Agents) -> None:
    reply = await litellm.acompletion(
        model=f"openai/{agents.echo}",
        api_base=f"{server}/v1",
        api_key="unused-on-loopback",
        messages=[{"role": "user", "content": "hello"}],
    )
    assert reply.choices[0].message.content == "Echo: hello"


TOOLS = [
    {
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
]


def test_tool_loop(server: str, agents: Agents) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    asked = complete(server, agents.weather, messages=messages, tools=TOOLS)
    assert asked.choices[0].finish_reason == "tool_calls"
    message = asked.choices[0].message
    [call] = message.tool_calls
    assert json.loads(call.function.arguments) == {"location": "Paris"}
    messages.append(message.model_dump())
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
    answer = complete(server, agents.weather, messages=messages, tools=TOOLS)
    assert answer.choices[0].message.content == "The weather in Paris: sunny."
