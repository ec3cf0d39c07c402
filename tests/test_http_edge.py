"""The local server's edge: CORS, unknown routes, body sizes and budgets, model discovery,
the embedded emulator behind keys, and slow clients."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import resource
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from test_cli import ROOT, free_port, running

from agents_core.__main__ import emulator_registry
from agents_core.config import AgentRegistry, Credential, Settings
from agents_core.edge import BodyBudget
from agents_core.errors import ServiceUnavailable

USER = [{"role": "user", "content": "hi"}]
ORIGIN = "https://chat.example.com"


@pytest.fixture
def cors(start_adapter: Any, emulator: str) -> str:
    return str(
        start_adapter(
            registry=emulator_registry(emulator),
            project_endpoint=emulator,
            cors_allow_origins=f"{ORIGIN}, http://localhost:3000",
            gateway_api_keys="k",
        )
    )


def test_cors_preflight_lists_our_methods_and_headers(cors: str) -> None:
    preflight = httpx.options(
        f"{cors}/v1/chat/completions",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-thread-id",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"]
    for name in (
        "authorization",
        "api-key",
        "x-api-key",
        "x-thread-id",
        "content-type",
        "a2a-version",
        "traceparent",
    ):
        assert name in allowed
    reply = httpx.post(
        f"{cors}/v1/chat/completions",
        json={"model": "echo", "messages": USER},
        headers={"Origin": ORIGIN, "Authorization": "Bearer k"},
        timeout=30,
    )
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    exposed = reply.headers["access-control-expose-headers"]
    assert {"x-thread-id", "x-request-id", "x-dropped-params", "x-adjusted-params"} <= {
        h.strip() for h in exposed.split(",")
    }
    a2a = httpx.options(
        f"{cors}/a2a/echo", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert a2a.status_code == 204


def test_cors_refuses_other_origins_and_is_off_by_default(cors: str, emulated: str) -> None:
    foreign = httpx.options(
        f"{cors}/v1/chat/completions",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers
    plain = httpx.get(f"{cors}/v1/models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers
    off = httpx.options(
        f"{emulated}/v1/chat/completions",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert off.status_code == 405 and off.headers["allow"] == "POST"
    assert off.json()["error"]["code"] == "method_not_allowed"
    assert off.headers["x-request-id"].startswith("req_")


def test_unknown_routes_and_wrong_methods_carry_a_real_request_id(
    emulated: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agents_core")
    missing = httpx.get(f"{emulated}/v2/nothing")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["type"] == "not_found_error"
    assert error["request_id"].startswith("req_") and error["request_id"] != "req_none"
    assert missing.headers["x-request-id"] == error["request_id"]
    wrong = httpx.delete(f"{emulated}/v1/models")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD, OPTIONS"
    assert httpx.head(f"{emulated}/v1/models").status_code == 200
    assert wrong.headers["x-request-id"] == wrong.json()["error"]["request_id"]
    ids = {httpx.get(f"{emulated}/nothing").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    access = [r.getMessage() for r in caplog.records if r.name == "agents_core.http"]
    assert f"GET /v2/nothing -> 404 ({error['request_id']})" in access  # logged like any request


def test_default_body_limit_accepts_a_large_photo(emulated: str) -> None:
    photo = base64.b64encode(os.urandom(15 * 1024 * 1024)).decode()  # 20 MiB of base64
    body = {
        "model": "echo",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{photo}"}},
                ],
            }
        ],
    }
    assert Settings().max_body_bytes >= 28 * 1024 * 1024
    response = httpx.post(f"{emulated}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code != 413, response.text[:300]


def test_buffered_body_bytes_have_a_process_wide_budget(start_adapter: Any, emulator: str) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        max_buffered_bytes=300_000,
        body_read_timeout=5,
    )

    async def slow_body(size: int) -> httpx.Response:
        async def chunks() -> Any:
            for _ in range(size // 50_000):
                yield b" " * 50_000
                await asyncio.sleep(0.2)
            yield b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}]}'

        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(
                f"{base}/v1/chat/completions",
                content=chunks(),
                headers={"content-type": "application/json"},
            )

    async def burst() -> list[httpx.Response]:
        return list(await asyncio.gather(*(slow_body(200_000) for _ in range(4))))

    statuses = sorted(r.status_code for r in asyncio.run(burst()))
    assert 503 in statuses and 200 in statuses, statuses
    busy = next(r for r in asyncio.run(burst()) if r.status_code == 503)
    assert busy.json()["error"]["code"] == "server_busy" and busy.headers["retry-after"] == "1"
    after = httpx.post(
        f"{base}/v1/chat/completions", json={"model": "echo", "messages": USER}, timeout=30
    )
    assert after.status_code == 200  # the budget is given back


def test_budget_accounting() -> None:
    budget = BodyBudget(10)
    budget.take(6)
    with pytest.raises(ServiceUnavailable):
        budget.take(5)
    budget.give(6)
    budget.take(10)


def test_a_stalled_body_times_out_with_408(start_adapter: Any, emulator: str) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator), project_endpoint=emulator, body_read_timeout=0.5
    )
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        sock.settimeout(10)
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:80]


def test_models_list_the_projects_agents(start_adapter: Any, emulator: str) -> None:
    """Only AZURE_AI_PROJECT_ENDPOINT set: the project's classic and versioned agents."""
    registry = AgentRegistry(
        {}, emulator, Credential("token", token=SecretStr("emulator-local-token"))
    )
    base = start_adapter(
        registry=registry, project_endpoint=emulator, exposed_agents="asst_echo, weather*"
    )
    models = httpx.get(f"{base}/v1/models").json()["data"]
    by_id = {m["id"]: m for m in models}
    assert set(by_id) == {"azure_ai/agents/asst_echo", "azure_ai/agents/weather"}
    for model in models:
        assert model["object"] == "model" and model["owned_by"] == "azure-ai-foundry"
        assert model["created"] > 1_600_000_000 and model["name"]
    assert by_id["azure_ai/agents/weather"]["name"] == "weather"
    control = emulator.split("/api/")[0]
    before = httpx.get(f"{control}/_emulator/requests").json()["counts"]
    httpx.get(f"{base}/v1/models")
    assert httpx.get(f"{control}/_emulator/requests").json()["counts"] == before  # cached
    configured = start_adapter(registry=emulator_registry(emulator), project_endpoint=emulator)
    names = {m["id"]: m for m in httpx.get(f"{configured}/v1/models").json()["data"]}
    assert names["echo"]["created"] > 0 and names["echo"]["name"]


