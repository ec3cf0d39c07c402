"""A2A tasks over Foundry agent runs, with no state of our own.

`contextId` is the Foundry thread; a task is one run, its id
`<thread_id>.<run_id>`, so any instance answers `GetTask`, `CancelTask` and
resubscribe from Foundry alone. Runs map to task states; the agent's reply
becomes the `response` artifact (text, the files it generated, structured
output: see `parts`), streamed as artifact updates as it arrives. A run
waiting for function results is `input-required`; the caller's next
message on that task carries the results and continues the same run (for
versioned agents, a new response of the same task: see `_current`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

from a2a.types import (
    Artifact,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    Part,
    Role,
    SendMessageRequest,
    SendMessageResponse,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)
from google.protobuf.json_format import MessageToDict

from agents_core import runs, tags
from agents_core.a2a.parts import Files, ReplyStream, reply_parts
from agents_core.a2a.wire import (
    CONTENT_TYPE_NOT_SUPPORTED,
    INVALID_PARAMS,
    TASK_NOT_CANCELABLE,
    TASK_NOT_FOUND,
    UNSUPPORTED_OPERATION,
    RpcError,
    message_content,
)
from agents_core.errors import INTERNAL_ERROR, AdapterError, NotFound, UpstreamError
from agents_core.foundry.responses import CANCELED_OUTPUT
from agents_core.foundry.types import Annotation
from agents_core.runs import (
    TERMINAL,
    THREAD_ID,
    AgentClient,
    Project,
    Run,
    RunEnded,
    RunPlan,
    RunStarted,
    RunStream,
    TextDelta,
    ToolAnswer,
)

__all__ = ["TaskService", "task_id"]

STATES = {
    "queued": TaskState.TASK_STATE_SUBMITTED,
    "in_progress": TaskState.TASK_STATE_WORKING,
    "cancelling": TaskState.TASK_STATE_WORKING,
    "requires_action": TaskState.TASK_STATE_INPUT_REQUIRED,
    "completed": TaskState.TASK_STATE_COMPLETED,
    "incomplete": TaskState.TASK_STATE_COMPLETED,
    "failed": TaskState.TASK_STATE_FAILED,
    "expired": TaskState.TASK_STATE_FAILED,
    "cancelled": TaskState.TASK_STATE_CANCELED,
}
ARTIFACT_ID = "response"
POLL_INTERVAL = 0.5
MAX_POLL_INTERVAL = 4.0  # resubscribe polling backs off from POLL_INTERVAL up to this
MAX_POLLS = 200  # upstream reads one resubscribe request may make after its first look
MESSAGE_ID_KEY = "a2a_message_id"  # Foundry metadata: values up to 512 characters
OUTPUT_MODES = ("text/plain", "text/*", "text", "*/*")
LIST_SCAN = 1000  # ListTasks without contextId: the project's newest threads it reads
LIST_CONTEXTS = 50  # ... and the most of the caller's conversations whose runs it lists
CHAIN_PAGES = 50  # versioned: pages of 100 of a conversation's responses read to find a task
POLL_READS = 3  # versioned: upstream reads one poll may make (a page, and a waiting response)
STAMPS = {  # when a run entered its status (threads API fields; responses have created_at)
    "queued": "created_at",
    "in_progress": "started_at",
    "requires_action": "started_at",
    "cancelling": "started_at",
    "completed": "completed_at",
    "incomplete": "completed_at",
    "failed": "failed_at",
    "expired": "expires_at",
    "cancelled": "cancelled_at",
}


def _entered(run: Run) -> int | None:
    """When the run entered its status, as far as the upstream says."""
    at: int | None = getattr(run, STAMPS.get(run.status, "created_at"))
    return at or run.completed_at or run.created_at


def state_name(status: str) -> str:
    """A run status as the task state's name: `completed`, `input-required`, ..."""
    state = STATES.get(status, TaskState.TASK_STATE_WORKING)
    return TaskState.Name(state).removeprefix("TASK_STATE_").lower().replace("_", "-")


def task_id(thread_id: str, run_id: str) -> str:
    return f"{thread_id}.{run_id}"


def _split_task_id(value: str) -> tuple[str, str]:
    parts = value.split(".")
    if len(parts) != 2 or not all(THREAD_ID.fullmatch(part) for part in parts):
        raise RpcError(TASK_NOT_FOUND, f"task {value!r} not found")
    return parts[0], parts[1]


