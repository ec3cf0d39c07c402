"""A2A end to end: the a2a-sdk client against the adapter, in front of the emulator.

Every client test runs over the card's default 1.0 interface and forced onto
0.3 (the card's 0.3 interface only), for classic and versioned agents.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from a2a.client import Client, ClientConfig, ClientFactory
from a2a.client.errors import A2AClientError
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
from conftest import Kind
from google.protobuf.json_format import MessageToDict

Factory = Callable[..., Awaitable[Client]]


def user(text: str, context_id: str = "", task_id: str = "", **part: Any) -> SendMessageRequest:
    parts = [Part(text=text)] if text else [Part(**part)]
    return SendMessageRequest(
        message=Message(
            role=Role.ROLE_USER,
            message_id=uuid.uuid4().hex,
            context_id=context_id,
            task_id=task_id,
            parts=parts,
        )
    )


@pytest.fixture(params=["1.0", "0.3"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def connect(emulated: str, version: str, kind: Kind) -> AsyncIterator[Factory]:
    """Build an a2a-sdk client from the agent card, on the chosen protocol version."""
    async with httpx.AsyncClient(timeout=30) as http:

        async def factory(agent: str = kind.echo, streaming: bool = False) -> Client:
            card_client = ClientFactory(ClientConfig(streaming=streaming, httpx_client=http))
            url = f"{emulated}/a2a/{agent}"
            if version == "1.0":
                return await card_client.create_from_url(url)
            from a2a.client.card_resolver import A2ACardResolver

            card = await A2ACardResolver(http, url).get_agent_card()
            keep = [i for i in card.supported_interfaces if i.protocol_version.startswith("0.3")]
            del card.supported_interfaces[:]
            card.supported_interfaces.extend(keep)
            return card_client.create(card)

        yield factory


async def final_task(client: Client, request: SendMessageRequest) -> Task:
    events = [event async for event in client.send_message(request)]
    assert events and events[-1].HasField("task"), events
    return events[-1].task


def text_of(task: Task) -> str:
    return "".join(part.text for artifact in task.artifacts for part in artifact.parts)


async def test_blocking_send_and_memory_through_context_id(connect: Factory, kind: Kind) -> None:
    client = await connect()
    first = await final_task(client, user("My name is Ada"))
    assert first.status.state == TaskState.TASK_STATE_COMPLETED
    assert first.context_id.startswith(kind.conversation_prefix)
    assert first.id == f"{first.context_id}.{first.id.split('.')[1]}"
    second = await final_task(client, user("What is my name?", context_id=first.context_id))
    assert second.context_id == first.context_id
    assert "Ada" in text_of(second)
    fresh = await final_task(client, user("What is my name?"))
    assert fresh.context_id != first.context_id
    assert "Ada" not in text_of(fresh)


async def test_streaming_sends_artifact_chunks_then_final_status(connect: Factory) -> None:
    client = await connect(streaming=True)
    events: list[StreamResponse] = [
        e async for e in client.send_message(user("Please echo this rather long sentence back"))
    ]
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task"
    assert kinds[-1] == "status_update"
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
    assert len(chunks) >= 3, "text should arrive as several artifact updates"
    assert not chunks[0].append and all(c.append for c in chunks[1:])
    assert chunks[-1].last_chunk and not any(c.last_chunk for c in chunks[:-1])
    text = "".join(p.text for c in chunks for p in c.artifact.parts)
    assert "rather long sentence" in text


async def test_get_task_answers_from_foundry(connect: Factory) -> None:
    client = await connect()
    task = await final_task(client, user("remember the milk"))
    fetched = await client.get_task(GetTaskRequest(id=task.id))
    assert fetched.id == task.id and fetched.context_id == task.context_id
    assert fetched.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(fetched) == text_of(task)
    with pytest.raises(TaskNotFoundError):
        await client.get_task(GetTaskRequest(id=f"{task.context_id}.run_doesnotexist"))
    with pytest.raises(TaskNotFoundError):
        await client.get_task(GetTaskRequest(id="not-a-task-id"))


async def test_cancel_a_working_task(connect: Factory, kind: Kind, slow_runs: Any) -> None:
    with slow_runs(3000):
        client = await connect(streaming=True)
        stream = client.send_message(user("a long story please"))
        first = await anext(stream)
        assert first.HasField("task")
        if kind.name == "versioned":
            # A streamed response stops only with its own stream: not cancelable from outside.
            with pytest.raises(TaskNotCancelableError):
                await client.cancel_task(CancelTaskRequest(id=first.task.id))
            await stream.aclose()
            return
        canceled = await client.cancel_task(CancelTaskRequest(id=first.task.id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        rest = [e async for e in stream]
        assert rest[-1].status_update.status.state in (
            TaskState.TASK_STATE_CANCELED,
            TaskState.TASK_STATE_WORKING,
        )
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(CancelTaskRequest(id=first.task.id))


async def test_tool_call_is_input_required_then_continues(connect: Factory, kind: Kind) -> None:
    client = await connect(agent=kind.tools)
    asked = await final_task(client, user("What is the weather in Paris?"))
    assert asked.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    [_, data] = asked.status.message.parts
    calls = MessageToDict(data.data)["tool_calls"]
    assert calls[0]["name"] == "get_weather"
    done = await final_task(
        client, user("sunny and 24 C", context_id=asked.context_id, task_id=asked.id)
    )
    assert done.context_id == asked.context_id
    if kind.name == "classic":
        assert done.id == asked.id  # the same run continues (versioned: a new response)
    assert done.status.state == TaskState.TASK_STATE_COMPLETED
    assert "sunny and 24 C" in text_of(done)


async def test_card_has_both_versions_fields(emulated: str, kind: Kind) -> None:
    for path in ("agent-card.json", "agent.json"):
        card = httpx.get(f"{emulated}/a2a/{kind.echo}/.well-known/{path}").json()
        url = f"{emulated}/a2a/{kind.echo}"
        assert {(i["protocolVersion"], i["url"]) for i in card["supportedInterfaces"]} == {
            ("1.0", url),
            ("0.3", url),
        }
        assert (card["url"], card["preferredTransport"]) == (url, "JSONRPC")
        assert card["protocolVersion"].startswith("0.3")
        assert card["capabilities"]["streaming"] is True
        assert card["name"] == ("Echo" if kind.name == "classic" else "echo")
        assert card["skills"][0]["id"] == ("asst_echo" if kind.name == "classic" else "echo:1")
        assert "securitySchemes" not in card  # open on loopback: nothing is enforced


def rpc(url: str, payload: Any, **kwargs: Any) -> dict[str, Any]:
    response = httpx.post(url, **({"json": payload} if payload is not None else kwargs))
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "nope"}, -32601),
        ({"jsonrpc": "1.0", "id": 1, "method": "message/send"}, -32600),
        ([], -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": []}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {}}, -32602),
        (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "SendMessage",
                "params": {
                    "message": {
                        "messageId": "m",
                        "role": "ROLE_USER",
                        "parts": [{"url": "https://x/a.pdf", "mediaType": "application/pdf"}],
                    }
                },
            },
            -32005,
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "thread_x.run_y"}},
            -32001,
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "tasks/pushNotificationConfig/set", "params": {}},
            -32003,
        ),
        (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "message/send",
                "params": {
                    "message": {
                        "kind": "message",
                        "messageId": "m",
                        "role": "user",
                        "contextId": "thread_missing",
                        "parts": [{"kind": "text", "text": "hi"}],
                    }
                },
            },
            -32602,
        ),
    ],
)
def test_json_rpc_errors(emulated: str, payload: Any, code: int) -> None:
    body = rpc(f"{emulated}/a2a/echo", payload)
    assert body["error"]["code"] == code, body
    assert body["jsonrpc"] == "2.0"


def test_parse_error(emulated: str) -> None:
    body = rpc(
        f"{emulated}/a2a/echo", None, content=b"{nope", headers={"content-type": "application/json"}
    )
    assert (body["id"], body["error"]["code"]) == (None, -32700)


def test_litellm_style_alias_route(emulated: str) -> None:
    payload = {
        "jsonrpc": "2.0",
        "id": "r1",
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "messageId": "m1",
                "role": "user",
                "parts": [{"kind": "text", "text": "hello there"}],
            }
        },
    }
    body = rpc(f"{emulated}/v1/a2a/echo/message/send", payload)
    result = body["result"]
    assert body["id"] == "r1"
    assert (result["kind"], result["status"]["state"]) == ("task", "completed")
    assert "hello there" in result["artifacts"][0]["parts"][0]["text"]


def test_unknown_agent(emulated: str) -> None:
    response = httpx.post(
        f"{emulated}/a2a/nobody",
        json={
            "jsonrpc": "2.0",
            "id": 2,
            "method": "message/send",
            "params": {
                "message": {
                    "kind": "message",
                    "messageId": "m",
                    "role": "user",
                    "parts": [{"kind": "text", "text": "x"}],
                }
            },
        },
    )
    # Not configured, so looked up as a versioned agent on the project: Foundry says 404,
    # as the card does; the error says the agent is unknown, not that a task is.
    body = response.json()
    assert response.status_code == 404
    assert (body["id"], body["error"]["code"]) == (2, -32600)
    assert body["error"]["data"]["code"] == "agent_not_found"
    assert "nobody" in body["error"]["message"]
    card = httpx.get(f"{emulated}/a2a/nobody/.well-known/agent-card.json")
    assert card.status_code == 404


async def test_keys_are_enforced_and_declared(start_adapter: Any, emulator: str) -> None:
    from agents_core.__main__ import emulator_registry

    base = start_adapter(
        registry=emulator_registry(emulator), gateway_api_keys="a2a-key", public_agent_cards=True
    )
    card = httpx.get(
        f"{base}/a2a/echo/.well-known/agent-card.json", headers={"x-api-key": "a2a-key"}
    ).json()
    assert set(card["securitySchemes"]) == {"bearer", "apiKey"}
    denied = httpx.post(
        f"{base}/a2a/echo",
        json={"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "a.b"}},
    )
    assert denied.status_code == 401 and denied.json()["error"]["code"] == -32600
    async with httpx.AsyncClient(headers={"Authorization": "Bearer a2a-key"}, timeout=30) as http:
        client = await ClientFactory(
            ClientConfig(streaming=False, httpx_client=http)
        ).create_from_url(f"{base}/a2a/echo")
        task = await final_task(client, user("hi with a key"))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
    async with httpx.AsyncClient(timeout=30) as http:
        # The card is public discovery; calls without the key are refused.
        factory = ClientFactory(ClientConfig(streaming=False, httpx_client=http))
        anonymous = await factory.create_from_url(f"{base}/a2a/echo")
        with pytest.raises(A2AClientError, match="401"):
            await final_task(anonymous, user("no key"))


def test_list_tasks_of_a_context(emulated: str, kind: Kind) -> None:
    url = f"{emulated}/a2a/{kind.echo}"
    message = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "first"}]}
    sent = rpc(
        url, {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    )
    task = sent["result"]["task"]
    listing = rpc(
        url,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "ListTasks",
            "params": {"contextId": task["contextId"]},
        },
    )
    assert [t["id"] for t in listing["result"]["tasks"]] == [task["id"]]
    assert listing["result"]["tasks"][0]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert (listing["result"]["totalSize"], listing["result"]["nextPageToken"]) == (1, "")
    mine = rpc(url, {"jsonrpc": "2.0", "id": 3, "method": "ListTasks", "params": {}})
    if kind.name == "versioned":  # conversations cannot be listed
        assert mine["error"]["code"] == -32004
    else:  # the caller's own conversations
        assert task["id"] in [t["id"] for t in mine["result"]["tasks"]]


def test_blocking_send_past_its_deadline_is_a_json_rpc_error(
    start_adapter: Any, emulator: str, slow_runs: Any
) -> None:
    from agents_core.__main__ import emulator_registry

    base = start_adapter(registry=emulator_registry(emulator), completion_deadline=0.3)
    with slow_runs(2000):
        body = rpc(
            f"{base}/a2a/echo",
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "SendMessage",
                "params": {
                    "message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "slow"}]}
                },
            },
        )
    assert body["id"] == 7
    assert body["error"]["code"] == -32603
    [info] = body["error"]["data"]  # 1.0: a google.rpc.ErrorInfo
    assert (info["reason"], info["metadata"]["httpStatus"]) == ("INTERNAL_ERROR", "504")
    assert "streaming" in body["error"]["message"]


def test_non_blocking_send(emulated: str, kind: Kind) -> None:
    params = {
        "message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "later"}]},
        "configuration": {"returnImmediately": True},
    }
    body = rpc(
        f"{emulated}/a2a/{kind.echo}",
        {"jsonrpc": "2.0", "id": 8, "method": "SendMessage", "params": params},
    )
    task = body["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_SUBMITTED"
    for _ in range(40):  # the run goes on upstream: poll it to the end
        got = rpc(
            f"{emulated}/a2a/{kind.echo}",
            {"jsonrpc": "2.0", "id": 9, "method": "GetTask", "params": {"id": task["id"]}},
        )
        if got["result"]["status"]["state"] == "TASK_STATE_COMPLETED":
            break
        time.sleep(0.05)
    assert got["result"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert "later" in got["result"]["artifacts"][0]["parts"][0]["text"]
