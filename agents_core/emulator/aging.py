"""`POST /_emulator/age`: make threads and conversations older, to test retention.

Body `{"seconds": N, "ids"?: [...]}`: every thread and conversation (or only
those named) and everything in them (messages, runs, responses) move N
seconds into the past. Answers `{"aged": [ids]}`. Like the rest of the
control API: no auth, never counted or logged.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .api_errors import ApiError, bad_request
from .bodies import parse
from .store import Store
from .versioned import Foundry

__all__ = ["age", "routes"]


class AgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: int = Field(ge=0)
    ids: list[str] | None = None


def age(store: Store, foundry: Foundry, seconds: int, ids: list[str] | None = None) -> list[str]:
    """Move the named (or all) threads and conversations `seconds` back; their ids."""
    wanted = set(ids) if ids is not None else None
    aged: list[str] = []
    for thread in store.threads.values():
        if wanted is not None and thread.id not in wanted:
            continue
        thread.created_at -= seconds
        for message in thread.messages:
            message.created_at -= seconds
            if message.completed_at is not None:
                message.completed_at -= seconds
        for run in thread.runs:
            run.created_at -= seconds
            if run.completed_at is not None:
                run.completed_at -= seconds
        aged.append(thread.id)
    for conversation in foundry.conversations.all():
        if wanted is not None and conversation.id not in wanted:
            continue
        conversation.created_at -= seconds
        for response in foundry.responses.values():
            if response.body.conversation == conversation.id:
                response.created_at -= seconds
                if response.completed_at is not None:
                    response.completed_at -= seconds
        aged.append(conversation.id)
    return aged


def routes(store: Store, foundry: Foundry) -> list[Route]:
    async def handle(request: Request) -> Response:
        try:
            try:
                raw = await request.json()
            except ValueError:
                raise bad_request("The request body is not valid JSON.") from None
            body = parse(AgeIn, raw)
        except ApiError as exc:
            return exc.response()
        return JSONResponse({"aged": age(store, foundry, body.seconds, body.ids)})

    return [Route("/_emulator/age", handle, methods=["POST"])]
