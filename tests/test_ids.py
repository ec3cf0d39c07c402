"""Ids belong to their caller: every id handed out works only for that caller and agent.

Another caller gets exactly the answer of an id that does not exist, and no
upstream request is made. With a single caller, upstream ids are handed out
and accepted as they are.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import Adapter

from agents_core.__main__ import emulator_registry
from agents_core.auth import CallerAuth
from agents_core.config import ConfigError, Platform, Settings
from agents_core.ids import IdSigner
from agents_core.runtime import Runtime

KEY_A = "alice-key-0123456789abcdef"
KEY_B = "bob-key-0123456789abcdef"
SIGNING = "id-signing-key-0123456789abcdef-0123456789"
OLD_SIGNING = "old-signing-key-0123456789abcdef-0123456789"
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"Authorization": f"Bearer {KEY_B}"}
SEALED = re.compile(r"[A-Za-z0-9_-]+-[A-Za-z0-9_-]{16}")
FORGED_THREAD = "thread_0123456789abcdef01234567-AAAAAAAAAAAAAAAA"


def two_callers(start_adapter: Adapter, emulator: str, signing: str = SIGNING) -> str:
    return start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        gateway_api_keys=f"alice={KEY_A},bob={KEY_B}",
        id_signing_key=signing,
    )


def upstream_requests(emulator: str) -> int:
    base = emulator.split("/api/projects/")[0]
    return sum(httpx.get(f"{base}/_emulator/requests").json()["counts"].values())


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    """The error body with the per-request parts (request id) left out."""
    error = dict(body.get("error", body))
    error.pop("request_id", None)
    return error


def chat(base: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    body.setdefault("model", "echo")
    body.setdefault("messages", [{"role": "user", "content": "hello"}])
    return httpx.post(f"{base}/v1/chat/completions", json=body, headers=headers, timeout=30)


def rpc(base: str, agent: str, headers: dict[str, str], method: str, params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    response = httpx.post(f"{base}/a2a/{agent}", json=body, headers=headers, timeout=30)
    return response.json()


def a2a_message(text: str, context_id: str = "", task_id: str = "") -> dict[str, Any]:
    message: dict[str, Any] = {
        "kind": "message",
        "messageId": uuid.uuid4().hex,
        "role": "user",
        "parts": [{"kind": "text", "text": text}],
    }
    if context_id:
        message["contextId"] = context_id
    if task_id:
        message["taskId"] = task_id
    return {"message": message}


def same_as_unknown(
    emulator: str, attempt: Callable[[str], httpx.Response], theirs: str, unknown: str
) -> httpx.Response:
    """`attempt` with another caller's id answers exactly as with an unknown id, upstream-free."""
    before = upstream_requests(emulator)
    foreign, made_up = attempt(theirs), attempt(unknown)
    assert upstream_requests(emulator) == before
    assert foreign.status_code == made_up.status_code == 404, foreign.text
    assert without_request_id(foreign.json()) == without_request_id(made_up.json())
    return foreign


def test_chat_threads_belong_to_their_caller(start_adapter: Adapter, emulator: str) -> None:
    base = two_callers(start_adapter, emulator)
    first = chat(base, A)
    assert first.status_code == 200, first.text
    thread = first.json()["thread_id"]
    assert SEALED.fullmatch(thread) and len(thread) <= 128
    assert first.headers["x-thread-id"] == thread

    foreign = same_as_unknown(
        emulator, lambda value: chat(base, B, thread_id=value), thread, FORGED_THREAD
    )
    assert foreign.json()["error"]["code"] == "thread_not_found"
    raw = thread[:-17]  # the upstream id itself is not an id of this gateway either
    same_as_unknown(emulator, lambda value: chat(base, A, thread_id=value), raw, FORGED_THREAD)
    assert chat(base, A, thread_id=thread).json()["thread_id"] == thread


def test_tool_calls_belong_to_their_caller(start_adapter: Adapter, emulator: str) -> None:
    base = two_callers(start_adapter, emulator)
    first = chat(base, A, model="tools", messages=[{"role": "user", "content": "hi"}])
    thread = first.json()["thread_id"]
    asked = chat(
        base, A, model="tools", thread_id=thread, messages=[{"role": "user", "content": "weather"}]
    )
    calls = asked.json()["choices"][0]["message"]["tool_calls"]
    assert all(len(call["id"]) <= 40 for call in calls)  # named thread: OpenAI's limit kept
    answer = [
        {"role": "assistant", "content": None, "tool_calls": calls},
        *({"role": "tool", "tool_call_id": call["id"], "content": "sunny"} for call in calls),
    ]
    same_as_unknown(
        emulator,
        lambda value: chat(base, B, model="tools", thread_id=value, messages=answer),
        thread,
        FORGED_THREAD,
    )
    # Without a named thread the call id carries its thread and run: sealed parts too.
    unnamed = chat(base, A, model="tools", messages=[{"role": "user", "content": "weather"}])
    call_id = unnamed.json()["choices"][0]["message"]["tool_calls"][0]["id"]
    forged_call = "call_x.thread_y-AAAAAAAAAAAAAAAA.run_z-AAAAAAAAAAAAAAAA"

    def answering(value: str) -> list[dict[str, Any]]:
        call = {"id": value, "type": "function", "function": {"name": "f", "arguments": "{}"}}
        return [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": value, "content": "sunny"},
        ]

    same_as_unknown(
        emulator,
        lambda value: chat(base, B, model="tools", messages=answering(value)),
        call_id,
        forged_call,
    )
    done = chat(base, A, model="tools", messages=answering(call_id))
    assert done.status_code == 200, done.text


