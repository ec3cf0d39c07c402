"""Open WebUI's request shape: its built-in tools attached to every chat, streamed.

Open WebUI (native function calling) declares its own tools on every request.
They are added to the agent's own tools for classic agents and, since a
versioned agent's tools cannot be extended per request, not sent there and
named in `x-dropped-params`. Either way the agent keeps its tools and a plain
message gets a plain answer.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from clients.matrix import Agents


def function(name: str, description: str, **properties: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {key: {"type": kind} for key, kind in properties.items()},
                "required": list(properties),
            },
        },
    }


OPEN_WEBUI_TOOLS = [
    function("search_web", "Search the public web for information.", query="string"),
    function("fetch_url", "Fetch the content of a web page.", url="string"),
    function("get_current_timestamp", "Get the current date and time."),
    function("search_memories", "Search the user's stored memories.", query="string"),
    function("query_knowledge_files", "Search the attached knowledge files.", query="string"),
]
DROPPED = ", ".join(f"tools.{tool['function']['name']}" for tool in OPEN_WEBUI_TOOLS)


def open_webui_chat(server: str, model: str, text: str) -> tuple[httpx.Headers, list[Any]]:
    body = {
        "model": model,
        "stream": True,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant.\nUser Context:\n"},
            {"role": "user", "content": text},
        ],
        "tools": OPEN_WEBUI_TOOLS,
    }
    with httpx.stream(
        "POST",
        f"{server}/v1/chat/completions",
        json=body,
        headers={"Authorization": "Bearer unused-on-loopback"},
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.read()
        frames = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    return response.headers, [json.loads(frame) for frame in frames[:-1]]


def upstream_run(server: str, thread_id: str) -> dict[str, Any]:
    """The body of the last request the embedded emulator got for this conversation."""
    log = httpx.get(f"{server}/emulator/_emulator/requests").json()["log"]
    mine = [
        e["body"]
        for e in log
        if e["method"] == "POST"
        and e["body"]
        and (thread_id in e["path"] or e["body"].get("conversation") == thread_id)
    ]
    return dict(mine[-1])


@pytest.mark.parametrize("text", ["hi", "What time is it?"])
def test_plain_messages_get_plain_answers(server: str, agents: Agents, text: str) -> None:
    headers, chunks = open_webui_chat(server, agents.echo, text)
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == f"Echo: {text}"
    assert not any(c["choices"] and c["choices"][0]["delta"].get("tool_calls") for c in chunks)
    if agents.kind == "versioned":
        assert headers["x-dropped-params"] == DROPPED
    else:
        assert "x-dropped-params" not in headers


def test_the_agent_keeps_its_own_tools(server: str, agents: Agents) -> None:
    headers, chunks = open_webui_chat(server, agents.weather, "What is the weather in Paris?")
    calls = [
        call
        for c in chunks
        if c["choices"]
        for call in c["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert calls[0]["function"]["name"] == "get_weather"
    arguments = "".join(call["function"].get("arguments") or "" for call in calls)
    assert json.loads(arguments) == {"location": "Paris"}
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] == "tool_calls"
    thread_id = chunks[0]["thread_id"]
    sent = upstream_run(server, thread_id)
    if agents.kind == "classic":
        # The agent's get_weather first, then Open WebUI's tools added for this run.
        names = [tool["function"]["name"] for tool in sent["tools"]]
        assert names == ["get_weather", *(t["function"]["name"] for t in OPEN_WEBUI_TOOLS)]
        assert "x-dropped-params" not in headers
    else:
        assert "tools" not in sent
        assert headers["x-dropped-params"] == DROPPED
