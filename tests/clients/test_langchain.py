"""LangChain's `ChatOpenAI` (langchain-openai): invoke, stream, a `bind_tools` loop, continuity.

LangChain builds the request body from known fields only, and keeps response
fields it does not know out of the message. The working recipe for continuity:
`include_response_headers=True` gives the reply's headers (`x-thread-id`) in
`response_metadata["headers"]`; pass the id back as `extra_body={"thread_id": ...}`
(per call or on the model) or as the `x-thread-id` header (`default_headers`).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from clients.matrix import Agents, sentences


def chat(server: str, model: str, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=f"{server}/v1", api_key="unused-on-loopback", model=model, max_retries=0, **options
    )


@tool
def get_weather(location: str) -> str:
    """Get the current weather for a location."""
    return f"sunny in {location}"


def test_invoke_and_continuity(server: str, agents: Agents) -> None:
    llm = chat(server, agents.echo, include_response_headers=True)
    first = llm.invoke("My name is Ada")
    assert first.content == "Echo: My name is Ada"
    thread_id = first.response_metadata["headers"]["x-thread-id"]
    assert thread_id.startswith(agents.conversation_prefix)
    # Per call, through the body.
    second = llm.invoke("What is my name?", extra_body={"thread_id": thread_id})
    assert second.content == "Your name is Ada."
    # On the model, through the body or the header.
    for bound in (
        chat(server, agents.echo, extra_body={"thread_id": thread_id}),
        chat(server, agents.echo, default_headers={"x-thread-id": thread_id}),
    ):
        assert bound.invoke("What is my name?").content == "Your name is Ada."
    # Without the id, a fresh conversation.
    assert chat(server, agents.echo).invoke("What is my name?").content == (
        "I don't know your name yet."
    )


def test_multi_turn_by_history(server: str, agents: Agents) -> None:
    """Replaying the whole history (LangChain's default) works too: each call seeds a thread."""
    llm = chat(server, agents.echo)
    history: list[Any] = [HumanMessage("My name is Ada")]
    history.append(llm.invoke(history))
    history.append(HumanMessage("What is my name?"))
    assert llm.invoke(history).content == "Your name is Ada."


def test_stream(server: str, agents: Agents) -> None:
    llm = chat(server, agents.echo, include_response_headers=True, stream_usage=True)
    chunks = list(llm.stream("Please echo this rather long sentence"))
    assert "".join(str(c.content) for c in chunks) == "Echo: Please echo this rather long sentence"
    assert (
        chunks[0].response_metadata["headers"]["x-thread-id"].startswith(agents.conversation_prefix)
    )
    total = sum((c.usage_metadata or {}).get("total_tokens", 0) for c in chunks)
    assert total > 0


@pytest.mark.parametrize("streaming", [False, True], ids=["invoke", "stream"])
def test_bind_tools_loop(server: str, agents: Agents, streaming: bool) -> None:
    llm = chat(server, agents.weather, streaming=streaming).bind_tools([get_weather])
    messages: list[Any] = [HumanMessage("What is the weather in Paris and Rome?")]
    asked = llm.invoke(messages)
    assert isinstance(asked, AIMessage)
    assert [c["args"] for c in asked.tool_calls] == [{"location": "Paris"}, {"location": "Rome"}]
    messages.append(asked)
    for call in asked.tool_calls:
        messages.append(ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"]))
    answer = llm.invoke(messages)
    # Parallel results are described in the order they reach the agent (not asserted here).
    assert sentences(str(answer.content)) == [
        "The weather in Paris: sunny in Paris.",
        "The weather in Rome: sunny in Rome.",
    ]
    assert not getattr(answer, "tool_calls", None)