@pytest.mark.parametrize("model", ["echo", "echo:1"])
def test_responses_belong_to_their_caller(
    start_adapter: Adapter, emulator: str, model: str
) -> None:
    base = two_callers(start_adapter, emulator)
    created = httpx.post(
        f"{base}/v1/responses", json={"model": model, "input": "hello"}, headers=A, timeout=30
    )
    assert created.status_code == 200, created.text
    response_id = created.json()["id"]
    alias, _, run = response_id.split(".")
    forged = f"{alias}.{FORGED_THREAD}.run_0123-AAAAAAAAAAAAAAAA"

    def get(value: str) -> httpx.Response:
        return httpx.get(f"{base}/v1/responses/{value}", headers=B, timeout=30)

    def cancel(value: str) -> httpx.Response:
        return httpx.post(f"{base}/v1/responses/{value}/cancel", headers=B, timeout=30)

    def follow_up(value: str) -> httpx.Response:
        body = {"model": model, "input": "again", "previous_response_id": value}
        return httpx.post(f"{base}/v1/responses", json=body, headers=B, timeout=30)

    for attempt in (get, cancel, follow_up):
        same_as_unknown(emulator, attempt, response_id, forged)
    # Another caller's run under one's own thread is no better.
    own = httpx.post(
        f"{base}/v1/responses", json={"model": model, "input": "mine"}, headers=B, timeout=30
    ).json()["id"]
    own_thread = own.split(".")[1]
    mixed = f"{alias}.{own_thread}.{run}"
    same_as_unknown(emulator, get, mixed, f"{alias}.{own_thread}.run_0123-AAAAAAAAAAAAAAAA")
    assert httpx.get(f"{base}/v1/responses/{response_id}", headers=A).status_code == 200


def test_a2a_tasks_belong_to_their_caller_and_agent(start_adapter: Adapter, emulator: str) -> None:
    base = two_callers(start_adapter, emulator)
    sent = rpc(base, "echo", A, "message/send", a2a_message("hello"))
    task = sent["result"]
    task_id, context_id = task["id"], task["contextId"]
    assert SEALED.fullmatch(context_id)
    forged_task = f"{FORGED_THREAD}.run_0123-AAAAAAAAAAAAAAAA"

    def answers_alike(agent: str, headers: dict[str, str], method: str, params: Any) -> None:
        before = upstream_requests(emulator)
        foreign = rpc(base, agent, headers, method, params(task_id, context_id))
        made_up = rpc(base, agent, headers, method, params(forged_task, FORGED_THREAD))
        assert upstream_requests(emulator) == before
        assert "error" in foreign, foreign
        said = str(foreign["error"]).replace(task_id, "ID").replace(context_id, "ID")
        assert said == str(made_up["error"]).replace(forged_task, "ID").replace(FORGED_THREAD, "ID")

    answers_alike("echo", B, "tasks/get", lambda task, _: {"id": task})
    answers_alike("echo", B, "tasks/cancel", lambda task, _: {"id": task})
    answers_alike("echo", B, "message/send", lambda _, ctx: a2a_message("hi", ctx))
    answers_alike("echo", B, "message/send", lambda task, ctx: a2a_message("x", ctx, task))
    # The same caller through another agent's URL: that agent never issued it.
    answers_alike("instructions", A, "tasks/get", lambda task, _: {"id": task})
    assert rpc(base, "echo", A, "tasks/get", {"id": task_id})["result"]["id"] == task_id


def test_file_links_belong_to_their_caller(start_adapter: Adapter, emulator: str) -> None:
    base = two_callers(start_adapter, emulator)
    reply = chat(base, A, model="echo:1", messages=[{"role": "user", "content": "a chart"}])
    annotations = reply.json()["choices"][0]["message"]["annotations"]
    url = next(
        item["url"]
        for note in annotations
        for item in note.values()
        if isinstance(item, dict) and "url" in item
    )
    assert httpx.get(f"{base}{url}", headers=A).status_code == 200
    path, _, query = url.partition("?")
    file_id = path.split("/")[3]
    forged = f"{file_id[:-16]}AAAAAAAAAAAAAAAA"

    def download(value: str) -> httpx.Response:
        return httpx.get(f"{base}/v1/files/{value}/content?{query}", headers=B)

    same_as_unknown(emulator, download, file_id, forged)