def test_embedded_emulator_is_behind_the_gateway_keys() -> None:
    env = {"GATEWAY_API_KEYS": "local-key"}
    with running_env(env, "serve", "--emulator") as (_, base):
        for path in (
            "/emulator/_emulator/requests",
            "/emulator/api/projects/demo/assistants?api-version=v1",
        ):
            refused = httpx.get(f"{base}{path}")
            assert refused.status_code == 401, path
            forged = httpx.get(
                f"{base}{path}", headers={"Authorization": "Bearer emulator-local-token"}
            )
            assert forged.status_code == 401, path
        assert (
            httpx.get(
                f"{base}/emulator/_emulator/requests", headers={"x-api-key": "local-key"}
            ).status_code
            == 200
        )
        reply = httpx.post(
            f"{base}/v1/chat/completions",
            json={"model": "echo", "messages": USER},
            headers={"Authorization": "Bearer local-key"},
            timeout=30,
        )
        assert reply.status_code == 200  # the adapter itself still reaches its emulator
        redirect = httpx.get(
            f"{base}/emulator/_emulator/requests/",
            headers={"x-api-key": "local-key", "Host": "evil.example"},
        )
        assert redirect.status_code == 307  # a relative Location: never the caller's Host
        assert redirect.headers["location"] == "/emulator/_emulator/requests"


