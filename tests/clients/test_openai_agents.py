"""The OpenAI Agents SDK (`openai-agents`) on chat completions, with a `function_tool`.

Recipe: `OpenAIChatCompletionsModel(model="<agent>", openai_client=AsyncOpenAI(base_url=...))`;
the SDK runs its own tool loop (the adapter answers the tool results on the
waiting run). For continuity, read `x-thread-id` from the responses (an httpx
response hook on the client) and send it as `ModelSettings(extra_body={"thread_id": ...})`,
or replay `result.to_input_list()` as the next input.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI

from clients.matrix import Agents

agents_sdk = pytest.importorskip("agents")
from agents import (  # noqa: E402
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)

set_tracing_disabled(True)

called: list[str] = []


@function_tool
def get_weather(location: str) -> str:
    """Get the current weather for a location."""
    called.append(location)
    return f"sunny in {location}"


class Client:
    """An AsyncOpenAI client that remembers the last `x-thread-id` it was given."""

    def __init__(self, server: str) -> None:
        self.thread_id = ""

        async def remember(response: httpx.Response) -> None:
            self.thread_id = response.headers.get("x-thread-id", self.thread_id)

        self.http = httpx.AsyncClient(event_hooks={"response": [remember]}, timeout=60)
        self.openai = AsyncOpenAI(
            base_url=f"{server}/v1", api_key="unused-on-loopback", http_client=self.http
        )

    def model(self, name: str) -> OpenAIChatCompletionsModel:
        return OpenAIChatCompletionsModel(model=name, openai_client=self.openai)


@pytest.fixture
async def client(server: str) -> AsyncIterator[Client]:
    client = Client(server)
    yield client
    await client.openai.close()
    await client.http.aclose()


async def test_function_tool_loop(client: Client, agents: Agents) -> None:
    called.clear()
    agent = Agent(name="weather", model=client.model(agents.weather), tools=[get_weather])
    result = await Runner.run(agent, "What is the weather in Paris?")
    assert called == ["Paris"]
    assert result.final_output == "The weather in Paris: sunny in Paris."
    kinds = [item.type for item in result.new_items]
    assert kinds == ["tool_call_item", "tool_call_output_item", "message_output_item"]


async def test_streamed_run_with_a_function_tool(client: Client, agents: Agents) -> None:
    called.clear()
    agent = Agent(name="weather", model=client.model(agents.weather), tools=[get_weather])
    result = Runner.run_streamed(agent, "What is the weather in Rome?")
    events = [event.type async for event in result.stream_events()]
    assert "raw_response_event" in events
    assert called == ["Rome"]
    assert result.final_output == "The weather in Rome: sunny in Rome."


async def test_continuity_through_thread_id_and_by_history(client: Client, agents: Agents) -> None:
    agent = Agent(name="echo", model=client.model(agents.echo))
    first = await Runner.run(agent, "My name is Ada")
    assert first.final_output == "Echo: My name is Ada"
    thread_id = client.thread_id
    assert thread_id.startswith(agents.conversation_prefix)
    on_thread = agent.clone(model_settings=ModelSettings(extra_body={"thread_id": thread_id}))
    assert (await Runner.run(on_thread, "What is my name?")).final_output == "Your name is Ada."
    history: list[Any] = first.to_input_list()
    history.append({"role": "user", "content": "What is my name?"})
    assert (await Runner.run(agent, history)).final_output == "Your name is Ada."
