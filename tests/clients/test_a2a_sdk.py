"""The `a2a-sdk` Python client (1.x): card, send, stream, memory through contextId, tool round trip.

The agent URL works with and without its trailing slash.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from a2a.client import Client, ClientConfig, ClientFactory
from a2a.types import Message, Part, Role, SendMessageRequest, StreamResponse, Task, TaskState
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Value

from clients.matrix import Agents

Connect = Callable[..., Awaitable[Client]]


def user(text: str = "", context_id: str = "", task_id: str = "", data: object = None) -> Any:
    part = Part(text=text) if data is None else Part(data=json_value(data))
    return SendMessageRequest(
        message=Message(
            role=Role.ROLE_USER,
            message_id=uuid.uuid4().hex,
            context_id=context_id,
            task_id=task_id,
            parts=[part],
        )
    )


def json_value(data: object) -> Value:
    from google.protobuf.json_format import Parse

    return Parse(json.dumps(data), Value())


@pytest.fixture
async def connect(server: str) -> AsyncIterator[Connect]:
    async with httpx.AsyncClient(timeout=60) as http:

        async def factory(url: str, streaming: bool = False) -> Client:
            config = ClientConfig(streaming=streaming, httpx_client=http)
            return await ClientFactory(config).create_from_url(url)

        yield factory


async def final_task(client: Client, request: SendMessageRequest) -> Task:
    events: list[StreamResponse] = [event async for event in client.send_message(request)]
    assert events and events[-1].HasField("task"), events
    return events[-1].task


def text_of(task: Task) -> str:
    return "".join(part.text for artifact in task.artifacts for part in artifact.parts)


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "slash"])
async def test_send_stream_and_memory(
    connect: Connect, server: str, agents: Agents, slash: str
) -> None:
    url = f"{server}/a2a/{agents.echo}{slash}"
    client = await connect(url)
    first = await final_task(client, user("My name is Ada"))
    assert first.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(first) == "Echo: My name is Ada"
    assert first.context_id.startswith(agents.conversation_prefix)
    streaming = await connect(url, streaming=True)
    events = [e async for e in streaming.send_message(user("What is my name?", first.context_id))]
    assert events[0].HasField("task")
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    text = "".join(
        p.text
        for e in events
        if e.HasField("artifact_update")
        for p in e.artifact_update.artifact.parts
    )
    assert text == "Your name is Ada."


async def test_tool_round_trip(connect: Connect, server: str, agents: Agents) -> None:
    client = await connect(f"{server}/a2a/{agents.weather}")
    asked = await final_task(client, user("What is the weather in Paris?"))
    assert asked.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    [data] = [p.data for p in asked.status.message.parts if p.HasField("data")]
    [call] = MessageToDict(data)["tool_calls"]
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"location": "Paris"}
    outputs = {"tool_outputs": [{"tool_call_id": call["id"], "output": "sunny"}]}
    done = await final_task(
        client, user(context_id=asked.context_id, task_id=asked.id, data=outputs)
    )
    assert done.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(done) == "The weather in Paris: sunny."