def _now(at: Any = None) -> Any:
    """A protobuf timestamp: `at` (Unix seconds) when the upstream gave one, else now."""
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    if isinstance(at, int | float) and not isinstance(at, bool) and at > 0:
        stamp.FromSeconds(int(at))
    else:
        stamp.GetCurrentTime()
    return stamp


def _agent_message(context_id: str, task: str, parts: list[Part], key: str = "") -> Message:
    """An agent message; `key` makes its id stable (the same status read twice, one id)."""
    return Message(
        message_id=f"msg-{key}" if key else f"msg-{uuid.uuid4().hex}",
        context_id=context_id,
        task_id=task,
        role=Role.ROLE_AGENT,
        parts=parts,
    )


def _status(run: Run, task: str = "") -> TaskStatus:
    """The task status for a run (of task `task`, else its own), with a message saying why."""
    status = run.status
    context_id, run_id = run.thread_id, run.id
    result = _state(STATES.get(status, TaskState.TASK_STATE_WORKING), _entered(run))
    parts: list[Part] = []
    if status in ("failed", "expired"):
        code = run.error.code if run.error and run.error.code else status
        message = run.error.message if run.error and run.error.message else f"the run {status}"
        parts.append(Part(text=f"{code}: {message}"))
    elif status == "requires_action":
        pending = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in run.tool_calls]
        names = ", ".join(str(c["name"]) for c in pending)
        parts.append(Part(text=f"The agent called {names}; reply on this task with the results."))
        data = Part()
        data.data.struct_value.update({"tool_calls": pending})
        parts.append(data)
    if parts:
        key = f"{run_id}-{status}-{len(run.tool_calls)}"
        owner = task or task_id(context_id, run_id)
        result.message.CopyFrom(_agent_message(context_id, owner, parts, key))
    return result


def _artifact(parts: list[Part]) -> Artifact:
    return Artifact(artifact_id=ARTIFACT_ID, name="response", parts=parts)


@dataclass(frozen=True)
class TaskRef:
    """A task's ids: the Foundry thread and run it stands for."""

    thread_id: str
    run_id: str

    @property
    def id(self) -> str:
        return task_id(self.thread_id, self.run_id)

    def task(self, status: TaskStatus) -> Task:
        return Task(id=self.id, context_id=self.thread_id, status=status)

    def status_event(self, status: TaskStatus) -> StreamResponse:
        return StreamResponse(
            status_update=TaskStatusUpdateEvent(
                task_id=self.id, context_id=self.thread_id, status=status
            )
        )

    def artifact_event(self, parts: list[Part], *, append: bool, last: bool) -> StreamResponse:
        return StreamResponse(
            artifact_update=TaskArtifactUpdateEvent(
                task_id=self.id,
                context_id=self.thread_id,
                artifact=_artifact(parts),
                append=append,
                last_chunk=last,
            )
        )


def _state(state: Any, at: Any = None) -> TaskStatus:
    return TaskStatus(state=state, timestamp=_now(at))


def _limit_history(task: Task, length: int | None) -> Task:
    """Keep the last `length` history messages (all of them when None)."""
    if length is not None:
        keep = list(task.history)[-length:] if length else []
        del task.history[:]
        task.history.extend(keep)
    return task


def _check_output_modes(request: SendMessageRequest) -> None:
    modes = [mode.strip().lower() for mode in request.configuration.accepted_output_modes]
    if modes and not any(mode in OUTPUT_MODES for mode in modes):
        raise RpcError(
            CONTENT_TYPE_NOT_SUPPORTED,
            f"this agent answers in text/plain, which acceptedOutputModes {modes} exclude",
        )


def _tag(body: dict[str, Any], message_id: str) -> None:
    """Carry the A2A messageId to Foundry as message (and run) metadata, for tracing."""
    if not message_id or len(message_id) > 512:
        return
    tag = {MESSAGE_ID_KEY: message_id}
    messages = (body.get("thread") or {}).get("messages") or body.get("additional_messages") or []
    for message in messages:
        message["metadata"] = {**message.get("metadata", {}), **tag}
    body["metadata"] = {**body.get("metadata", {}), **tag}