def test_a_single_caller_keeps_upstream_ids(start_adapter: Adapter, emulator: str) -> None:
    """One key (or two keys under one name, mid-rotation): raw ids out and in, as before."""
    base = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        gateway_api_keys=f"main={KEY_A},main=sha256:{'ab' * 32}",
    )
    thread = chat(base, A)
    assert re.fullmatch(r"thread_[0-9a-f]{24}", thread.json()["thread_id"]), thread.text
    again = chat(base, A, thread_id=thread.json()["thread_id"])
    assert again.status_code == 200, again.text


def test_previous_signing_keys_still_open_ids(start_adapter: Adapter, emulator: str) -> None:
    """Rotation: `ID_SIGNING_KEY=new,old` opens what `old` sealed; `new` alone does not."""
    before = two_callers(start_adapter, emulator, signing=OLD_SIGNING)
    thread = chat(before, A).json()["thread_id"]
    rotated = two_callers(start_adapter, emulator, signing=f"{SIGNING},{OLD_SIGNING}")
    continued = chat(rotated, A, thread_id=thread)
    assert continued.status_code == 200, continued.text
    assert continued.json()["thread_id"] != thread  # sealed again with the new key
    assert chat(rotated, A, thread_id=continued.json()["thread_id"]).status_code == 200
    retired = two_callers(start_adapter, emulator, signing=SIGNING)
    assert chat(retired, A, thread_id=thread).status_code == 404


def test_signing_key_defaults_to_one_derived_from_the_keys(
    start_adapter: Adapter, emulator: str
) -> None:
    base = two_callers(start_adapter, emulator, signing="")
    thread = chat(base, A).json()["thread_id"]
    assert SEALED.fullmatch(thread)
    assert chat(base, B, thread_id=thread).status_code == 404
    assert chat(base, A, thread_id=thread).status_code == 200


@pytest.mark.parametrize(
    ("signing", "words"),
    [
        ("too-short-7q", "shorter than 32"),
        ("@Microsoft.KeyVault(SecretUri=https://v/s/k)", "Key Vault reference"),
    ],
)
def test_signing_keys_that_cannot_sign_refuse_to_start(signing: str, words: str) -> None:
    settings = Settings(gateway_api_keys=f"a={KEY_A},b={KEY_B}", id_signing_key=signing)
    with pytest.raises(ConfigError, match="ID_SIGNING_KEY") as raised:
        Runtime.build(settings)
    assert words in str(raised.value) and signing not in str(raised.value)


def test_easy_auth_alone_signs_with_a_key_of_its_own() -> None:
    """Principals are callers too; with no key to derive from, the key lives with the process."""
    platform = Platform(WEBSITE_AUTH_ENABLED="True", WEBSITE_SITE_NAME="app")
    runtime = Runtime.build(Settings(), platform=platform)
    assert runtime.ids is not None and runtime.ids.source == "random"
    assert "set ID_SIGNING_KEY" in IdSigner.describe(runtime.ids)
    configured = Runtime.build(Settings(id_signing_key=SIGNING), platform=platform)
    assert configured.ids is not None and configured.ids.keys == (SIGNING.encode(),)


def test_named_keys_are_one_caller() -> None:
    callers = CallerAuth(f"alice={KEY_A},alice=sha256:{'ab' * 32},{KEY_B},padded==")
    assert callers.check({"authorization": f"Bearer {KEY_A}"}) == "key:alice"
    assert callers.check({"api-key": KEY_B}).startswith("key:") and not callers.single_identity
    assert callers.check({"api-key": "padded=="}) != "key:padded"  # base64 padding is no name
    assert CallerAuth(f"alice={KEY_A},alice={KEY_B}").single_identity
    assert CallerAuth("").single_identity
    assert not CallerAuth("", easy_auth=True).single_identity


def test_sealed_ids_bind_caller_agent_and_kind() -> None:
    signer = IdSigner((b"k" * 32,), "ID_SIGNING_KEY")
    sealed = signer.seal("thread", "key:alice", "echo", "thread_1")
    assert signer.open("thread", "key:alice", "echo", sealed) == "thread_1"
    for kind, caller, agent in [
        ("thread", "key:bob", "echo"),
        ("thread", "key:alice", "tools"),
        ("run", "key:alice", "echo"),
    ]:
        assert signer.open(kind, caller, agent, sealed) is None  # type: ignore[arg-type]
    assert signer.open("thread", "key:alice", "echo", "thread_1") is None