def test_emulator_is_refused_on_a_non_loopback_address() -> None:
    command = ["serve", "--emulator", "--host", "0.0.0.0", "--port", str(free_port())]
    result = subprocess.run(  # a free port: the refusal is what answers, not a busy default
        [sys.executable, "-m", "agents_core", *command],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GATEWAY_API_KEYS": "k"},
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "refusing to serve the embedded emulator on 0.0.0.0" in result.stderr


def test_open_local_server_refuses_foreign_host_names() -> None:
    with running_env({}, "serve") as (_, base):
        rebound = httpx.post(
            f"{base}/v1/chat/completions",
            json={"model": "echo", "messages": USER},
            headers={"Host": "attacker.example"},
        )
        assert rebound.status_code == 403
        emulator = httpx.get(
            f"{base}/emulator/_emulator/requests", headers={"Host": "attacker.example"}
        )
        assert emulator.status_code == 403


def test_connections_that_never_finish_their_headers_are_closed() -> None:
    """With 256 file descriptors, 300 stalled connections must not lock callers out."""

    def limit_fds() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AGENTS_"))}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agents_core",
            "serve",
            "--port",
            str(port),
            "--header-timeout",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=limit_fds,
    )
    base = f"http://127.0.0.1:{port}"
    stalled: list[socket.socket] = []
    try:
        _wait_until_up(base)
        for _ in range(300):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                stalled.append(sock)
            except OSError:
                break
        pending = list(stalled)
        deadline = time.monotonic() + 15
        while pending and time.monotonic() < deadline:
            time.sleep(0.5)
            for sock in list(pending):
                sock.setblocking(False)
                try:
                    if sock.recv(1) == b"":
                        pending.remove(sock)
                except BlockingIOError:
                    pass
                except OSError:
                    pending.remove(sock)
        closed = len(stalled) - len(pending)
        assert closed == len(stalled)
        assert httpx.get(f"{base}/v1/models", timeout=10).status_code == 200
    finally:
        for sock in stalled:
            sock.close()
        process.terminate()
        process.wait(timeout=10)


def test_serve_help_shows_defaults() -> None:
    serve = subprocess.run(
        [sys.executable, "-m", "agents_core", "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert "(default: 127.0.0.1)" in serve.stdout and "(default: 7071)" in serve.stdout
    emulator = subprocess.run(
        [sys.executable, "-m", "agents_core", "emulator", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert "(default: 8080)" in emulator.stdout and "(default: 300)" in emulator.stdout


def _wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)


class running_env:
    """`running(...)` from test_cli with extra environment variables."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self._env = env
        self._args = args

    def __enter__(self) -> Any:
        self._saved = {name: os.environ.get(name) for name in self._env}
        os.environ.update(self._env)
        self._context = running(*self._args)
        return self._context.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_oversized_headers_get_431_and_a_large_body_still_passes() -> None:
    """The local server's C parser keeps the 16 KiB bound on the request line and headers."""
    with running("serve") as (_, base):
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
                + b"a" * 20_000
                + b"\r\n\r\n"
            )
            assert sock.recv(100).startswith(b"HTTP/1.1 431 ")
        text = "x" * (2 * 1024 * 1024)  # headers small, body large: not a header problem
        reply = httpx.post(
            f"{base}/v1/chat/completions",
            json={"model": "echo", "messages": [{"role": "user", "content": text}]},
            timeout=60,
        )
        assert reply.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v1/chat/completions/", 400),  # served (its body is refused), not redirected
        ("GET", "/playground/", 200),
        ("GET", "/v1/models/", 200),
        ("GET", "/v1/models/echo/", 200),  # handlers read the path without the slash
        ("GET", "/playground/app.js/", 200),
        ("GET", "//", 404),  # not a trailing slash: an empty segment
        ("GET", "/v1/models%2F", 404),  # an encoded slash is part of the name
        ("GET", "/v1/nothing", 404),
        ("DELETE", "/v1/chat/completions", 405),
    ],
)
def test_trailing_slashes_and_route_errors_carry_a_request_id(
    emulated: str, method: str, path: str, status: int
) -> None:
    """One trailing slash is ignored, as the Functions host does: no redirect to follow."""
    response = httpx.request(method, f"{emulated}{path}", json={} if method == "POST" else None)
    assert response.status_code == status
    assert "location" not in response.headers
    assert response.headers["x-request-id"].startswith("req_")
