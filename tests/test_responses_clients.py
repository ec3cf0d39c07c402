"""Responses API clients against the adapter, both agent kinds: the OpenAI Agents SDK's
default model (Responses) with a `function_tool`, and the Vercel AI SDK's default
`openai()` provider (generateText, streamText, a tool loop; run with node from
tests/responses_js, pinned by its lockfile)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import Kind
from openai import AsyncOpenAI

from node_packages import node_with_packages

agents_sdk = pytest.importorskip("agents")
from agents import (  # noqa: E402
    Agent,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)

set_tracing_disabled(True)
JS = Path(__file__).parent / "responses_js"
called: list[str] = []


@function_tool
def get_weather(location: str) -> str:
    """Get the current weather for a location."""
    called.append(location)
    return f"sunny in {location}"


async def test_agents_sdk_function_tool(emulated: str, kind: Kind) -> None:
    client = AsyncOpenAI(base_url=f"{emulated}/v1", api_key="local", max_retries=0)
    model = OpenAIResponsesModel(model=kind.tools, openai_client=client)
    agent = Agent(name="weather", model=model, tools=[get_weather])
    called.clear()
    result = await Runner.run(agent, "What's the weather in Paris?")
    assert called == ["Paris"]
    assert "sunny in Paris" in str(result.final_output)
    # The SDK replays the whole conversation; the adapter seeds a new thread from it.
    echo = Agent(name="echo", model=OpenAIResponsesModel(model=kind.echo, openai_client=client))
    first = await Runner.run(echo, "My name is Ada")
    second = await Runner.run(echo, "What is my name?", previous_response_id=first.last_response_id)
    assert "Ada" in str(second.final_output)
    await client.close()


def test_vercel_ai_sdk_openai_provider(emulated: str, kind: Kind) -> None:
    node = node_with_packages(JS)
    result = subprocess.run(
        [node, str(JS / "ai_sdk.mjs"), f"{emulated}/v1", kind.echo, kind.tools],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["generate"].startswith("Echo: My name is Ada")
    assert "Ada" in report["continued"]
    assert report["streamed"] == report["streamedFinal"] and report["streamed"]
    assert report["toolCalls"] == [{"location": "Paris"}]
    assert "sunny in Paris" in report["toolLoop"]
