"""The run engine: drives each run through its lifecycle in a background task.

A run is `queued`, then `in_progress`; the agent then either asks for tool
outputs (`requires_action`, the stream segment ends; a submission starts the
next one) or writes its reply as message deltas spread over `run_ms`, and the
run ends `completed` (or `incomplete`, `failed`, `expired`, `cancelled`).
A reply may carry files the agent generated (code interpreter): each is
stored (served by `GET /files/{id}/content`), written into the text as its
sandbox path `sandbox:/mnt/data/<name>`, and annotated there with a
`file_path` annotation, in the delta that carries the path as the service
streams it. A reply in a JSON format makes the run report that
`response_format`.
Every change is published to the run's current `Feed` as the service's
stream event. Runs go on whether or not anyone is streaming them; only a
cancel request (or an injected fault) stops them early.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time

from .agents import CallTools, Reply, Turn, message_text, respond
from .api_errors import bad_request
from .bodies import JSON, ToolOutputIn
from .feed import Feed
from .objects import (
    Message,
    Run,
    Step,
    Thread,
    ToolCall,
    ToolResult,
    new_id,
    now,
    text_content,
    usage_json,
    words,
)
from .options import Knobs

logger = logging.getLogger(__name__)

# Shares of `run_ms`: waiting in the queue, writing the reply, wrapping up.
QUEUED_SHARE = 0.1
WRITING_SHARE = 0.8
WRAP_UP_SHARE = 0.1

FAILURES: dict[str, tuple[str, JSON | None]] = {
    "run_failed_rate_limit": (
        "failed",
        {
            "code": "rate_limit_exceeded",
            "message": "Rate limit is exceeded. Try again in 1 seconds.",
        },
    ),
    "run_failed": ("failed", {"code": "server_error", "message": "Sorry, something went wrong."}),
    "run_expired": ("expired", None),
}

_MESSAGE_END_REASON = {
    "cancelled": "run_cancelled",
    "failed": "run_failed",
    "expired": "run_expired",
    "incomplete": "max_tokens",
}


class _Cancelled(Exception):
    pass


class _Expired(Exception):
    pass


class Engine:
    def __init__(self, knobs: Knobs) -> None:
        self._knobs = knobs
        self._tasks: set[asyncio.Task[None]] = set()
        self.files: dict[str, bytes] = {}
        """Files runs generated, by file id (`GET /files/{id}/content`)."""

    def start(self, thread: Thread, run: Run) -> Feed:
        """Make `run` the thread's active run and start it; return its first stream segment."""
        thread.add_run(run)
        thread.active_run = run
        opening = respond(self._turn(thread, run))
        if isinstance(opening, Reply) and opening.output_format is not None:
            run.settings.response_format = opening.output_format  # the run reports it throughout
        feed = run.feed
        feed.publish("thread.run.created", run.to_json())
        feed.publish("thread.run.queued", run.to_json())
        task = asyncio.create_task(self._drive(thread, run), name=f"emulator {run.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return feed

    def cancel(self, run: Run) -> None:
        """Move an active run to `cancelling`; its task ends it as `cancelled` right after."""
        if run.status == "cancelling":
            return
        if not run.active:
            raise bad_request(f"Cannot cancel run with status '{run.status}'.")
        run.status = "cancelling"
        run.feed.publish("thread.run.cancelling", run.to_json())
        run.cancel_requested = True
        run.poke.set()

    def submit(self, run: Run, outputs: list[ToolOutputIn], fault: str | None) -> Feed:
        """Accept tool outputs for every pending call; return the stream segment that follows."""
        if run.status != "requires_action":
            raise bad_request(f'Runs in status "{run.status}" do not accept tool outputs.')
        expected = {call.id for call in run.pending_calls}
        given = {output.tool_call_id: output.output for output in outputs}
        if set(given) != expected:
            raise bad_request(
                f"Expected tool outputs for call_ids {sorted(expected)}, got {sorted(given)}.",
                "tool_outputs",
            )
        run.results.extend(ToolResult(call, given[call.id]) for call in run.pending_calls)
        run.prompt_tokens += sum(words(text) for text in given.values())
        feed = run.feed
        step = run.step
        if step is not None:
            step.step_details = {
                "type": "tool_calls",
                "tool_calls": [c.to_json(given[c.id], with_output=True) for c in run.pending_calls],
            }
            self._finish_step(run, step, "completed")
        run.pending_calls = []
        run.required_action = None
        run.status = "queued"
        run.fault = fault
        feed.publish("thread.run.queued", run.to_json())
        run.submitted = given
        run.poke.set()
        return feed

    async def aclose(self) -> None:
        """Stop every run task (server shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drive(self, thread: Thread, run: Run) -> None:
        try:
            await self._pause(run, QUEUED_SHARE)
            self._start_progress(thread, run)
            limit = run.settings.max_prompt_tokens
            if limit is not None and run.prompt_tokens > limit:
                self._end(thread, run, "incomplete", reason="max_prompt_tokens")
                return
            while True:
                if run.fault in FAILURES:
                    status, error = FAILURES[run.fault]
                    self._end(thread, run, status, error=error)
                    return
                move = respond(self._turn(thread, run))
                if not isinstance(move, CallTools):
                    await self._write(thread, run, self._generated(run, move))
                    return
                await self._call_tools(run, move)
                await self._pause(run, QUEUED_SHARE)
                self._start_progress(thread, run)
        except _Cancelled:
            self._end(thread, run, "cancelled")
        except _Expired:
            self._end(thread, run, "expired")
        except Exception:
            logger.exception("emulated run %s crashed", run.id)
            error = {"code": "server_error", "message": "The emulator failed this run."}
            self._end(thread, run, "failed", error=error)

    def _start_progress(self, thread: Thread, run: Run) -> None:
        run.status = "in_progress"
        run.started_at = run.started_at or now()
        if not run.prompt_tokens:
            run.prompt_tokens = words(run.settings.instructions) + sum(
                words(text) for _, text in self._history(thread, run)
            )
        run.feed.publish("thread.run.in_progress", run.to_json())

    @staticmethod
    def _history(thread: Thread, run: Run) -> list[tuple[str, str]]:
        history = [
            (m.role, message_text(m.content)) for m in thread.messages if m.status == "completed"
        ]
        truncation = run.settings.truncation_strategy
        keep = truncation.get("last_messages")
        if truncation.get("type") == "last_messages" and isinstance(keep, int):
            history = history[-keep:]
        return history

    def _turn(self, thread: Thread, run: Run) -> Turn:
        s = run.settings
        return Turn(
            persona=run.persona,
            history=self._history(thread, run),
            instructions=s.instructions,
            tools=s.tools,
            tool_choice=s.tool_choice,
            parallel_tool_calls=s.parallel_tool_calls,
            response_format=s.response_format,
            results=tuple(run.results),
            message_id=next(
                (
                    m.metadata.get("a2a_message_id", "")
                    for m in reversed(thread.messages)
                    if m.role == "user"
                ),
                "",
            ),
        )

    async def _pause(self, run: Run, share: float) -> None:
        """Sleep `share` of `run_ms`; raise `_Cancelled` as soon as a cancel arrives."""
        await self._wait(run, self._knobs.run_ms / 1000 * share)

    async def _wait(self, run: Run, seconds: float) -> None:
        if run.cancel_requested:
            raise _Cancelled
        if seconds > 0:
            try:
                async with asyncio.timeout(seconds):
                    await run.poke.wait()
            except TimeoutError:
                pass
        else:
            await asyncio.sleep(0)
        run.poke.clear()
        if run.cancel_requested:
            raise _Cancelled

    async def _call_tools(self, run: Run, move: CallTools) -> None:
        """Ask for tool outputs and wait for them (or a cancel, or expiry)."""
        calls = [ToolCall(new_id("call"), name, arguments) for name, arguments in move.calls]
        self._new_step(
            run,
            "tool_calls",
            {"type": "tool_calls", "tool_calls": [c.to_json(with_output=True) for c in calls]},
        )
        run.completion_tokens += sum(words(call.arguments) for call in calls)
        run.pending_calls = calls
        run.required_action = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": [c.to_json() for c in calls]},
        }
        run.status = "requires_action"
        run.submitted = None
        run.feed.publish("thread.run.requires_action", run.to_json())
        run.feed.close()
        run.feed = Feed()
        while run.submitted is None:
            remaining = run.expires_at - time.time()
            if remaining <= 0:
                raise _Expired
            await self._wait(run, remaining)

    def _generated(self, run: Run, move: Reply) -> tuple[str, list[JSON]]:
        """The reply's text with its files' sandbox paths, and their `file_path` annotations."""
        text = move.text
        annotations: list[JSON] = []
        for name in move.files:
            file_id = new_id("assistant")
            self.files[file_id] = f"demo file {name}\n".encode()
            path = f"sandbox:/mnt/data/{name}"
            start = text.find(name)
            if start < 0:
                text, start = f"{text} {path}" if text else path, len(text) + (1 if text else 0)
            else:
                text = text[:start] + path + text[start + len(name) :]
            annotations.append(
                {
                    "type": "file_path",
                    "text": path,
                    "start_index": start,
                    "end_index": start + len(path),
                    "file_path": {"file_id": file_id},
                }
            )
        return text, annotations

    async def _write(self, thread: Thread, run: Run, reply: tuple[str, list[JSON]]) -> None:
        """Stream the reply as one assistant message, then complete the run."""
        text, annotations = reply
        tokens = re.findall(r"\S+\s*", text)
        cut: int | None = None
        if run.fault == "run_incomplete":
            cut = max(1, len(tokens) // 2)
        elif run.settings.max_completion_tokens is not None:
            budget = max(0, run.settings.max_completion_tokens - run.completion_tokens)
            cut = budget if len(tokens) > budget else None
        run.fault = None
        if cut is not None:
            tokens = tokens[:cut]
        message = Message(
            id=new_id("msg"),
            thread_id=thread.id,
            role="assistant",
            content=[],
            status="in_progress",
            assistant_id=run.assistant_id,
            run_id=run.id,
        )
        thread.add_message(message)
        details = {"type": "message_creation", "message_creation": {"message_id": message.id}}
        run.step = self._new_step(run, "message_creation", details)
        run.message = message
        run.feed.publish("thread.message.created", message.to_json())
        run.feed.publish("thread.message.in_progress", message.to_json())
        size = max(2, math.ceil(len(tokens) / self._knobs.max_deltas))
        chunks = ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]
        for chunk in chunks:
            await self._pause(run, WRITING_SHARE / len(chunks))
            self._append(run, message, chunk, annotations)
        await self._pause(run, WRAP_UP_SHARE if chunks else WRITING_SHARE + WRAP_UP_SHARE)
        if cut is not None:
            self._end(thread, run, "incomplete", reason="max_completion_tokens")
            return
        message.status = "completed"
        message.completed_at = now()
        run.message = None
        run.feed.publish("thread.message.completed", message.to_json())
        self._finish_step(run, run.step, "completed")
        self._end(thread, run, "completed")

    @staticmethod
    def _append(run: Run, message: Message, chunk: str, annotations: list[JSON]) -> None:
        """Add `chunk` to the message; annotations whose span ends in it come with it."""
        if not message.content:
            message.content.append(text_content(""))
        body = message.content[0]["text"]
        start = len(body["value"])
        body["value"] += chunk
        run.completion_tokens += words(chunk)
        text: JSON = {"value": chunk}
        arrived = [a for a in annotations if start < a["end_index"] <= len(body["value"])]
        if arrived:
            first = len(body["annotations"])
            body["annotations"].extend(arrived)
            text["annotations"] = [
                {"index": first + i, **annotation} for i, annotation in enumerate(arrived)
            ]
        delta = {"content": [{"index": 0, "type": "text", "text": text}]}
        run.feed.publish(
            "thread.message.delta",
            {"id": message.id, "object": "thread.message.delta", "delta": delta},
        )

    @staticmethod
    def _new_step(run: Run, kind: str, details: JSON) -> Step:
        step = Step(
            id=new_id("step"),
            run_id=run.id,
            thread_id=run.thread_id,
            assistant_id=run.assistant_id,
            type="tool_calls" if kind == "tool_calls" else "message_creation",
            step_details=details,
        )
        run.steps.append(step)
        run.step = step
        run.feed.publish("thread.run.step.created", step.to_json())
        run.feed.publish("thread.run.step.in_progress", step.to_json())
        return step

    @staticmethod
    def _finish_step(run: Run, step: Step | None, status: str, error: JSON | None = None) -> None:
        if step is None:
            return
        stamp = now()
        step.status = status
        step.last_error = error
        if status == "completed":
            step.completed_at = stamp
        elif status == "cancelled":
            step.cancelled_at = stamp
        elif status == "failed":
            step.failed_at = stamp
        else:
            step.expired_at = stamp
        step.usage = usage_json(run.prompt_tokens, run.completion_tokens)
        run.step = None
        run.feed.publish(f"thread.run.step.{status}", step.to_json())

    def _end(
        self,
        thread: Thread,
        run: Run,
        status: str,
        *,
        error: JSON | None = None,
        reason: str | None = None,
    ) -> None:
        """Finish the run as `status`, closing its message and step, and end the stream segment."""
        stamp = now()
        message = run.message
        if message is not None:
            message.status = "incomplete"
            message.incomplete_at = stamp
            message.incomplete_details = {"reason": _MESSAGE_END_REASON[status]}
            run.message = None
            run.feed.publish("thread.message.incomplete", message.to_json())
        step_status = "completed" if status in ("completed", "incomplete") else status
        self._finish_step(run, run.step, step_status, error)
        run.status = status
        run.required_action = None
        run.pending_calls = []
        run.last_error = error
        run.incomplete_details = {"reason": reason} if reason else None
        if status in ("completed", "incomplete"):
            run.completed_at = stamp
        elif status == "cancelled":
            run.cancelled_at = stamp
        elif status == "failed":
            run.failed_at = stamp
        run.usage = usage_json(run.prompt_tokens, run.completion_tokens)
        if thread.active_run is run:
            thread.active_run = None
        run.feed.publish(f"thread.run.{status}", run.to_json())
        run.feed.close()
        run.feed = Feed()
