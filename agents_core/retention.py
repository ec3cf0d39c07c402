"""Threads that do not pile up: delete adapter-created threads idle beyond the retention.

A pass (`THREAD_RETENTION_DAYS`; 0 keeps everything) walks each configured
project's threads oldest first (`GET /threads?order=asc`), and deletes a
thread only when all of these hold:

- it carries the adapter's tags (`agents_core.tags`): threads created by
  anyone else are never touched, whatever their age;
- it was created before the cutoff, and its newest message too (one
  `GET /threads/{t}/messages?limit=1&order=desc`), so a thread still in use
  stays however old it is.

Passes are bounded: at most `THREAD_CLEANUP_BATCH` deletions and a fixed
number of threads examined per project, one request at a time, stopping a
project at the first throttling answer that outlasts the transport's own
retries (`Retry-After` honoured); the next pass carries on. Listing stops at
the first thread newer than the cutoff.

Conversations (versioned agents) cannot be listed: Foundry has no list
route for them. They are tagged the same way, and a pass can be given their
ids (from the per-turn log lines, see README "Retention") to check and
delete the idle tagged ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from agents_core import tags
from agents_core.config import Credential
from agents_core.errors import AdapterError, NotFound, RateLimited, ServiceUnavailable
from agents_core.foundry.transport import Api, Project

if TYPE_CHECKING:
    from agents_core.runtime import Runtime

__all__ = ["Cleanup", "CleanupReport", "ProjectReport", "scheduled_cleanup"]

log = logging.getLogger("agents_core.retention")
PAGE = 100
MAX_EXAMINED = 5000
DAY = 86400.0
CONVERSATIONS_NOTE = (
    "conversations cannot be listed (Foundry has no list route for them); pass their ids "
    "(python -m agents_core cleanup --conversations FILE) to clean them up"
)


@dataclass
class ProjectReport:
    """What one pass did in one project."""

    endpoint: str
    examined: int = 0
    deleted: int = 0
    active: int = 0
    """Tagged and old enough, but used within the retention: kept."""
    untagged: int = 0
    """Older than the cutoff but not created by the adapter: never touched."""
    conversations_deleted: int = 0
    stopped: str | None = None
    """Why the pass ended early in this project (more may remain), or None."""


@dataclass
class CleanupReport:
    retention_days: int
    cutoff: float
    projects: list[ProjectReport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    note: str = CONVERSATIONS_NOTE

    @property
    def deleted(self) -> int:
        return sum(p.deleted + p.conversations_deleted for p in self.projects)

    def lines(self) -> list[str]:
        if self.retention_days == 0:
            return ["THREAD_RETENTION_DAYS is 0: threads and conversations are kept forever"]
        cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.cutoff))
        lines = [f"retention {self.retention_days} days: idle since before {cutoff} is deleted"]
        for p in self.projects:
            lines.append(
                f"{p.endpoint}: examined {p.examined} threads, deleted {p.deleted}, kept "
                f"{p.active} still in use, left {p.untagged} not created by the adapter; "
                f"deleted {p.conversations_deleted} conversations"
                + (f"; stopped early: {p.stopped}" if p.stopped else "")
            )
        lines.extend(f"skipped {reason}" for reason in self.skipped)
        lines.append(self.note)
        return lines

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Cleanup:
    """One bounded retention pass over every configured project."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        retention_days: int | None = None,
        batch: int | None = None,
        now: float | None = None,
        max_examined: int = MAX_EXAMINED,
    ) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self.retention_days = (
            settings.thread_retention_days if retention_days is None else retention_days
        )
        self.batch = settings.thread_cleanup_batch if batch is None else batch
        self.cutoff = (time.time() if now is None else now) - self.retention_days * DAY
        self.max_examined = max_examined

    async def run(self, conversation_ids: Iterable[str] = ()) -> CleanupReport:
        report = CleanupReport(self.retention_days, self.cutoff)
        if self.retention_days == 0:
            return report
        conversations = [c.strip() for c in conversation_ids if c.strip()]
        for endpoint, credential in self._projects(report):
            result = ProjectReport(endpoint)
            report.projects.append(result)
            try:
                token = await self._runtime.tokens.token(credential, {})
                project = Project(endpoint, token, self._runtime.tokens.describe(credential))
                await self._threads(project, result)
                conversations = await self._conversations(project, result, conversations)
            except (RateLimited, ServiceUnavailable) as exc:
                result.stopped = f"throttled by Foundry ({exc.message}); the next pass continues"
            except AdapterError as exc:
                result.stopped = f"{exc.code or 'error'}: {exc.message}"
        for line in report.lines():
            log.info("cleanup: %s", line)
        return report

    def _projects(self, report: CleanupReport) -> list[tuple[str, Credential]]:
        """Each distinct project endpoint once, with the credential configured for it."""
        registry = self._runtime.registry
        found: dict[str, Credential] = {}
        candidates = [(spec.endpoint, spec.credential) for spec in registry.agents.values()]
        if registry.default_endpoint:
            candidates.append((registry.default_endpoint, registry.default_credential))
        for endpoint, credential in candidates:
            if endpoint in found:
                continue
            if credential.kind == "passthrough":
                report.skipped.append(
                    f"{endpoint}: its agents use the caller's own token (auth: passthrough); "
                    "the adapter has no identity there to clean up with"
                )
                continue
            found[endpoint] = credential
        return list(found.items())

    async def _json(
        self,
        project: Project,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        api: Api = "agents",
    ) -> dict[str, Any]:
        transport = self._runtime.transport
        request = transport.build(project, method, path, params=params, api=api)
        return await transport.json(request, project)

    async def _threads(self, project: Project, result: ProjectReport) -> None:
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE, "order": "asc"}
            if after:
                params["after"] = after
            page = await self._json(project, "GET", "/threads", params)
            threads = [t for t in page.get("data") or [] if isinstance(t, dict)]
            for thread in threads:
                if _number(thread.get("created_at")) >= self.cutoff:
                    return  # oldest first: every thread from here on is newer
                if result.examined >= self.max_examined:
                    result.stopped = f"examined {self.max_examined}; the next pass continues"
                    return
                result.examined += 1
                thread_id = str(thread["id"])
                if await self._expired_thread(project, thread, result):
                    if result.deleted >= self.batch:
                        result.stopped = f"deleted {self.batch} (THREAD_CLEANUP_BATCH)"
                        return
                else:
                    after = thread_id  # a cursor that stays valid: this thread is kept
            if not page.get("has_more") or not threads:
                return

    async def _expired_thread(
        self, project: Project, thread: dict[str, Any], result: ProjectReport
    ) -> bool:
        """Delete `thread` if it is tagged and idle beyond the retention; True when gone."""
        if not tags.is_tagged(thread.get("metadata")):
            result.untagged += 1
            return False
        thread_id = str(thread["id"])
        params = {"limit": 1, "order": "desc"}
        try:
            newest = await self._json(project, "GET", f"/threads/{thread_id}/messages", params)
            messages = newest.get("data") or []
            last = _number(messages[0].get("created_at")) if messages else 0.0
            if max(last, _number(thread.get("created_at"))) >= self.cutoff:
                result.active += 1
                return False
            await self._json(project, "DELETE", f"/threads/{thread_id}")
        except NotFound:
            return True  # deleted meanwhile
        result.deleted += 1
        return True

    async def _conversations(
        self, project: Project, result: ProjectReport, ids: list[str]
    ) -> list[str]:
        """Check and delete the given conversations found in this project; the others remain."""
        remaining = []
        for conversation_id in ids:
            path = f"/openai/v1/conversations/{conversation_id}"
            try:
                conversation = await self._json(project, "GET", path, api="openai")
            except NotFound:
                remaining.append(conversation_id)
                continue
            if not tags.is_tagged(conversation.get("metadata")):
                result.untagged += 1
                continue
            params = {"conversation_id": conversation_id, "limit": 1, "order": "desc"}
            page = await self._json(project, "GET", "/openai/v1/responses", params, api="openai")
            responses = page.get("data") or []
            last = _number(responses[0].get("created_at")) if responses else 0.0
            if max(last, _number(conversation.get("created_at"))) >= self.cutoff:
                result.active += 1
                continue
            try:
                await self._json(project, "DELETE", path, api="openai")
            except NotFound:
                continue
            result.conversations_deleted += 1
        return remaining


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