@dataclass
class TaskService:
    """A2A operations for one agent, over the shared Foundry client."""

    foundry: AgentClient
    project: Project
    agent_id: str
    alias: str
    deadline: float  # streams and resubscriptions
    completion_deadline: float  # blocking sends (an HTTP response that must not idle out)
    versioned: bool = False
    public_base: str = ""  # absolute base of the links to the agent's files

    @property
    def files(self) -> Files:
        return Files(self.public_base, self.alias)

    def _plan(self, request: SendMessageRequest) -> RunPlan:
        message = request.message
        _check_output_modes(request)
        if message.task_id:
            return RunPlan(None, {"assistant_id": self.agent_id}, self._tool_answer(message))
        content = [message_content(part, index) for index, part in enumerate(message.parts)]
        try:
            user = runs.user_message(content, "message.parts")
        except AdapterError as exc:
            raise RpcError(INVALID_PARAMS, exc.message) from None
        plan = runs.user_plan(self.agent_id, message.context_id or None, user)
        _tag(plan.body, message.message_id)
        return plan

    def _tool_answer(self, message: Message) -> ToolAnswer:
        thread_id, run_id = _split_task_id(message.task_id)
        if message.context_id and message.context_id != thread_id:
            raise RpcError(INVALID_PARAMS, "taskId does not belong to contextId")
        outputs: list[dict[str, str]] = []
        text: list[str] = []
        for part in message.parts:
            kind = part.WhichOneof("content")
            if kind == "data":
                value = MessageToDict(part.data)
                if isinstance(value, dict) and "tool_outputs" in value:
                    outputs.extend(_tool_outputs(value["tool_outputs"]))
            elif kind == "text":
                text.append(part.text)
        outputs = outputs or [{"tool_call_id": "", "output": "".join(text)}]
        if any(output["output"] == CANCELED_OUTPUT for output in outputs):
            raise RpcError(
                INVALID_PARAMS,
                "a tool output may not be the adapter's cancellation text: cancel the task instead",
            )
        return ToolAnswer(thread_id, run_id, outputs)

    async def _start(self, plan: RunPlan) -> RunStream:
        return await runs.start(self.foundry, self.project, await self._prepare(plan))

    async def _prepare(self, plan: RunPlan) -> RunPlan:
        """A reply to an input-required task, aimed at the run that waits for it.

        Plain text answers the one pending call. For versioned agents the
        waiting response is the last of the task's chain (see `_latest`), and
        a task that no longer waits takes no input; a classic run that does
        not wait is refused by Foundry itself.
        """
        answer = plan.tool_answer
        single = (
            answer is not None and bool(answer.outputs) and not answer.outputs[0]["tool_call_id"]
        )
        if answer is None or not (single or self.versioned):
            return plan
        run = await self._latest(answer.thread_id, answer.run_id or "")
        calls = run.tool_calls
        if run.status != "requires_action":
            raise RpcError(
                UNSUPPORTED_OPERATION,
                f"task is {state_name(run.status)} and takes no more input; "
                "send a new message with the same contextId to continue the conversation",
            )
        outputs = answer.outputs
        if single:
            if len(calls) != 1:
                raise RpcError(
                    INVALID_PARAMS,
                    "the agent waits for several tool results: send a data part "
                    '{"tool_outputs": [{"tool_call_id": ..., "output": ...}]}',
                )
            outputs = [{"tool_call_id": calls[0].id, "output": answer.outputs[0]["output"]}]
        # versioned: the new response names the task's first one (the chain it continues)
        answered = answer.run_id if self.versioned and answer.run_id else run.id
        answer = ToolAnswer(answer.thread_id, answered, outputs)
        return RunPlan(None, {"assistant_id": self.agent_id}, answer)

    async def _latest(self, thread_id: str, run_id: str) -> Run:
        """The run a task stands at now: its own, or for versioned agents its chain's last."""
        run, _, _ = await self._current(thread_id, run_id)
        return run

    async def _current(
        self, thread_id: str, run_id: str, chain: str | None = None, pages: int = CHAIN_PAGES
    ) -> tuple[Run, str, int]:
        """The task's run now, its chain (versioned) and the upstream reads that took.

        A versioned agent's function results go to a new response in the
        same conversation, which names the task's first response in its
        metadata (`CHAIN_KEY`, see `ResponsesClient.continue_run`): a task is
        the chain of responses naming its first one, and stands at the newest
        of them, found in the conversation's responses listed newest first
        (one page in the usual case). The task keeps the first response's id
        throughout. A task whose first response is not in the conversation
        its id names, or belongs to another agent, or continues another
        task, is not found. The newest response, if it waits for function
        results, is read once more: its calls may have been cancelled.
        """
        if not self.versioned:
            return await self._run(thread_id, run_id), "", 1
        run, chain, reads = await self._newest(thread_id, run_id, chain, pages)
        if run.status == "requires_action" and run.tool_calls:
            run = await self._run(thread_id, run.id)
            reads += 2  # the response and the conversation items after it
        return run, chain, reads

    async def _newest(
        self, thread_id: str, run_id: str, chain: str | None, pages: int
    ) -> tuple[Run, str, int]:
        """The newest response of task `run_id`'s chain (`chain`, when known) as listed."""
        newest: dict[str, Run] = {}
        cursor: str | None = None
        agent = self.agent_id.partition(":")[0]
        reads = 0
        while reads < pages:
            reads += 1
            try:
                page, cursor = await self.foundry.list_runs(self.project, thread_id, 100, cursor)
            except NotFound:
                break
            for run in page:
                if chain is not None and run.chain == chain:
                    return run, chain, reads
                if run.id == run_id:
                    if run.continues or (run.agent and run.agent != agent):
                        raise RpcError(
                            TASK_NOT_FOUND, f"task {task_id(thread_id, run_id)} not found"
                        )
                    return newest.get(run.chain, run), run.chain, reads
                newest.setdefault(run.chain, run)
            if not cursor:
                break
            if reads == pages:
                raise _TooDeep(
                    f"task {task_id(thread_id, run_id)} lies more than {pages * 100} responses "
                    "deep in its conversation: it cannot be read"
                )
        if chain is None:  # not listed (yet): the response itself, if it is of this conversation
            run = await self._run(thread_id, run_id)
            if not (run.continues or (run.agent and run.agent != agent)):
                return run, run.chain, reads + 2
        raise RpcError(TASK_NOT_FOUND, f"task {task_id(thread_id, run_id)} not found")

    async def _run(self, thread_id: str, run_id: str) -> Run:
        try:
            return await self.foundry.get_run(self.project, thread_id, run_id)
        except NotFound:
            raise RpcError(TASK_NOT_FOUND, f"task {task_id(thread_id, run_id)} not found") from None

    async def send(
        self, request: SendMessageRequest, blocking: bool, history_length: int | None = None
    ) -> SendMessageResponse:
        """Run the message to its end (or until it exists, when not blocking)."""
        plan = self._plan(request)
        if not blocking:
            return await self._send_in_background(request, plan, history_length)
        owner = plan.tool_answer.run_id if plan.tool_answer else None
        text: list[str] = []
        annotations: list[Annotation] = []
        hint = "use streaming (message/stream, SendStreamingMessage) for long tasks"
        async with (
            runs.deadline(self.completion_deadline, "completion", hint),
            await self._start(plan) as run,
        ):
            async for event in run:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                    annotations.extend(event.annotations)
        assert run.started is not None and run.ended is not None
        task = await self._task(run.ended.run, "".join(text), annotations, owner)
        task.history.append(self._echo(request, run.started, owner))
        return SendMessageResponse(task=_limit_history(task, history_length))

    async def _send_in_background(
        self, request: SendMessageRequest, plan: RunPlan, history_length: int | None
    ) -> SendMessageResponse:
        """`returnImmediately` (0.3 `blocking: false`): the task as soon as its run exists.

        A new message starts a background run (for versioned agents a
        `background: true` response, which goes on when its stream closes and
        can be read and cancelled from any request); the stream is read only
        until the run exists. Tool results continue the waiting run in the
        same way for classic agents; a versioned agent's answer is a new
        response that stops with its stream, so it is sent blocking.
        """
        if plan.tool_answer is None:
            stream = self.foundry.start_run(
                self.project, plan.body, plan.thread_id, background=True
            )
        elif self.versioned:
            raise RpcError(
                UNSUPPORTED_OPERATION,
                "tool results for this agent continue in a new response that stops when its "
                "stream closes: send them blocking, or stream",
            )
        else:
            stream = await self._start(plan)
        async with runs.deadline(self.completion_deadline, "completion"), stream as run:
            run.detach()
            async for event in run:
                if isinstance(event, RunStarted):
                    task = TaskRef(event.thread_id, event.run_id).task(
                        _state(TaskState.TASK_STATE_SUBMITTED)
                    )
                    task.history.append(self._echo(request, event))
                    return SendMessageResponse(task=_limit_history(task, history_length))
        raise UpstreamError("Foundry stream ended before the run started")

    def _echo(
        self, request: SendMessageRequest, started: RunStarted, owner: str | None = None
    ) -> Message:
        message = Message()
        message.CopyFrom(request.message)
        message.context_id = started.thread_id
        message.task_id = task_id(started.thread_id, owner or started.run_id)
        return message

    async def _task(
        self,
        run: Run,
        text: str | None = None,
        annotations: list[Annotation] | None = None,
        owner: str | None = None,
    ) -> Task:
        """The task at a run (of task `owner`, else its own); its reply as streamed, else read."""
        ref = TaskRef(run.thread_id, owner or run.id)
        task = ref.task(_status(run, ref.id))
        parts = await self._reply(run, text, annotations or [])
        if parts:
            task.artifacts.append(_artifact(parts))
        return task

    async def _reply(self, run: Run, text: str | None, annotations: list[Annotation]) -> list[Part]:
        """The reply's parts, from its text and annotations: as streamed, else as read.

        A response carries them; a classic run's are read from the messages
        it wrote (`run_reply`, one request), as is a reply that streamed none.
        """
        found: Sequence[Annotation] = annotations
        if text is None and run.text is not None:
            text, found = run.text, run.annotations
        if text is None or (not text and run.status == "completed"):
            reply = await self.foundry.run_reply(self.project, run.thread_id, run.id)
            text, found = reply.text, reply.annotations
        return reply_parts(text, found, self.files, run.json_output)

    async def open_stream(
        self, request: SendMessageRequest
    ) -> AsyncGenerator[StreamResponse, None]:
        """Start the run (errors surface before any frame), then stream its events."""
        plan = self._plan(request)
        owner = plan.tool_answer.run_id if plan.tool_answer else None
        opened = await runs.open_started(self.foundry, self.project, await self._prepare(plan))
        return self._stream_events(opened.run, opened.started, request, owner)

    async def _stream_events(
        self,
        stream: RunStream,
        started: RunStarted,
        request: SendMessageRequest,
        owner: str | None = None,
    ) -> AsyncGenerator[StreamResponse, None]:
        ref = TaskRef(started.thread_id, owner or started.run_id)
        try:
            task = ref.task(_state(TaskState.TASK_STATE_WORKING))
            task.history.append(self._echo(request, started, owner))
            yield StreamResponse(task=task)
            chunks = 0
            reply = ReplyStream(self.files)
            async with runs.deadline(self.deadline, "stream"):
                async for event in stream:
                    if isinstance(event, TextDelta):
                        parts = reply.parts(event.text, event.annotations)
                        if parts:
                            yield ref.artifact_event(parts, append=chunks > 0, last=False)
                            chunks += 1
                    elif isinstance(event, RunEnded):
                        whole = reply.whole(event.run.json_output)
                        if whole is not None:  # structured output: the data replaces the text
                            yield ref.artifact_event(whole, append=False, last=True)
                        elif chunks:
                            yield ref.artifact_event([Part(text="")], append=True, last=True)
                        yield ref.status_event(_status(event.run, ref.id))
        except AdapterError as exc:
            failed = _state(TaskState.TASK_STATE_FAILED)
            reason = [Part(text=f"{exc.code}: {exc.message}")]
            failed.message.CopyFrom(_agent_message(ref.thread_id, ref.id, reason))
            yield ref.status_event(failed)
        finally:
            await stream.__aexit__(None, None, None)

    async def get(self, value: str, history_length: int | None = None) -> Task:
        """The task from its run; history is the agent's reply, or the question it waits on.

        The caller's own messages stay in the Foundry thread.
        """
        thread_id, run_id = _split_task_id(value)
        task = await self._task(await self._latest(thread_id, run_id), owner=run_id)
        reply = [part for artifact in task.artifacts for part in artifact.parts]
        if reply:
            task.history.append(_agent_message(thread_id, task.id, reply))
        elif task.status.HasField("message"):  # what the agent asked for, or why it failed
            task.history.append(task.status.message)
        return _limit_history(task, history_length)

    async def cancel(self, value: str) -> Task:
        thread_id, run_id = _split_task_id(value)
        run = await self._latest(thread_id, run_id)
        if run.terminal:
            raise RpcError(TASK_NOT_CANCELABLE, f"task is already {state_name(run.status)}")
        try:
            run = await runs.cancel(self.foundry, self.project, thread_id, run.id)
        except NotFound:
            raise RpcError(TASK_NOT_FOUND, f"task {value!r} not found") from None
        except AdapterError as exc:
            raise RpcError(TASK_NOT_CANCELABLE, exc.message) from None
        return await self._task(run, "", owner=run_id)

    async def subscribe(self, value: str) -> AsyncGenerator[StreamResponse, None]:
        """Follow a task by polling its run: Foundry cannot re-attach to a run's stream.

        Polls back off from `POLL_INTERVAL` to `MAX_POLL_INTERVAL` while the
        task does not change; one request reads at most `MAX_POLLS` times and
        no longer than the stream deadline, then ends for the caller to
        resubscribe.
        """
        thread_id, run_id = _split_task_id(value)
        run, chain, _ = await self._current(thread_id, run_id)
        if run.terminal:
            raise RpcError(
                UNSUPPORTED_OPERATION,
                f"task is {state_name(run.status)}: there is nothing to subscribe to; "
                "GetTask returns it",
            )
        return self._follow(TaskRef(thread_id, run_id), run, chain)

    async def _follow(
        self, ref: TaskRef, run: Run, chain: str
    ) -> AsyncGenerator[StreamResponse, None]:
        """Poll the task: one read (classic), or one page of the conversation's responses
        plus, while the newest waits for function results, that response (versioned)."""
        yield StreamResponse(task=ref.task(_status(run, ref.id)))
        deadline = time.monotonic() + self.deadline
        last = run.status
        wait, reads = POLL_INTERVAL, 0
        most = POLL_READS if self.versioned else 1
        while not run.terminal and time.monotonic() < deadline and reads + most <= MAX_POLLS:
            await asyncio.sleep(wait)
            try:
                run, _, spent = await self._current(ref.thread_id, ref.run_id, chain, pages=1)
            except _TooDeep:
                return  # more than a page of new responses: a resubscription looks further
            reads += spent
            wait = min(wait * 1.5, MAX_POLL_INTERVAL)  # a task that changes is polled anew
            if run.status != last:
                wait = POLL_INTERVAL
                last = run.status
                if last not in TERMINAL:
                    yield ref.status_event(_status(run, ref.id))
        if not run.terminal:
            return  # the deadline passed with the task still open: the caller resubscribes
        parts = await self._reply(run, None, [])
        if parts:
            yield ref.artifact_event(parts, append=False, last=True)
        yield ref.status_event(_status(run, ref.id))

    async def _context_tasks(self, context_id: str, wanted: Any) -> list[tuple[Task, Run]]:
        """The tasks of one conversation in state `wanted` (all when None), each with its run.

        None if the conversation is gone.
        """
        listed: list[Run] = []
        cursor: str | None = None
        while True:
            try:
                page, cursor = await self.foundry.list_runs(self.project, context_id, 100, cursor)
            except NotFound:
                break
            listed.extend(page)
            if not cursor:
                break
        newest: dict[str, Run] = {}  # versioned: the newest response of each chain (see `_current`)
        for run in listed:
            newest.setdefault(run.chain, run)
        tasks: list[tuple[Task, Run]] = []
        for run in listed:
            current = run
            if self.versioned:
                if run.continues:
                    continue  # a later response of a task listed by its first one
                current = newest.get(run.chain, run)
                if current.status == "requires_action" and current.tool_calls:
                    current = await self._run(context_id, current.id)  # cancelled, perhaps
            ref = TaskRef(context_id, run.id)
            task = ref.task(_status(current, ref.id))
            if wanted is None or task.status.state == wanted:
                tasks.append((task, current))
        return tasks

    async def _own_threads(self) -> list[str]:
        """The newest threads this caller started through the adapter, newest first.

        Foundry lists a project's threads, not one caller's: the adapter tags
        the threads it creates with the caller (`tags.CREATOR_CALLER`: the
        gateway key's digest or the signed-in principal, `anonymous` when the
        gateway is open), so this reads the newest `LIST_SCAN` threads of the
        project (one request per 100) and keeps the caller's, at most
        `LIST_CONTEXTS` of them. Older conversations are listed by contextId.
        """
        caller = tags.tags()[tags.CREATOR_CALLER]
        found: list[str] = []
        cursor: str | None = None
        scanned = 0
        while scanned < LIST_SCAN and len(found) < LIST_CONTEXTS:
            threads, cursor = await self.foundry.list_threads(self.project, 100, cursor)
            scanned += len(threads)
            for thread in threads:
                metadata = thread.get("metadata") or {}
                if tags.is_tagged(metadata) and metadata.get(tags.CREATOR_CALLER) == caller:
                    found.append(str(thread["id"]))
            if not cursor or not threads:
                break
        return found[:LIST_CONTEXTS]

    async def list(self, request: ListTasksRequest) -> ListTasksResponse:
        """The caller's tasks, newest first: of one conversation, or of every one it started.

        With a `contextId`, the runs of that conversation (one request per
        100); one that names no conversation of this agent is an empty page.
        Without, the conversations this caller started (see `_own_threads`):
        classic agents only, as Foundry lists threads but not conversations.
        Every call reads all the runs it lists, so `totalSize` is exact and
        the page token is an offset into them.
        """
        limit = request.page_size if request.HasField("page_size") else 50
        offset = _page_offset(request.page_token)
        response = ListTasksResponse(page_size=limit)
        if request.context_id and not THREAD_ID.fullmatch(request.context_id):
            return response
        wanted = request.status or None
        tasks: list[tuple[Task, Run]] = []
        try:
            contexts = [request.context_id] if request.context_id else await self._own_threads()
            for context_id in contexts:
                tasks.extend(await self._context_tasks(context_id, wanted))
        except AdapterError as exc:
            if exc.code == "unsupported_operation":
                raise RpcError(
                    UNSUPPORTED_OPERATION, f"ListTasks needs params.contextId: {exc.message}"
                ) from None
            raise
        tasks.sort(key=lambda pair: pair[0].status.timestamp.seconds, reverse=True)  # stable
        page = tasks[offset : offset + limit]
        if request.include_artifacts:  # the reply as GetTask reads it (a classic run's: read)
            for task, run in page:
                parts = await self._reply(run, None, [])
                if parts:
                    task.artifacts.append(_artifact(parts))
        response.tasks.extend(task for task, _ in page)
        response.total_size = len(tasks)
        if offset + limit < len(tasks):
            response.next_page_token = str(offset + limit)
        return response


