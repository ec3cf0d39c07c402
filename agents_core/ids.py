"""Ids that belong to the caller and the agent they were issued to.

With more than one possible caller (gateway keys with different names, or
App Service Authentication), every upstream id the adapter hands out is
sealed: `<upstream id>-<tag>`, the tag being 16 base64url characters (96
bits) of HMAC-SHA256 over the id's kind, the caller, the agent and the
upstream id, keyed by `ID_SIGNING_KEY`. Thread (conversation), run
(response) and file ids are sealed one by one; every composite id the front
doors build from them (tool-call ids, response and item ids, A2A task ids)
is made of sealed parts and so belongs to the same caller. An id that does
not verify is answered exactly like an id that does not exist, before any
upstream request. Nothing is stored, nothing is asked upstream.

With a single possible caller (one key name, or open) ids are the upstream's
own, as handed out before, and raw ids are accepted.

`OwnedClient` applies this at one place: it wraps an `AgentClient` for one
caller and agent, opening every id that goes upstream and sealing every id
that comes back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import httpx

from agents_core.auth import CallerAuth
from agents_core.errors import NotFound
from agents_core.foundry.transport import (
    AgentClient,
    Project,
    RunEnded,
    RunEvent,
    RunStarted,
    RunStream,
    TextDelta,
)
from agents_core.foundry.types import AgentInfo, Annotation, Run, RunReply

__all__ = ["IdSigner", "OwnedClient"]

Kind = Literal["thread", "run", "file"]
TAG_CHARS = 16
MIN_KEY_CHARS = 32
DERIVATION = b"agents_core id signing key v1"


@dataclass(frozen=True)
class IdSigner:
    """Seals and opens ids; the first key seals, every key opens (rotation)."""

    keys: tuple[bytes, ...]
    source: str

    @classmethod
    def configure(cls, configured: str, callers: CallerAuth) -> IdSigner | None:
        """The signer for these callers, or None when only one caller can exist.

        Unset, the key is derived from the gateway keys or, for Easy Auth
        principals alone, made at random for this process. Raise `ValueError`
        (naming no value) for keys that are not keys.
        """
        entries = [part.strip() for part in configured.split(",") if part.strip()]
        for entry in entries:
            if entry.lower().startswith("@microsoft.keyvault("):
                raise ValueError(
                    "holds an unresolved Key Vault reference: grant the app's identity "
                    "'Key Vault Secrets User' on the vault and check the secret URI"
                )
            if len(entry) < MIN_KEY_CHARS:
                raise ValueError(f"holds a key shorter than {MIN_KEY_CHARS} characters")
        if callers.single_identity:
            return None
        if entries:
            return cls(tuple(entry.encode() for entry in entries), "ID_SIGNING_KEY")
        digests = callers.key_digests()
        if not digests:
            # Easy Auth principals alone: nothing to derive from. Ids then last as long
            # as this process, and each instance has its own (the banner says so).
            return cls((secrets.token_bytes(32),), "random")
        derived = hmac.new(DERIVATION, b"".join(digests), hashlib.sha256).digest()
        return cls((derived,), "derived from GATEWAY_API_KEYS")

    @staticmethod
    def describe(signer: IdSigner | None) -> str:
        """How ids are issued, for the start-up banner."""
        if signer is None:
            return "upstream ids as they are (a single caller)"
        if signer.source == "ID_SIGNING_KEY":
            previous = len(signer.keys) - 1
            return "sealed per caller and agent with ID_SIGNING_KEY" + (
                f" ({previous} previous key{'s' if previous > 1 else ''} still accepted)"
                if previous
                else ""
            )
        if signer.source == "random":
            return (
                "sealed per caller and agent with a key made at start-up: ids stop working "
                "on restart and on other instances; set ID_SIGNING_KEY"
            )
        return (
            "sealed per caller and agent with a key derived from GATEWAY_API_KEYS "
            "(changing the key list invalidates issued ids: set ID_SIGNING_KEY)"
        )

    def seal(self, kind: Kind, caller: str, agent: str, value: str) -> str:
        return f"{value}-{self._tag(self.keys[0], kind, caller, agent, value)}"

    def open(self, kind: Kind, caller: str, agent: str, value: str) -> str | None:
        """The upstream id inside `value`, or None unless it was sealed for this caller."""
        if len(value) <= TAG_CHARS + 1 or value[-TAG_CHARS - 1] != "-":
            return None
        inner, tag = value[: -TAG_CHARS - 1], value[-TAG_CHARS:]
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(self._tag(key, kind, caller, agent, inner), tag)
        return inner if matched else None

    @staticmethod
    def _tag(key: bytes, kind: Kind, caller: str, agent: str, value: str) -> str:
        message = "\0".join((kind, caller, agent, value)).encode()
        digest = hmac.new(key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:12]).decode()


class OwnedClient:
    """An `AgentClient` whose ids belong to one caller and one agent (see module docstring)."""

    def __init__(self, inner: AgentClient, signer: IdSigner, caller: str, agent: str) -> None:
        self._inner = inner
        self._signer = signer
        self._caller = caller
        self._agent = agent

    def start_run(
        self,
        project: Project,
        body: dict[str, Any],
        thread_id: str | None = None,
        *,
        background: bool = False,
    ) -> RunStream:
        thread = self._open_thread(thread_id) if thread_id is not None else None
        return self._own(self._inner.start_run(project, body, thread, background=background))

    async def continue_run(
        self,
        project: Project,
        agent_id: str,
        thread_id: str,
        run_id: str | None,
        outputs: list[dict[str, str]],
    ) -> RunStream:
        thread = self._open_thread(thread_id)
        run = self._open_run(run_id) if run_id is not None else None
        return self._own(await self._inner.continue_run(project, agent_id, thread, run, outputs))

    async def get_run(self, project: Project, thread_id: str, run_id: str) -> Run:
        thread, run = self._open_thread(thread_id), self._open_run(run_id)
        return self._run(await self._inner.get_run(project, thread, run))

    async def cancel_run(self, project: Project, thread_id: str, run_id: str) -> Run:
        thread, run = self._open_thread(thread_id), self._open_run(run_id)
        return self._run(await self._inner.cancel_run(project, thread, run))

    async def get_agent(self, project: Project, agent_id: str) -> AgentInfo:
        return await self._inner.get_agent(project, agent_id)

    async def run_reply(self, project: Project, thread_id: str, run_id: str) -> RunReply:
        thread, run = self._open_thread(thread_id), self._open_run(run_id)
        reply = await self._inner.run_reply(project, thread, run)
        return replace(reply, annotations=self._annotations(reply.annotations))

    async def list_runs(
        self, project: Project, thread_id: str, limit: int, after: str | None
    ) -> tuple[list[Run], str | None]:
        found, cursor = await self._inner.list_runs(
            project, self._open_thread(thread_id), limit, after
        )
        return [self._run(run) for run in found], cursor

    async def list_threads(
        self, project: Project, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        found, cursor = await self._inner.list_threads(project, limit, after)
        owned = [{**thread, "id": self._seal("thread", str(thread["id"]))} for thread in found]
        return owned, cursor

    def cancel_in_background(self, project: Project, thread_id: str, run_id: str) -> None:
        thread, run = self._open_thread(thread_id), self._open_run(run_id)
        self._inner.cancel_in_background(project, thread, run)

    async def open_file(
        self, project: Project, file_id: str, container_id: str | None = None
    ) -> httpx.Response:
        inner = self._signer.open("file", self._caller, self._agent, f"{container_id}/{file_id}")
        if inner is None:
            raise NotFound("no file with this id", code="file_not_found", param="file_id")
        return await self._inner.open_file(project, file_id[: -TAG_CHARS - 1], container_id)

    def _open_thread(self, value: str) -> str:
        inner = self._signer.open("thread", self._caller, self._agent, value)
        if inner is None:
            raise NotFound("no thread or conversation with this id", code="thread_not_found")
        return inner

    def _open_run(self, value: str) -> str:
        inner = self._signer.open("run", self._caller, self._agent, value)
        if inner is None:
            raise NotFound("no run with this id", code="run_not_found")
        return inner

    def _seal(self, kind: Kind, value: str) -> str:
        return self._signer.seal(kind, self._caller, self._agent, value)

    def _own(self, stream: RunStream) -> RunStream:
        """The same stream, reporting sealed ids and cancelling through this client."""
        decode = stream.decode

        def owned(name: str, payload: Any) -> RunEvent | None:
            return self._event(decode(name, payload))

        started = stream.started
        return replace(
            stream,
            client=self,
            decode=owned,
            started=None if started is None else self._started(started),
        )

    def _event(self, event: RunEvent | None) -> RunEvent | None:
        if isinstance(event, RunStarted):
            return self._started(event)
        if isinstance(event, TextDelta) and event.annotations:
            return replace(event, annotations=self._annotations(event.annotations))
        if isinstance(event, RunEnded):
            return RunEnded(self._run(event.run))
        return event

    def _started(self, event: RunStarted) -> RunStarted:
        return RunStarted(self._seal("thread", event.thread_id), self._seal("run", event.run_id))

    def _run(self, run: Run) -> Run:
        return replace(
            run,
            id=self._seal("run", run.id),
            thread_id=self._seal("thread", run.thread_id),
            annotations=self._annotations(run.annotations),
        )

    def _annotations(self, annotations: Sequence[Annotation]) -> tuple[Annotation, ...]:
        return tuple(
            replace(item, file_id=self._file(item.file_id, item.container_id))
            if item.file_id
            else item
            for item in annotations
        )

    def _file(self, file_id: str, container_id: str | None) -> str:
        tag = self._seal("file", f"{container_id}/{file_id}")[-TAG_CHARS:]
        return f"{file_id}-{tag}"