async def scheduled_cleanup(runtime: Runtime) -> CleanupReport:
    """The timer's pass: the settings' retention and batch, the report in the log."""
    return await Cleanup(runtime).run()


def main(argv: list[str] | None = None) -> int:
    """`python -m agents_core cleanup`: one pass against the configured projects, reported."""
    import argparse
    import asyncio
    import json
    import sys
    from pathlib import Path

    from agents_core.config import ConfigError, load_registry, load_settings
    from agents_core.runtime import Runtime

    parser = argparse.ArgumentParser(
        prog="python -m agents_core cleanup",
        description="Delete threads the adapter created that have been idle longer than "
        "THREAD_RETENTION_DAYS, in every configured project (bounded per pass).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--config", type=Path, help="LiteLLM-style model_list YAML (AGENTS_CONFIG)")
    parser.add_argument("--days", type=int, help="retention in days (THREAD_RETENTION_DAYS)")
    parser.add_argument(
        "--batch", type=int, help="most deletions per project (THREAD_CLEANUP_BATCH)"
    )
    parser.add_argument(
        "--conversations",
        type=Path,
        help="file of conversation ids (one per line) to check and delete when idle and tagged",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(**({"agents_config": args.config} if args.config else {}))
        registry = load_registry(settings)
        if not registry.agents and not registry.default_endpoint:
            raise ConfigError("no project: set AZURE_AI_PROJECT_ENDPOINT or AGENTS_CONFIG")
        runtime = Runtime.build(settings, registry=registry)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    ids = args.conversations.read_text().split() if args.conversations else []

    async def run() -> CleanupReport:
        try:
            return await Cleanup(runtime, retention_days=args.days, batch=args.batch).run(ids)
        finally:
            await runtime.aclose()

    report = asyncio.run(run())
    print(json.dumps(report.to_json(), indent=2) if args.json else "\n".join(report.lines()))
    return 1 if any(p.stopped and "throttled" not in p.stopped for p in report.projects) else 0
