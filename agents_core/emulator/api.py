"""Handlers of the emulated classic Agent Service routes (under `/api/projects/{project}`).

Each handler takes a `Call` (the request, its parsed JSON body, the fault
queued for it, the instance's state) and returns a response; validation
failures raise `ApiError`. The versioned-agents handlers are in `responses_api`.
Auth, api-version, latency and HTTP faults are handled before, in `app.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .api_errors import ApiError, bad_request
from .bodies import (
    AssistantIn,
    MessageIn,
    RunIn,
    SubmitToolOutputsIn,
    ThreadAndRunIn,
    ThreadIn,
    parse,
)
from .control import STREAM_FAULTS
from .engine import Engine
from .event_stream import event_stream
from .feed import Feed
from .objects import Run, Thread
from .store import ListQuery, Store, new_run, paginate
from .versioned import Foundry


@dataclass(frozen=True)
class Call:
    request: Request
    body: Any
    fault: str | None
    store: Store
    engine: Engine
    foundry: Foundry

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def thread(self) -> Thread:
        return self.store.thread(self.param("thread_id"))

    def run(self) -> Run:
        return self.store.run(self.thread(), self.param("run_id"))

    def query(self) -> ListQuery:
        return ListQuery.parse(self.request.query_params)

    @property
    def run_fault(self) -> str | None:
        return self.fault if self.fault is not None and self.fault not in STREAM_FAULTS else None

    @property
    def stream_fault(self) -> str | None:
        return self.fault if self.fault in STREAM_FAULTS else None


async def list_assistants(call: Call) -> Response:
    agents = list(call.store.agents.values())
    positions = {agent.id: i for i, agent in enumerate(agents)}
    return JSONResponse(paginate(agents, positions.get, call.query()))


async def get_assistant(call: Call) -> Response:
    return JSONResponse(call.store.agent(call.param("assistant_id")).to_json())


async def create_assistant(call: Call) -> Response:
    return JSONResponse(call.store.create_agent(parse(AssistantIn, call.body)).to_json())


async def create_thread(call: Call) -> Response:
    body = parse(ThreadIn, call.body, optional=True)
    return JSONResponse(call.store.create_thread(body).to_json())


async def list_threads(call: Call) -> Response:
    """`GET /threads` (contract rule 12): oldest first by creation time for `order=asc`."""
    threads = sorted(call.store.threads.values(), key=lambda thread: thread.created_at)
    position = {thread.id: index for index, thread in enumerate(threads)}
    return JSONResponse(paginate(threads, position.get, call.query()))


async def get_thread(call: Call) -> Response:
    return JSONResponse(call.thread().to_json())


async def delete_thread(call: Call) -> Response:
    thread = call.store.delete_thread(call.param("thread_id"))
    if thread.active_run is not None:
        call.engine.cancel(thread.active_run)
    return JSONResponse({"id": thread.id, "object": "thread.deleted", "deleted": True})


async def create_message(call: Call) -> Response:
    body = parse(MessageIn, call.body)
    thread = call.thread()
    if thread.active_run is not None:
        raise bad_request(
            f"Can't add messages to {thread.id} while a run {thread.active_run.id} is active."
        )
    return JSONResponse(call.store.add_message(thread, body).to_json())


async def list_messages(call: Call) -> Response:
    thread = call.thread()
    query = call.query()
    run_id = call.request.query_params.get("run_id")
    if not run_id:
        return JSONResponse(paginate(thread.messages, thread.message_pos.get, query))
    messages = [m for m in thread.messages if m.run_id == run_id]
    positions = {m.id: i for i, m in enumerate(messages)}
    return JSONResponse(paginate(messages, positions.get, query))


async def get_message(call: Call) -> Response:
    return JSONResponse(call.store.message(call.thread(), call.param("message_id")).to_json())


async def create_run(call: Call) -> Response:
    body = parse(RunIn, call.body)
    thread = call.thread()
    agent = call.store.agent(body.assistant_id)
    if thread.active_run is not None:
        raise bad_request(f"Thread {thread.id} already has an active run {thread.active_run.id}.")
    for message in body.additional_messages or []:
        call.store.add_message(thread, message)
    run = new_run(thread, agent, body, call.run_fault)
    return _answer(call, run, call.engine.start(thread, run), body.stream)


async def create_thread_and_run(call: Call) -> Response:
    body = parse(ThreadAndRunIn, call.body)
    agent = call.store.agent(body.assistant_id)
    thread = call.store.create_thread(body.thread or ThreadIn())
    run = new_run(thread, agent, body, call.run_fault)
    feed = call.engine.start(thread, run)
    created = ("thread.created", json.dumps(thread.to_json(), separators=(",", ":")))
    return _answer(call, run, feed, body.stream, prelude=[created])


async def list_runs(call: Call) -> Response:
    thread = call.thread()
    return JSONResponse(paginate(thread.runs, thread.run_pos.get, call.query()))


async def get_run(call: Call) -> Response:
    return JSONResponse(call.run().to_json())


async def cancel_run(call: Call) -> Response:
    run = call.run()
    call.engine.cancel(run)
    return JSONResponse(run.to_json())


async def submit_tool_outputs(call: Call) -> Response:
    body = parse(SubmitToolOutputsIn, call.body)
    run = call.run()
    feed = call.engine.submit(run, body.tool_outputs, call.run_fault)
    return _answer(call, run, feed, body.stream)


async def list_steps(call: Call) -> Response:
    run = call.run()
    positions = {step.id: i for i, step in enumerate(run.steps)}
    return JSONResponse(paginate(run.steps, positions.get, call.query()))


async def get_step(call: Call) -> Response:
    return JSONResponse(call.store.step(call.run(), call.param("step_id")).to_json())


def _answer(
    call: Call, run: Run, feed: Feed, stream: bool, prelude: list[tuple[str, str]] | None = None
) -> Response:
    if stream:
        return event_stream(feed, prelude=prelude or [], fault=call.stream_fault)
    return JSONResponse(run.to_json())


async def get_file_content(call: Call) -> Response:
    """`GET /files/{file_id}/content` (rule 12): a file a run generated."""
    file_id = call.param("file_id")
    content = call.engine.files.get(file_id)
    if content is None:
        raise ApiError(404, "not_found", f"No file with id '{file_id}' was found.")
    return Response(content, media_type="application/octet-stream")
