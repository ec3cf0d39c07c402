"""What every Foundry upstream shares: transport, errors, normalized run events.

Foundry runs agents two ways: classic agents (`asst_...`) through
threads and runs (`foundry.threads`), versioned agents (`name:version`)
through the Responses API and conversations (`foundry.responses`). Both
clients implement `AgentClient` and surface a run as the same few events
(`RunStarted`, `TextDelta`, `RunEnded` with a typed `Run`), so
translation modules never ask which kind of agent they talk to.
Upstream failures are translated to `agents_core.errors` here only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Mapping,
)
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, Self
from urllib.parse import urlencode

import httpx

from agents_core import json_codec, telemetry
from agents_core.errors import (
    REQUEST_ID,
    AdapterError,
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    UpstreamAuthError,
    UpstreamError,
    UpstreamTimeout,
)
from agents_core.foundry.types import AgentInfo, Annotation, Run, RunReply
from agents_core.sse import SSEDecoder

__all__ = [
    "AgentClient",
    "AgentDefinitions",
    "Api",
    "Project",
    "RunEnded",
    "RunEvent",
    "RunStarted",
    "RunStream",
    "TextDelta",
    "Transport",
    "cancel_in_background",
]

log = logging.getLogger("agents_core.foundry")

Api = Literal["agents", "projects", "openai"]
RETRYABLE_STATUS = {429, 503}
BUSY = re.compile(r"while a run \S+ is active|already has an active run", re.IGNORECASE)
_background: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class Project:
    """Where to send a request and as whom: endpoint plus a resolved Bearer token.

    `agent` names the agent the request is for (in log lines only).
    """

    endpoint: str
    token: str
    credential: str = "token"
    agent: str = ""


@dataclass(frozen=True)
class RunStarted:
    thread_id: str
    run_id: str


@dataclass(frozen=True)
class TextDelta:
    text: str
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True)
class RunEnded:
    """The run's last state as reported upstream: terminal, or `requires_action`."""

    run: Run

    @property
    def status(self) -> str:
        return self.run.status


RunEvent = RunStarted | TextDelta | RunEnded


MAX_RETRY_AFTER = 60.0


def _retry_after(response: httpx.Response) -> float | None:
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return _sane_wait(float(millis) / 1000)
        except ValueError:
            pass
    seconds = response.headers.get("retry-after")
    if seconds:
        try:
            return _sane_wait(float(seconds))
        except ValueError:
            return None
    return None


def _sane_wait(seconds: float) -> float | None:
    """An upstream wait hint clamped to (0, 60] s; zero, negative and NaN hints are ignored."""
    if not seconds > 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def _request_id(response: httpx.Response) -> str | None:
    value = response.headers.get("apim-request-id") or response.headers.get("x-request-id")
    return str(value) if value else None


@dataclass(frozen=True)
class UpstreamFailure:
    """What a Foundry error body says: `{"error": {"code", "message", "param"?, "details"?}}`.

    Foundry's validation errors say only "Invalid payload" at the top and
    put each field in `details[]` (contract, "Errors"): those become the
    message and the first detail's `param`.
    """

    code: str | None
    message: str
    param: str | None

    @classmethod
    def parse(cls, body: bytes) -> UpstreamFailure:
        try:
            payload = json_codec.loads(body)
        except ValueError:
            return cls(None, body[:300].decode("utf-8", "replace").strip(), None)
        error = payload.get("error", payload) if isinstance(payload, dict) else {}
        if not isinstance(error, dict):
            return cls(None, "", None)
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = str(error.get("message") or "")
        param = error.get("param") if isinstance(error.get("param"), str) else None
        details = [d for d in error.get("details") or [] if isinstance(d, dict)]
        said = [
            f"{d['param']}: {d.get('message') or d.get('code') or 'invalid'}"
            if isinstance(d.get("param"), str)
            else str(d.get("message") or "")
            for d in details
        ]
        said = [text for text in said if text]
        if said:
            message = f"{message} ({'; '.join(said)})" if message else "; ".join(said)
        named = [d["param"] for d in details if isinstance(d.get("param"), str)]
        param = param or (named[0] if named else None)
        return cls(code, message, param)