class _TooDeep(RpcError):
    """A task deeper in its conversation than one lookup reads."""

    def __init__(self, message: str) -> None:
        super().__init__(INTERNAL_ERROR, message)


def _tool_outputs(value: Any) -> list[dict[str, str]]:
    """`tool_outputs`: a list of `{"tool_call_id": <string>, "output": ...}` (else -32602)."""
    shape = (
        'send a data part {"tool_outputs": [{"tool_call_id": "<id from the task\'s '
        'tool_calls>", "output": "<result>"}]}'
    )
    if not isinstance(value, list):
        raise RpcError(INVALID_PARAMS, f"tool_outputs must be a list: {shape}")
    outputs: list[dict[str, str]] = []
    for index, output in enumerate(value):
        if not isinstance(output, dict):
            raise RpcError(INVALID_PARAMS, f"tool_outputs[{index}] must be an object: {shape}")
        call_id = output.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise RpcError(
                INVALID_PARAMS, f"tool_outputs[{index}].tool_call_id must be a string: {shape}"
            )
        outputs.append({"tool_call_id": call_id, "output": _text(output.get("output"))})
    return outputs


def _page_offset(token: str) -> int:
    if token and not token.isdigit():
        raise RpcError(INVALID_PARAMS, "params.pageToken is not a token this agent issued")
    return int(token or 0)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
