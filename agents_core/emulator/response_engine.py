"""The response engine: drives each response of a versioned agent in a background task.

A response is `in_progress` after a tenth of `run_ms`; the agent then
either calls function tools (one `function_call` output item per call, and
the response is `completed`: the caller answers with `function_call_output`
items in a follow-up request) or writes one assistant `message` whose text
arrives as `response.output_text.delta` events spread over most of
`run_ms`. It ends `completed`, `incomplete` (`max_output_tokens`, or the
`run_incomplete` fault: half the reply) or `failed` (the `run_failed*`
faults). On request (see `agents.respond_versioned`) a reply cites a
code-interpreter file with a `container_file_citation` (the file is then
served from its container), or the response stops on an
`mcp_approval_request` / `oauth_consent_request` output item. A
`background` response can be cancelled (`cancel`): it ends `cancelled`.
Every event carries `type` and `sequence_number` (from 0) and is
published to the response's `Feed`. A streamed response stops (`cancelled`)
when its connection ends early, unless it is a `background` one. When it ends,
its output items are appended to its
conversation (whose input items were appended when it was created).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from typing import Any

from .agents import AskCaller, CallTools, Reply, Turn, respond_versioned
from .bodies import JSON
from .conversations import Conversation
from .engine import QUEUED_SHARE, WRAP_UP_SHARE, WRITING_SHARE
from .items import message_item
from .objects import new_id, now, words
from .options import Knobs
from .response_state import ResponseState, prompt_tokens

logger = logging.getLogger(__name__)

FAILURES: dict[str, JSON] = {
    "run_failed": {"code": "server_error", "message": "Sorry, something went wrong."},
    "run_failed_rate_limit": {
        "code": "rate_limit_exceeded",
        "message": "Rate limit is exceeded. Try again in 1 seconds.",
    },
    "run_expired": {"code": "expired", "message": "The response expired before it completed."},
}

DELTA_EVENTS = frozenset({"response.output_text.delta", "response.function_call_arguments.delta"})


class ResponseEngine:
    def __init__(self, knobs: Knobs) -> None:
        self._knobs = knobs
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.container_files: dict[tuple[str, str], bytes] = {}

    def start(self, response: ResponseState, turn: Turn, conversation: Conversation | None) -> None:
        """Publish `response.created` and drive `response` to its end in the background."""
        response.input_tokens = prompt_tokens(turn)
        if conversation is not None:
            conversation.active_response = response.id
        response.status = "in_progress"
        move = respond_versioned(turn)
        if isinstance(move, Reply) and move.output_format is not None:
            response.text_format = move.output_format  # the agent's format, reported throughout
        _emit(response, "response.created", response=response.to_json())
        task = asyncio.create_task(
            self._drive(response, move, conversation), name=f"emulator {response.id}"
        )
        self._tasks[response.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(response.id, None))

    def cancel(self, response: ResponseState) -> None:
        """Stop a running response; it ends `cancelled` (its task finishes it)."""
        task = self._tasks.get(response.id)
        if task is not None and not response.ended:
            response.cancel_requested = True
            task.cancel()

    async def aclose(self) -> None:
        """Stop every response task (server shutdown)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drive(
        self,
        response: ResponseState,
        move: Reply | CallTools | AskCaller,
        conversation: Conversation | None,
    ) -> None:
        try:
            await self._pause(QUEUED_SHARE)
            _emit(response, "response.in_progress", response=response.to_json())
            if response.fault in FAILURES:
                _end(response, conversation, "failed", error=dict(FAILURES[response.fault]))
                return
            if isinstance(move, CallTools):
                await self._call_tools(response, move)
                _end(response, conversation, "completed")
            elif isinstance(move, AskCaller):
                await self._pause(WRITING_SHARE)
                _ask(response, move)
                _end(response, conversation, "completed")
            else:
                complete = await self._write(response, move.text, self._files(move.files))
                status = "completed" if complete else "incomplete"
                reason = None if complete else {"reason": "max_output_tokens"}
                _end(response, conversation, status, incomplete=reason)
        except asyncio.CancelledError:
            if not response.cancel_requested:
                raise
            _end(response, conversation, "cancelled")
        except Exception:
            logger.exception("emulated response %s crashed", response.id)
            error = {"code": "server_error", "message": "The emulator failed this response."}
            _end(response, conversation, "failed", error=error)
        finally:
            if conversation is not None and conversation.active_response == response.id:
                conversation.active_response = None
            response.finished.set()

    async def _pause(self, share: float) -> None:
        await asyncio.sleep(self._knobs.run_ms / 1000 * share)

    async def _call_tools(self, response: ResponseState, move: CallTools) -> None:
        """One `function_call` item per call, spread over the writing share of `run_ms`."""
        for name, arguments in move.calls:
            await self._pause(WRITING_SHARE / len(move.calls))
            item: JSON = {
                "type": "function_call",
                "id": new_id("fc"),
                "call_id": new_id("call"),
                "name": name,
                "arguments": "",
                "status": "in_progress",
            }
            index = _add_item(response, item)
            where = {"item_id": item["id"], "output_index": index}
            _emit(response, "response.function_call_arguments.delta", **where, delta=arguments)
            item["arguments"] = arguments
            _emit(response, "response.function_call_arguments.done", **where, arguments=arguments)
            item["status"] = "completed"
            _emit(response, "response.output_item.done", output_index=index, item=item)
            response.output_tokens += words(arguments)
        await self._pause(WRAP_UP_SHARE)

    def _files(self, names: tuple[str, ...]) -> list[JSON]:
        """Code-interpreter files in a fresh container, as citations to append to a reply."""
        if not names:
            return []
        container = new_id("cntr")
        cited: list[JSON] = []
        for name in names:
            file_id = new_id("cfile")
            self.container_files[(container, file_id)] = f"demo file {name}\n".encode()
            cited.append({"container_id": container, "file_id": file_id, "filename": name})
        return cited

    async def _write(self, response: ResponseState, text: str, files: list[JSON]) -> bool:
        """Stream `text` as one assistant message; False when it was cut short.

        Each of `files` is cited where its file name occurs in the text.
        """
        tokens = re.findall(r"\S+\s*", text)
        limit = response.body.max_output_tokens
        cut: int | None = None
        if response.fault == "run_incomplete":
            cut = max(1, len(tokens) // 2)
        elif limit is not None and len(tokens) > limit:
            cut = limit
        if cut is not None:
            tokens = tokens[:cut]
        item = message_item("assistant", [], status="in_progress")
        index = _add_item(response, item)
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        part: JSON = {"type": "output_text", "text": "", "annotations": []}
        _emit(response, "response.content_part.added", **where, part=dict(part))
        item["content"].append(part)
        size = max(2, math.ceil(len(tokens) / self._knobs.max_deltas))
        chunks = ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]
        for chunk in chunks:
            await self._pause(WRITING_SHARE / len(chunks))
            part["text"] += chunk
            response.output_tokens += words(chunk)
            _emit(response, "response.output_text.delta", **where, delta=chunk, logprobs=[])
        await self._pause(WRAP_UP_SHARE if chunks else WRITING_SHARE + WRAP_UP_SHARE)
        for cited in files:
            start = part["text"].find(cited["filename"])
            if start < 0:
                continue
            annotation = {
                "type": "container_file_citation",
                **cited,
                "start_index": start,
                "end_index": start + len(cited["filename"]),
            }
            part["annotations"].append(annotation)
            _emit(
                response,
                "response.output_text.annotation.added",
                **where,
                annotation_index=len(part["annotations"]) - 1,
                annotation=annotation,
            )
        _emit(response, "response.output_text.done", **where, text=part["text"], logprobs=[])
        _emit(response, "response.content_part.done", **where, part=part)
        item["status"] = "completed" if cut is None else "incomplete"
        _emit(response, "response.output_item.done", output_index=index, item=item)
        return cut is None