def printable(text: str) -> str:
    """`text` fit for one log line: control and bidirectional characters escaped.

    Upstream messages quote caller input ("Conversation with id '…' not found"),
    so a CR/LF in an id could otherwise forge log lines.
    """
    return "".join(
        char if char.isprintable() and not 0x202A <= ord(char) <= 0x202E else repr(char)[1:-1]
        for char in text
    )


def upstream_error(response: httpx.Response, body: bytes, project: Project) -> AdapterError:
    """Translate a non-2xx upstream response into the error the caller gets.

    The upstream code is kept (`upstream_code`) whatever the status, and
    the failure is logged once with both request ids, never with a secret.
    """
    failure = UpstreamFailure.parse(body)
    status = response.status_code
    message = failure.message or response.reason_phrase or f"HTTP {status}"
    request_id = _request_id(response)
    log.warning(
        "Foundry answered %s %s (request %s, Foundry request %s, agent %s): %s",
        status,
        failure.code or "-",
        REQUEST_ID.get(),
        request_id or "-",
        project.agent or "-",
        printable(message[:300]),
    )
    error = _classify(status, message, failure, response, project)
    error.upstream_request_id = request_id
    error.upstream_code = failure.code
    return error


def _classify(
    status: int,
    message: str,
    failure: UpstreamFailure,
    response: httpx.Response,
    project: Project,
) -> AdapterError:
    if status in (401, 403):
        return UpstreamAuthError(
            f"Foundry refused the {project.credential} ({status}): {message}. Give that identity "
            "the 'Azure AI User' role on the Foundry project."
        )
    if status == 404:
        lowered = message.lower()
        code = "model_not_found" if "assistant" in lowered or "agent" in lowered else None
        code = code or ("thread_not_found" if "thread" in lowered else "not_found")
        return NotFound(f"Foundry: {message}", code=code)
    if status == 409:
        return Conflict(f"Foundry: {message}", code=failure.code)
    if status == 429:
        retry = _retry_after(response) or 1
        return RateLimited(f"Foundry is throttling: {message}", retry_after=retry)
    if status == 503:
        retry = _retry_after(response) or 1
        return ServiceUnavailable(f"Foundry is unavailable: {message}", retry_after=retry)
    if status == 400 and (failure.code == "conversation_locked" or BUSY.search(message)):
        # Contract rule 8 / 22: one active run per thread, one response per conversation.
        # The other run's id is the other caller's business: it is not repeated.
        return Conflict(
            "this thread or conversation has an active run: another request's run is still "
            "going, or a run waits for tool results (answer its tool_calls, or continue on a "
            "new thread); retry when it has finished",
            code="thread_busy",
            retry_after=1,
        )
    if 400 <= status < 500:
        return InvalidRequest(
            f"Foundry rejected the request: {message}", code=failure.code, param=failure.param
        )
    return UpstreamError(f"Foundry failed ({status}): {message}", code=failure.code)


SEGMENT = re.compile(r"[A-Za-z0-9_.:~-]+")


def _check_path(path: str) -> None:
    """Refuse a path that could leave the route it names: every segment one plain token.

    Ids are checked against their grammar where they enter; this is the last
    line: no `..`, `.`, empty segment, `%`, `?`, `#`, backslash, blank or
    control character ever reaches the upstream URL.
    """
    segments = path.split("/")
    if (
        segments[0]
        or len(segments) < 2
        or any(not SEGMENT.fullmatch(part) or part in (".", "..") for part in segments[1:])
    ):
        raise InvalidRequest("the request names an id that is not valid", code="invalid_request")


