"""Handlers of the versioned-agents routes: `/agents`, `/openai/v1/conversations`, `.../responses`.

Templates are relative to `/api/projects/{project}`; routes under
`/openai/v1` take `?api-version=` but do not require it (the `openai` SDK
sends none), the `/agents` routes require it like the classic API.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse, Response

from .api import Call
from .api_errors import ApiError, bad_request
from .bodies import JSON, parse
from .conversations import Item
from .event_stream import event_stream
from .items import ItemIn, check_items, stored_items, unknown_call_ids
from .prompt_agents import CreateVersionIn
from .response_engine import DELTA_EVENTS
from .response_state import ResponseState, agent_turn, parse_response_body
from .store import paginate
from .versioned import Foundry

OPENAI_PREFIX = "/openai/v1"


class ConversationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[ItemIn] | None = None
    metadata: dict[str, str] | None = None


class ItemsIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[ItemIn]


async def list_agents(call: Call) -> Response:
    kind = call.request.query_params.get("kind")
    agents = list(call.foundry.agents.agents.values()) if kind in (None, "prompt") else []
    positions = {agent.id: i for i, agent in enumerate(agents)}
    return JSONResponse(paginate(agents, positions.get, call.query()))


async def get_agent(call: Call) -> Response:
    return JSONResponse(call.foundry.agents.get(call.param("agent_name")).to_json())


async def create_agent_version(call: Call) -> Response:
    body = parse(CreateVersionIn, call.body)
    return JSONResponse(
        call.foundry.agents.create_version(call.param("agent_name"), body).to_json()
    )


async def list_agent_versions(call: Call) -> Response:
    versions = call.foundry.agents.get(call.param("agent_name")).versions
    items = [Item(version.version, version.to_json()) for version in versions]
    positions = {item.id: i for i, item in enumerate(items)}
    return JSONResponse(paginate(items, positions.get, call.query()))


async def get_agent_version(call: Call) -> Response:
    version = call.foundry.agents.version(call.param("agent_name"), call.param("agent_version"))
    return JSONResponse(version.to_json())


async def create_conversation(call: Call) -> Response:
    if isinstance(call.body, dict):
        check_items(call.body.get("items"), "items")
    body = parse(ConversationIn, call.body, optional=True)
    conversation = call.foundry.conversations.create(stored_items(body.items), body.metadata)
    return JSONResponse(conversation.to_json())


async def get_conversation(call: Call) -> Response:
    return JSONResponse(call.foundry.conversations.get(call.param("conversation_id")).to_json())


async def delete_conversation(call: Call) -> Response:
    conversation = call.foundry.conversations.delete(call.param("conversation_id"))
    return JSONResponse({"id": conversation.id, "object": "conversation.deleted", "deleted": True})


async def list_conversation_items(call: Call) -> Response:
    conversation = call.foundry.conversations.get(call.param("conversation_id"))
    return JSONResponse(paginate(conversation.items, conversation.item_pos.get, call.query()))


async def create_conversation_items(call: Call) -> Response:
    if isinstance(call.body, dict):
        check_items(call.body.get("items"), "items")
    body = parse(ItemsIn, call.body)
    conversation = call.foundry.conversations.get(call.param("conversation_id"))
    _check_idle(conversation.active_response, conversation.id)
    items = stored_items(body.items)
    unknown = unknown_call_ids(conversation.item_data(), items)
    if unknown:
        raise _unknown_calls(unknown)
    conversation.append(items)
    return JSONResponse(
        {
            "object": "list",
            "data": items,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
            "has_more": False,
        }
    )


async def create_response(call: Call) -> Response:
    body = parse_response_body(call.body)
    foundry = call.foundry
    agent = foundry.agents.version(body.agent_reference.name, body.agent_reference.version)
    conversation = None
    seen: list[JSON] = []
    if body.conversation_id is not None:
        conversation = foundry.conversations.get(body.conversation_id)
        _check_idle(conversation.active_response, conversation.id)
        seen = conversation.item_data()
    elif body.previous_response_id is not None:
        seen = list(_previous(call, body.previous_response_id).context)
    new = stored_items(body.input)
    unknown = unknown_call_ids(seen, new)
    if unknown:
        raise _unknown_calls(unknown)
    seen.extend(new)
    if conversation is not None:
        conversation.append(new)
    response = ResponseState(agent, body, seen, fault=call.run_fault)
    foundry.responses[response.id] = response
    turn = agent_turn(agent, seen, new, body)
    if not turn.message_id:
        turn = replace(turn, message_id=_answered_message_id(foundry, new))
    response.message_id = turn.message_id
    foundry.engine.start(response, turn, conversation)
    if body.stream:
        return event_stream(
            response.feed,
            fault=call.stream_fault,
            fault_after=DELTA_EVENTS,
            terminator=False,
            on_abandon=None if body.background else lambda: foundry.engine.cancel(response),
        )
    if not body.background:
        await response.finished.wait()
    return JSONResponse(response.to_json())


def _answered_message_id(foundry: Foundry, new: list[JSON]) -> str:
    """The A2A message id a follow-up carries on: the one of the response whose calls it answers.

    Function results come without metadata (as a classic run's tool outputs
    do, where the agent still reads the thread's last user message).
    """
    answered = {item.get("call_id") for item in new if item.get("type") == "function_call_output"}
    if not answered:
        return ""
    for earlier in reversed(list(foundry.responses.values())):
        calls = {
            item.get("call_id") for item in earlier.output if item.get("type") == "function_call"
        }
        if calls & answered:
            return earlier.message_id
    return ""


async def get_response(call: Call) -> Response:
    return JSONResponse(call.foundry.response(call.param("response_id")).to_json())


async def list_responses(call: Call) -> Response:
    """`GET /openai/v1/responses?conversation_id=`: a conversation's responses (rule 21)."""
    conversation_id = call.request.query_params.get("conversation_id")
    if not conversation_id:
        raise bad_request("Missing required query parameter: 'conversation_id'.", "conversation_id")
    call.foundry.conversations.get(conversation_id)
    responses = [
        r for r in call.foundry.responses.values() if r.body.conversation_id == conversation_id
    ]
    positions = {r.id: i for i, r in enumerate(responses)}
    return JSONResponse(paginate(responses, positions.get, call.query()))


async def cancel_response(call: Call) -> Response:
    """Only a `background` response can be cancelled, as on OpenAI's endpoint."""
    response = call.foundry.response(call.param("response_id"))
    if not response.body.background:
        raise bad_request("Only responses created with background=true can be cancelled.")
    call.foundry.engine.cancel(response)
    await response.finished.wait()
    return JSONResponse(response.to_json())


async def get_container_file_content(call: Call) -> Response:
    """`GET /openai/v1/containers/{c}/files/{f}/content` (rule 20): a code-interpreter file."""
    key = (call.param("container_id"), call.param("file_id"))
    content = call.foundry.engine.container_files.get(key)
    if content is None:
        raise ApiError(404, "not_found", f"No file '{key[1]}' in container '{key[0]}'.")
    return Response(content, media_type="application/octet-stream")


def _previous(call: Call, response_id: str) -> ResponseState:
    previous = call.foundry.responses.get(response_id)
    if previous is None:
        raise ApiError(
            404,
            "previous_response_not_found",
            f"Previous response with id '{response_id}' not found.",
            param="previous_response_id",
        )
    if not previous.ended:
        raise bad_request(
            f"Previous response '{response_id}' is still in progress.", "previous_response_id"
        )
    return previous


def _check_idle(active_response: str | None, conversation_id: str) -> None:
    if active_response is not None:
        raise ApiError(
            400,
            "conversation_locked",
            f"Another response ({active_response}) is in progress in conversation "
            f"{conversation_id}.",
            param="conversation",
        )


def _unknown_calls(call_ids: list[str]) -> ApiError:
    return bad_request(
        f"No tool call found for function call output with call_id {', '.join(call_ids)}.",
        "input",
    )