def _emit(state: ResponseState, kind: str, /, **fields: Any) -> None:
    """Publish one stream event (serialised now) with the next sequence number."""
    data = {"type": kind, "sequence_number": state.sequence, **fields}
    state.sequence += 1
    state.feed.publish(kind, data)


def _ask(response: ResponseState, move: AskCaller) -> None:
    """An output item that asks the caller (approve an MCP call, give OAuth consent)."""
    item: JSON = {"type": move.kind, "id": new_id("mcpr" if "mcp" in move.kind else "oauth")}
    if move.kind == "mcp_approval_request":
        server, _, name = move.detail.partition(".")
        item.update(server_label=server, name=name, arguments="{}")
    else:
        item.update(consent_link=move.detail, server_label="demo-connection")
    index = _add_item(response, item)
    _emit(response, "response.output_item.done", output_index=index, item=item)


def _add_item(response: ResponseState, item: JSON) -> int:
    index = len(response.output)
    response.output.append(item)
    _emit(response, "response.output_item.added", output_index=index, item=item)
    return index


def _end(
    response: ResponseState,
    conversation: Conversation | None,
    status: str,
    *,
    error: JSON | None = None,
    incomplete: JSON | None = None,
) -> None:
    """Finish `response` as `status`, record its output, and end its stream."""
    response.status = status
    response.error = error
    response.incomplete_details = incomplete
    response.completed_at = now() if status == "completed" else None
    response.context.extend(response.output)
    if conversation is not None:
        conversation.append(response.output)
    if status != "cancelled":  # OpenAI's stream grammar has no event for it: the stream ends
        _emit(response, f"response.{status}", response=response.to_json())
    response.feed.close()