class AgentDefinitions:
    """Agent definitions read from a project, kept five minutes (at most 1,000 at once).

    The classic client reads an agent's tools, the versioned client an agent
    version's functions: once per agent per five minutes, not per turn.
    """

    TTL = 300.0
    LIMIT = 1000

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    async def get(
        self, project: Project, key: str, read: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """The cached definition of `key` in `project`, or `await read()` when stale."""
        entry = (project.endpoint, key)
        cached = self._entries.get(entry)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        definition = await read()
        if len(self._entries) >= self.LIMIT:
            self._entries.clear()
        self._entries[entry] = (time.monotonic() + self.TTL, definition)
        return definition


USER_AGENT = "foundry-agents-adapter/1.0"


@functools.lru_cache(maxsize=256)
def _url(text: str) -> httpx.URL:
    """Parsed once: httpx parses URLs in Python (about 0.1 ms each), and most turns
    send to the same few (`/threads/runs`, `/openai/v1/responses`, ...)."""
    return httpx.URL(text)


DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class Transport:
    """Requests to Foundry projects over the one shared upstream transport.

    Requests go straight to the `httpx` transport (the pooled aiohttp
    session in production, `httpx.MockTransport` in tests), not through an
    `httpx.AsyncClient`: the client's auth, redirect, cookie and logging
    layers do nothing here and only add work to every request.
    `timeout` applies to every request (connect, read, write, pool; seconds).
    """

    def __init__(
        self,
        upstream: httpx.AsyncBaseTransport,
        api_version: str,
        retry_deadline: float,
        projects_api_version: str = "v1",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._upstream = upstream
        self._timeout = timeout.as_dict()
        self._versions: dict[Api, str | None] = {
            "agents": api_version,
            "projects": projects_api_version,
            "openai": None,
        }
        self._retry_deadline = retry_deadline

    def build(
        self,
        project: Project,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        *,
        api: Api = "agents",
    ) -> httpx.Request:
        """A request to `path` under the project, with the `?api-version=` of its `api`.

        `agents`: the classic routes (`AZURE_AI_AGENTS_API_VERSION`);
        `projects`: `/agents/{name}` (`AZURE_AI_PROJECTS_API_VERSION`, only `v1`
        exists); `openai`: `/openai/v1/...`, which takes none (contract,
        "Versioned agents").
        """
        _check_path(path)
        version = self._versions[api]
        query = {"api-version": version} if version else {}
        if params:
            query.update(params)
        text = f"{project.endpoint}{path}"
        if query:
            text = f"{text}?{urlencode(query)}"
        url = _url(text)
        headers = {
            "Authorization": f"Bearer {project.token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if body is None:
            return httpx.Request(method, url, headers=headers)
        headers["Content-Type"] = "application/json"
        # Built directly (`AsyncClient.build_request` took 175 us, this 69 us).
        # The body lives as long as a streamed run: copied to its own size
        # (orjson's output keeps a 4 KiB buffer, a tenth of an open stream's memory).
        content = bytes(memoryview(json_codec.dumps(body)))
        return httpx.Request(method, url, headers=headers, content=content)

    async def send(
        self, request: httpx.Request, project: Project, *, stream: bool
    ) -> httpx.Response:
        """Send with retries that can never duplicate a run.

        Only failures that prove the upstream did not act are retried: a
        connection that never opened, and 429 / 503 answers. Waits honour
        `retry-after-ms` / `Retry-After` within the retry deadline.
        """
        deadline = time.monotonic() + self._retry_deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._send_once(request, stream=stream)
            except httpx.ConnectError as exc:
                wait = min(0.2 * 2**attempt, 2.0)
                if time.monotonic() + wait > deadline:
                    raise UpstreamError(
                        f"cannot reach Foundry at {project.endpoint}: {type(exc).__name__}",
                        code="upstream_unreachable",
                    ) from exc
            except httpx.TimeoutException as exc:
                raise UpstreamTimeout("Foundry did not answer in time") from exc
            except httpx.HTTPError as exc:
                raise UpstreamError(f"Foundry connection failed: {type(exc).__name__}") from exc
            else:
                if response.status_code < 400:
                    return response
                body = await response.aread()
                await response.aclose()
                error = upstream_error(response, body, project)
                wait = _retry_after(response) or min(0.5 * 2**attempt, 4.0)
                if (
                    response.status_code not in RETRYABLE_STATUS
                    or time.monotonic() + wait > deadline
                ):
                    raise error
                log.info("Foundry answered %s; retrying in %.2fs", response.status_code, wait)
            await asyncio.sleep(wait)

    async def _send_once(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        request.extensions["timeout"] = self._timeout
        response = await self._upstream.handle_async_request(request)
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def json(self, request: httpx.Request, project: Project) -> dict[str, Any]:
        """One JSON request; the decoded JSON object of a 2xx answer."""
        response = await self.send(request, project, stream=False)
        try:
            payload = json_codec.loads(response.content)
        except ValueError:
            raise UpstreamError("Foundry returned a body that is not JSON") from None
        if not isinstance(payload, dict):
            raise UpstreamError("Foundry returned an unexpected JSON value")
        return payload


class AgentClient(Protocol):
    """Runs of one kind of agent, in the normalized shape (see module docstring)."""

    def start_run(
        self,
        project: Project,
        body: dict[str, Any],
        thread_id: str | None = None,
        *,
        background: bool = False,
    ) -> RunStream:
        """Start a run from a threads-API run body (on a new thread when `thread_id` is None).

        `background`: the run goes on upstream when the stream closes early
        (non-blocking sends); the stream is detached.
        """
        ...

    async def continue_run(
        self,
        project: Project,
        agent_id: str,
        thread_id: str,
        run_id: str | None,
        outputs: list[dict[str, str]],
    ) -> RunStream:
        """Answer a run that asked for function results (`tool_call_id`, `output`).

        `run_id` None: the run waiting on the thread (found by one listing).
        """
        ...

    async def get_run(self, project: Project, thread_id: str, run_id: str) -> Run: ...

    async def cancel_run(self, project: Project, thread_id: str, run_id: str) -> Run: ...

    async def get_agent(self, project: Project, agent_id: str) -> AgentInfo: ...

    async def run_reply(self, project: Project, thread_id: str, run_id: str) -> RunReply:
        """A run's reply read back (text and annotations), for when its stream is not at hand."""
        ...

    async def list_runs(
        self, project: Project, thread_id: str, limit: int, after: str | None
    ) -> tuple[list[Run], str | None]:
        """Runs of a thread, newest first, and the cursor of the next page."""
        ...

    async def list_threads(
        self, project: Project, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The project's threads (`id`, `created_at`, `metadata`), newest first, and the cursor.

        Conversations cannot be listed: versioned agents raise `unsupported_operation`.
        """
        ...

    def cancel_in_background(self, project: Project, thread_id: str, run_id: str) -> None: ...

    async def open_file(
        self, project: Project, file_id: str, container_id: str | None = None
    ) -> httpx.Response:
        """A file's content as a streamed response (the caller closes it).

        `container_id`: a code-interpreter file of a versioned agent's container.
        """
        ...


def cancel_in_background(cancel: Callable[[], Awaitable[Any]], what: str) -> None:
    """Run `cancel()` detached from the caller (who is going away), logging failures."""

    async def run() -> None:
        try:
            await cancel()
            log.info("cancelled abandoned %s", what)
        except AdapterError as exc:
            log.warning("could not cancel %s: %s", what, exc.message)

    _detach(run())


def _detach(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` as a task nobody awaits, kept referenced until it ends."""
    task = asyncio.get_running_loop().create_task(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


Decoder = Callable[[str, Any], "RunEvent | None"]


@dataclass
class RunStream:
    """A streamed run: `async with client.start_run(...) as events: async for e in events`.

    `open` sends the request(s) that start the stream; `decode` turns each
    `(event name, JSON payload)` into a normalized event. Leaving the block
    before the run ended (error, deadline, caller gone) cancels the run
    upstream, so nothing keeps running and billing. `dropped` names what
    the client left out of the request once it was open (reported to the
    caller).
    """

    client: AgentClient
    project: Project
    open: Callable[[], Awaitable[httpx.Response]]
    decode: Decoder
    started: RunStarted | None = None
    ended: RunEnded | None = None
    dropped: list[str] = field(default_factory=list)
    _response: httpx.Response | None = field(default=None, repr=False)
    _iterator: AsyncGenerator[RunEvent, None] | None = field(default=None, repr=False)
    _chunks: AsyncIterator[bytes] | None = field(default=None, repr=False)
    _detached: bool = field(default=False, repr=False)

    def detach(self) -> None:
        """Let the run go on upstream when this stream closes (A2A non-blocking sends)."""
        self._detached = True

    async def __aenter__(self) -> Self:
        self._response = await self.open()
        self.open = _opened  # its request (the whole prompt) is not kept while the run streams
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        response, self._response = self._response, None
        if response is None:
            return  # never opened, or already closed
        if self.started is not None and self.ended is None and not self._detached:
            # Scheduled first, so that nothing below can skip it.
            self.client.cancel_in_background(
                self.project, self.started.thread_id, self.started.run_id
            )
        iterator, self._iterator = self._iterator, None
        try:
            if iterator is not None:
                await iterator.aclose()
        finally:
            if self.ended is not None and self._chunks is not None:
                _detach(_drain_and_close(self._chunks, response))
            else:
                await response.aclose()

    def __aiter__(self) -> AsyncGenerator[RunEvent, None]:
        """One iterator per stream: a second `async for` resumes where the first stopped."""
        if self._iterator is None:
            self._iterator = self._events()
        return self._iterator

    async def _events(self) -> AsyncGenerator[RunEvent, None]:
        assert self._response is not None, "use RunStream inside `async with`"
        if self.started is not None:
            yield self.started  # a continued run (tool outputs) is known before it streams
        decoder = SSEDecoder()
        chunks = self._chunks = _body_chunks(self._response)
        try:
            async for chunk in chunks:
                for frame in decoder.feed(chunk):
                    event = self._translate(frame.event, frame.data)
                    if event is not None:
                        yield event
                    if self.ended is not None:
                        return  # the rest of the body is read on exit, off the caller's path
            for frame in decoder.close():
                event = self._translate(frame.event, frame.data)
                if event is not None:
                    yield event
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("Foundry stopped sending events (read timeout)") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"Foundry stream broke: {type(exc).__name__}",
                code="upstream_stream_error",
            ) from exc
        if self.ended is None:
            raise UpstreamError(
                "Foundry stream ended before the run finished",
                code="upstream_stream_error",
            )

    def _translate(self, name: str, data: str) -> RunEvent | None:
        if name == "done" or data == "[DONE]":
            return None
        try:
            payload = json_codec.loads(data)
        except ValueError:
            return None
        if name == "error":
            error = payload.get("error", payload) if isinstance(payload, dict) else {}
            error = error if isinstance(error, dict) else {}
            raise UpstreamError(
                f"Foundry stream error: {error.get('message') or data[:300]}",
                code=str(error.get("code") or "upstream_stream_error"),
            )
        event = self.decode(name, payload)
        if isinstance(event, RunStarted):
            if self.started is not None:
                return None
            self.started = event
            telemetry.run_started(event.thread_id, event.run_id)
        elif isinstance(event, RunEnded):
            self.ended = event
            telemetry.run_ended(event.run)
        return event


async def _opened() -> httpx.Response:
    raise RuntimeError("a run stream opens once")


def _body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body's bytes as they arrive: straight from the transport when not encoded.

    `Response.aiter_bytes` adds two generator layers, a decoder and a chunker
    per upstream read (a tenth of a completion's own CPU); an event stream is
    never compressed in practice, and when it is, httpx decodes it.
    """
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity") and isinstance(response.stream, httpx.AsyncByteStream):
        return response.stream.__aiter__()
    return response.aiter_bytes()


async def _drain_and_close(chunks: AsyncIterator[bytes], response: httpx.Response) -> None:
    """Read what follows the run's last event (`done`, the end of the body), then close.

    A response read to its end goes back to the pool; one closed early costs
    the next request a new connection (and TLS handshake). Bounded: an
    upstream that keeps the body open loses the connection instead.
    """
    try:
        with contextlib.suppress(TimeoutError, httpx.HTTPError):
            async with asyncio.timeout(1.0):
                async for _ in chunks:
                    pass
    finally:
        await response.aclose()
