"""Retention: adapter-created threads and conversations are tagged; a cleanup pass deletes only
tagged ones idle beyond the retention, bounded, stopping on throttling; untagged ones stay."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Adapter

from agents_core import tags
from agents_core.__main__ import emulator_registry
from agents_core.auth import CALLER, CallerAuth
from agents_core.config import Settings
from agents_core.emulator import EmulatorOptions
from agents_core.emulator import create_app as create_emulator
from agents_core.retention import Cleanup, CleanupReport
from agents_core.runtime import Runtime

from servers import serve

ROOT = Path(__file__).resolve().parents[1]
KEY = "retention-key"
DAY = 86400
API = {"api-version": "v1"}
AUTH = {"Authorization": "Bearer any"}


@pytest.fixture
def project() -> Iterator[str]:
    """A fresh emulator of its own (the retention pass sees every thread in it)."""
    with serve(create_emulator(EmulatorOptions(run_ms=20))) as url:
        yield f"{url}/api/projects/demo"


def control(project: str, path: str, body: Any = None) -> Any:
    base = project.split("/api/projects/")[0]
    return httpx.post(f"{base}/_emulator/{path}", json=body).json()


def threads(project: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        params = {**API, "limit": "100", "order": "asc", **({"after": after} if after else {})}
        page = httpx.get(f"{project}/threads", params=params, headers=AUTH).json()
        found |= {t["id"]: t for t in page["data"]}
        if not page["has_more"]:
            return found
        after = page["last_id"]


def untagged_thread(project: str) -> str:
    body = {"metadata": {"owner": "someone else"}}
    return str(httpx.post(f"{project}/threads", params=API, json=body, headers=AUTH).json()["id"])


def turn(adapter: str, model: str, history: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{adapter}/v1/chat/completions",
        json={"model": model, "messages": history, **extra},
        headers={"api-key": KEY},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def resending_client(adapter: str, model: str, turns: int) -> list[str]:
    """A client that resends its whole history each turn (no thread id): a thread per turn."""
    history: list[dict[str, str]] = []
    created = []
    for index in range(turns):
        history.append({"role": "user", "content": f"question {index}"})
        reply = turn(adapter, model, history)
        history.append({"role": "assistant", "content": reply["choices"][0]["message"]["content"]})
        created.append(str(reply["thread_id"]))
    return created


def cleanup(project: str, conversations: list[str] = (), **options: Any) -> CleanupReport:  # type: ignore[assignment]
    settings = Settings(retry_deadline=options.pop("retry_deadline", 2.0))
    runtime = Runtime.build(settings, registry=emulator_registry(project))

    async def run() -> CleanupReport:
        try:
            return await Cleanup(runtime, **options).run(conversations)
        finally:
            await runtime.aclose()

    return asyncio.run(run())


@pytest.fixture
def adapter(start_adapter: Adapter, project: str) -> str:
    return start_adapter(
        registry=emulator_registry(project), project_endpoint=project, gateway_api_keys=KEY
    )


def test_created_threads_carry_the_tags_within_foundry_limits(adapter: str, project: str) -> None:
    [thread_id] = resending_client(adapter, "echo", 1)
    metadata = threads(project)[thread_id]["metadata"]
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    assert metadata[tags.CREATED_BY] == tags.CREATOR
    assert metadata[tags.CREATOR_CALLER] == f"key:{digest[:12]}"
    assert metadata[tags.CREATED_AT].endswith("Z")
    assert len(metadata) <= 16
    assert all(len(k) <= 64 and len(v) <= 512 for k, v in metadata.items())
    assert KEY not in str(metadata) and digest not in str(metadata)
    system_first = turn(
        adapter,
        "echo",
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x"}],
    )
    assert tags.is_tagged(threads(project)[system_first["thread_id"]]["metadata"])


def test_caller_id_is_a_short_digest_prefix() -> None:
    auth = CallerAuth(f"other,sha256:{hashlib.sha256(KEY.encode()).hexdigest()}")
    auth.check({"x-api-key": KEY})
    assert CALLER.get() == f"key:{hashlib.sha256(KEY.encode()).hexdigest()[:12]}"


def test_cleanup_deletes_only_tagged_threads_idle_beyond_the_retention(
    adapter: str, project: str
) -> None:
    old = resending_client(adapter, "echo", 6)
    foreign = [untagged_thread(project) for _ in range(3)]
    still_used = resending_client(adapter, "echo", 1)[0]
    control(project, "age", {"seconds": 40 * DAY})
    turn(adapter, "echo", [{"role": "user", "content": "again"}], thread_id=still_used)
    recent = resending_client(adapter, "echo", 2)

    report = cleanup(project, retention_days=30)

    left = threads(project)
    assert not set(old) & set(left)
    assert set(foreign) <= set(left) and still_used in left and set(recent) <= set(left)
    cutoff = report.cutoff
    for thread in left.values():
        if tags.is_tagged(thread["metadata"]) and thread["created_at"] < cutoff:
            assert thread["id"] == still_used  # old but used within the retention
    [result] = report.projects
    assert (result.deleted, result.untagged, result.active, result.stopped) == (6, 3, 1, None)
    assert any("deleted 6" in line for line in report.lines())
    assert any("cannot be listed" in line for line in report.lines())


def test_cleanup_is_bounded_per_pass_and_the_next_pass_continues(
    adapter: str, project: str
) -> None:
    old = resending_client(adapter, "echo", 5)
    control(project, "age", {"seconds": 31 * DAY})
    first = cleanup(project, retention_days=30, batch=2)
    assert first.projects[0].deleted == 2 and "THREAD_CLEANUP_BATCH" in str(
        first.projects[0].stopped
    )
    assert len(set(old) & set(threads(project))) == 3
    second = cleanup(project, retention_days=30, batch=10)
    assert second.projects[0].deleted == 3 and not set(old) & set(threads(project))


def test_cleanup_stops_on_throttling_and_reports_it(adapter: str, project: str) -> None:
    old = resending_client(adapter, "echo", 2)
    control(project, "age", {"seconds": 31 * DAY})
    control(project, "faults", {"kind": "http_429", "route": "GET /threads", "count": 50})
    report = cleanup(project, retention_days=30, retry_deadline=0.5)
    assert "throttled" in str(report.projects[0].stopped)
    control(project, "reset")
    assert set(old) <= set(threads(project))
    assert cleanup(project, retention_days=30).deleted == 2


def test_retention_zero_keeps_everything(adapter: str, project: str) -> None:
    old = resending_client(adapter, "echo", 1)
    control(project, "age", {"seconds": 400 * DAY})
    report = cleanup(project, retention_days=0)
    assert report.projects == [] and set(old) <= set(threads(project))
    assert "kept forever" in report.lines()[0]


def test_conversations_are_tagged_and_cleaned_up_by_id(adapter: str, project: str) -> None:
    conversations = resending_client(adapter, "echo:1", 2)
    for conversation_id in conversations:
        got = httpx.get(f"{project}/openai/v1/conversations/{conversation_id}", headers=AUTH)
        assert tags.is_tagged(got.json()["metadata"])
    foreign = httpx.post(f"{project}/openai/v1/conversations", json={}, headers=AUTH).json()["id"]
    control(project, "age", {"seconds": 31 * DAY})
    report = cleanup(project, [*conversations, foreign], retention_days=30)
    assert report.projects[0].conversations_deleted == 2
    for conversation_id in conversations:
        gone = httpx.get(f"{project}/openai/v1/conversations/{conversation_id}", headers=AUTH)
        assert gone.status_code == 404
    kept = httpx.get(f"{project}/openai/v1/conversations/{foreign}", headers=AUTH)
    assert kept.status_code == 200


def test_cleanup_command_reports_what_it_did(adapter: str, project: str) -> None:
    resending_client(adapter, "echo", 1)
    control(project, "age", {"seconds": 31 * DAY})
    done = subprocess.run(
        [sys.executable, "-m", "agents_core", "cleanup", "--days", "30"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "AZURE_AI_PROJECT_ENDPOINT": project,
            "AZURE_AI_AGENTS_API_VERSION": "v1",
            "AGENTS_CONFIG": "",
            "AZURE_TENANT_ID": "",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "retention 30 days" in done.stdout
