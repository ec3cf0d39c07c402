"""The HTTP edge under attack: key values, exposure, media types, Host names, crafted
bodies, forwarded headers, Easy Auth's signal, upstream wait hints, endpoint URLs."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Response

from agents_core.__main__ import emulator_registry
from agents_core.config import (
    AgentRegistry,
    ConfigError,
    Credential,
    Platform,
    Settings,
    load_registry,
    load_settings,
)
from agents_core.http import Handlers, create_app
from agents_core.runtime import Runtime

from fakes import ENDPOINT_PATH, run_events, sse_response
from servers import serve

USER = [{"role": "user", "content": "hi"}]
RUNS = f"{ENDPOINT_PATH}/threads/runs"


def token_registry(endpoint: str) -> AgentRegistry:
    """Every `azure_ai/agents/<id>` of `endpoint`, with a static upstream token."""
    return AgentRegistry({}, endpoint, Credential("token", token=SecretStr("upstream-token")))


# ------------------------------------------------------------------ gateway key values


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (
            "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/keys)",
            "unresolved Key Vault reference",
        ),
        (" , ", "holds no key"),
        (",", "holds no key"),
        ("<one-or-more-comma-separated-keys>", "placeholder"),
        ("good-key, sha256:abc", "64 hex digits"),
        ("good-key, two words", "blanks"),
    ],
)
def test_gateway_key_values_that_are_not_keys_refuse_to_start(value: str, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Runtime.build(Settings(gateway_api_keys=value), registry=load_registry(Settings(), {}))
    message = str(raised.value)
    assert message.startswith("GATEWAY_API_KEYS") and words in message
    assert "vault.azure.net" not in message and "abc" not in message


def test_gateway_key_values_that_are_not_keys_fail_every_functions_request(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Under Functions the runtime is built on the first request: never open, never a key."""
    monkeypatch.setenv("GATEWAY_API_KEYS", "@Microsoft.KeyVault(SecretUri=https://v/secrets/k)")
    monkeypatch.setenv(
        "AZURE_AI_PROJECT_ENDPOINT", "https://r.services.ai.azure.com/api/projects/p"
    )
    caplog.set_level(logging.INFO)
    with serve(create_app(Handlers(Runtime.build))) as base:
        key = {"Authorization": "Bearer @Microsoft.KeyVault(SecretUri=https://v/secrets/k)"}
        chat = httpx.post(
            f"{base}/v1/chat/completions", json={"model": "m", "messages": USER}, headers=key
        )
        models = httpx.get(f"{base}/v1/models")
        rpc = httpx.post(f"{base}/a2a/x", json={"jsonrpc": "2.0", "id": 1, "method": "GetTask"})
    for response in (chat, models):
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "configuration_error"
    assert rpc.status_code == 500 and rpc.json()["jsonrpc"] == "2.0"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 3 and all("GATEWAY_API_KEYS" in line for line in errors)
    assert all("secrets/k" not in line for line in errors)
    assert not any(r.exc_info for r in caplog.records)


def test_any_accepted_key_header_lets_the_caller_in(
    httpserver: HTTPServer, start_adapter: Any
) -> None:
    httpserver.expect_request(RUNS).respond_with_handler(
        lambda request: sse_response(run_events(["ok"]))
    )
    endpoint = httpserver.url_for(ENDPOINT_PATH)
    base = start_adapter(registry=token_registry(endpoint), gateway_api_keys="k1")
    body = {"model": "azure_ai/agents/asst_a", "messages": USER}
    for headers in (
        {"Authorization": "Bearer eyJ.an.entra.token", "api-key": "k1"},
        {"Authorization": "Bearer nope", "x-api-key": "k1"},
        {"api-key": "wrong", "x-api-key": "k1"},
    ):
        response = httpx.post(f"{base}/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200, (headers, response.text)
    wrong = httpx.post(
        f"{base}/v1/chat/completions", json=body, headers={"api-key": "a", "x-api-key": "b"}
    )
    assert wrong.status_code == 401


# ------------------------------------------------------------------ Easy Auth's signal


@pytest.mark.parametrize(
    ("env", "trusted"),
    [
        ({"WEBSITE_AUTH_ENABLED": "True", "WEBSITE_SITE_NAME": "app"}, True),
        ({"WEBSITE_AUTH_ENABLED": "true", "WEBSITE_INSTANCE_ID": "i-1"}, True),
        ({"WEBSITE_AUTH_ENABLED": "1", "WEBSITE_SITE_NAME": "app"}, None),
        ({"WEBSITE_AUTH_ENABLED": "yes"}, None),
        ({"WEBSITE_AUTH_ENABLED": "True"}, False),  # not on App Service
        ({"WEBSITE_AUTH_ENABLED": "", "WEBSITE_SITE_NAME": "app"}, False),
        ({"WEBSITE_AUTH_ENABLED": "False", "WEBSITE_SITE_NAME": "app"}, False),
    ],
)
def test_easy_auth_is_trusted_only_on_the_platforms_exact_signal(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], trusted: bool | None
) -> None:
    for name in ("WEBSITE_AUTH_ENABLED", "WEBSITE_SITE_NAME", "WEBSITE_INSTANCE_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    platform = Platform()
    if trusted is None:
        with pytest.raises(ConfigError, match="WEBSITE_AUTH_ENABLED: must be True or False"):
            Runtime.build(Settings(gateway_api_keys="k"), platform, load_registry(Settings(), {}))
        return
    runtime = Runtime.build(Settings(gateway_api_keys="k"), platform, load_registry(Settings(), {}))
    principal = {"x-ms-client-principal-id": "oid-1"}
    if trusted:
        runtime.callers.check(principal)
        assert "App Service Authentication" in runtime.callers.describe()
    else:
        with pytest.raises(Exception, match="missing API key"):
            runtime.callers.check(principal)
        assert runtime.callers.describe() == "gateway keys (1)"


# ------------------------------------------------------------------ EXPOSED_AGENTS


@pytest.fixture
def exposed(start_adapter: Any, emulator: str) -> str:
    return str(
        start_adapter(
            registry=emulator_registry(emulator),
            project_endpoint=emulator,
            exposed_agents="echo, weather*",
            gateway_api_keys="k",
        )
    )


KEY = {"Authorization": "Bearer k"}


def test_exposed_agents_govern_chat_a2a_cards_files_and_models(exposed: str, emulator: str) -> None:
    def chat(model: str) -> httpx.Response:
        return httpx.post(
            f"{exposed}/v1/chat/completions",
            json={"model": model, "messages": USER},
            headers=KEY,
            timeout=30,
        )

    assert chat("echo").status_code == 200
    assert chat("echo:1").status_code == 200
    assert chat("weather:1").status_code != 404
    hidden = chat("tools")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "model_not_found"
    assert chat("azure_ai/agents/asst_tools").status_code == 404
    assert "tools" not in hidden.json()["error"]["message"].split("configured:")[-1]
    ids = {m["id"] for m in httpx.get(f"{exposed}/v1/models", headers=KEY).json()["data"]}
    assert {"echo", "echo:1", "weather:1"} <= ids  # "echo" names the versioned echo too
    assert not {"tools", "instructions", "instructions:1", "azure_ai/agents/asst_tools"} & ids
    assert httpx.get(f"{exposed}/v1/models/tools", headers=KEY).status_code == 404
    files = httpx.get(
        f"{exposed}/v1/files/assistant-file1/content", params={"model": "tools"}, headers=KEY
    )
    assert files.status_code == 404
    before = httpx.get(f"{emulator.split('/api/')[0]}/_emulator/requests").json()
    card = httpx.get(f"{exposed}/a2a/tools/.well-known/agent-card.json", headers=KEY)
    assert card.status_code == 404
    rpc = httpx.post(
        f"{exposed}/a2a/tools",
        json={"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "t"}},
        headers=KEY,
    )
    assert "error" in rpc.json()
    after = httpx.get(f"{emulator.split('/api/')[0]}/_emulator/requests").json()
    assert after["counts"] == before["counts"]  # nothing outside the list costs an upstream call
    assert (
        httpx.get(f"{exposed}/a2a/echo/.well-known/agent-card.json", headers=KEY).status_code == 200
    )


def test_cards_need_the_key_unless_made_public(start_adapter: Any, emulator: str) -> None:
    keyed = start_adapter(
        registry=emulator_registry(emulator), project_endpoint=emulator, gateway_api_keys="k"
    )
    card = "/a2a/echo/.well-known/agent-card.json"
    assert httpx.get(f"{keyed}{card}").status_code == 401
    assert httpx.get(f"{keyed}{card}", headers=KEY).status_code == 200
    public = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        gateway_api_keys="k",
        public_agent_cards=True,
        exposed_agents="echo",
    )
    assert httpx.get(f"{public}{card}").status_code == 200
    control = emulator.split("/api/")[0]
    before = httpx.get(f"{control}/_emulator/requests").json()["counts"]
    for name in ("tools", "asst_tools", "secret-project-agent"):
        probe = httpx.get(f"{public}/a2a/{name}/.well-known/agent-card.json")
        assert probe.status_code == 404
    assert httpx.get(f"{control}/_emulator/requests").json()["counts"] == before


# ------------------------------------------------------------------ media types and Host


@pytest.fixture
def open_loopback(emulator: str) -> Any:
    settings = Settings(project_endpoint=emulator)
    runtime = Runtime.build(settings, registry=emulator_registry(emulator))
    with serve(create_app(Handlers(runtime, loopback_only=True))) as base:
        yield base


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
def test_json_routes_refuse_other_media_types_in_their_own_shape(
    emulated: str, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = json.dumps({"model": "echo", "messages": USER}).encode()
    chat = httpx.post(f"{emulated}/v1/chat/completions", content=body, headers=headers)
    assert chat.status_code == 415
    assert chat.json()["error"]["code"] == "unsupported_media_type"
    rpc = httpx.post(
        f"{emulated}/a2a/echo",
        content=json.dumps({"jsonrpc": "2.0", "id": 7, "method": "GetTask"}).encode(),
        headers=headers,
    )
    assert rpc.status_code == 415 and rpc.json()["jsonrpc"] == "2.0" and "error" in rpc.json()
    ok = httpx.post(
        f"{emulated}/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
        timeout=30,
    )
    assert ok.status_code == 200


def test_open_loopback_server_answers_only_loopback_host_names(open_loopback: str) -> None:
    body = {"model": "echo", "messages": USER}
    for host in ("evil.example", "evil.example:7071", "127.0.0.1.nip.io"):
        rebound = httpx.post(
            f"{open_loopback}/v1/chat/completions", json=body, headers={"Host": host}
        )
        assert rebound.status_code == 403, host
        assert rebound.json()["error"]["code"] == "host_not_allowed"
        assert rebound.json()["error"]["type"] == "permission_error"
        unknown = httpx.get(f"{open_loopback}/v1/nothing", headers={"Host": host})
        assert unknown.status_code == 403
        assert unknown.json()["error"]["message"] == rebound.json()["error"]["message"]
        rpc = httpx.post(
            f"{open_loopback}/a2a/echo",
            json={"jsonrpc": "2.0", "id": 1, "method": "GetTask"},
            headers={"Host": host},
        )
        assert rpc.status_code == 403 and rpc.json()["jsonrpc"] == "2.0"
        assert httpx.get(f"{open_loopback}/nowhere", headers={"Host": host}).status_code == 403
    port = open_loopback.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        ok = httpx.post(
            f"{open_loopback}/v1/chat/completions", json=body, headers={"Host": host}, timeout=30
        )
        assert ok.status_code == 200, host


# ------------------------------------------------------------------ crafted bodies

SURROGATE = b'{"model": "echo", "messages": [{"role": "user", "content": "a\\ud800b"}]}'
OVERFLOW = (
    b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], '
    b'"response_format": {"type": "json_schema", "json_schema": {"name": "x", '
    b'"schema": {"maximum": 1e400}}}}'
)
DEEP = (
    b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "metadata": '
    + b"[" * 1000
    + b"]" * 1000
    + b"}"
)


@pytest.mark.parametrize("content", [SURROGATE, OVERFLOW, DEEP], ids=["surrogate", "1e400", "deep"])
def test_crafted_chat_bodies_are_400(emulated: str, content: bytes) -> None:
    response = httpx.post(
        f"{emulated}/v1/chat/completions",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


def a2a_message(part: bytes) -> bytes:
    return (
        b'{"jsonrpc": "2.0", "id": 5, "method": "message/send", "params": {"message": '
        b'{"kind": "message", "messageId": "m1", "role": "user", "parts": [' + part + b"]}}}"
    )


@pytest.mark.parametrize(
    "content",
    [
        a2a_message(b'{"kind": "text", "text": "a\\udc00"}'),
        a2a_message(b'{"kind": "data", "data": {"a": 1e400}}'),
        a2a_message(b'{"kind": "data", "data": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1000 + b"}"),
        a2a_message(
            b'{"kind": "file", "file": {"bytes": "!!!notbase64", "mimeType": "image/png"}}'
        ),
    ],
    ids=["surrogate", "1e400", "deep", "bad-base64"],
)
def test_crafted_a2a_bodies_are_json_rpc_errors(emulated: str, content: bytes) -> None:
    response = httpx.post(
        f"{emulated}/a2a/echo", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code < 500, response.text
    reply = response.json()
    assert reply["jsonrpc"] == "2.0" and reply["error"]["code"] in (-32700, -32600, -32602)


# ------------------------------------------------------------------ forwarded headers


def test_card_url_ignores_untrusted_forwarding_headers(
    start_adapter: Any, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBSITE_HOSTNAME", raising=False)
    base = start_adapter(registry=emulator_registry(emulator), project_endpoint=emulator)
    forged = {"x-forwarded-proto": "javascript", "x-forwarded-host": "evil.example"}
    card = httpx.get(f"{base}/a2a/echo/.well-known/agent-card.json", headers=forged).json()
    assert card["url"] == f"{base}/a2a/echo"
    trusted = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        trusted_proxies="127.0.0.0/8",
    )
    proxied = httpx.get(
        f"{trusted}/a2a/echo/.well-known/agent-card.json",
        headers={"x-forwarded-proto": "https", "x-forwarded-host": "agents.example.com"},
    ).json()
    assert proxied["url"] == "https://agents.example.com/a2a/echo"
    still_no_scheme = httpx.get(f"{trusted}/a2a/echo/.well-known/agent-card.json", headers=forged)
    assert not still_no_scheme.json()["url"].startswith("javascript")
    configured = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        public_base_url="https://gw.example.org/agents/",
        trusted_proxies="127.0.0.0/8",
    )
    named = httpx.get(f"{configured}/a2a/echo/.well-known/agent-card.json", headers=forged).json()
    assert named["url"] == "https://gw.example.org/agents/a2a/echo"
    monkeypatch.setenv("WEBSITE_HOSTNAME", "my-app.azurewebsites.net")
    platform = start_adapter(registry=emulator_registry(emulator), project_endpoint=emulator)
    hosted = httpx.get(f"{platform}/a2a/echo/.well-known/agent-card.json", headers=forged).json()
    assert hosted["url"] == "https://my-app.azurewebsites.net/a2a/echo"


@pytest.mark.parametrize("value", ["javascript:alert(1)", "https://u:p@x.example", "ftp://x"])
def test_public_base_url_must_be_a_plain_http_url(value: str) -> None:
    with pytest.raises(ConfigError, match=r"PUBLIC_BASE_URL|public_base_url"):
        load_settings(PUBLIC_BASE_URL=value)


# ------------------------------------------------------------------ upstream hints and URLs


@pytest.mark.parametrize("hint", ["-1", "-0.001", "inf", "nan", "1e9", "0"])
def test_upstream_retry_after_is_clamped(
    httpserver: HTTPServer, start_adapter: Any, hint: str
) -> None:
    httpserver.expect_request(RUNS).respond_with_response(
        Response(
            '{"error": {"code": "rate_limit_exceeded", "message": "slow down"}}',
            status=429,
            headers={"Retry-After": hint},
        )
    )
    base = start_adapter(
        registry=token_registry(httpserver.url_for(ENDPOINT_PATH)), retry_deadline=1.0
    )
    started = time.monotonic()
    response = httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": "azure_ai/agents/asst_a", "messages": USER},
        timeout=30,
    )
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert len(httpserver.log) <= 6  # backoff, not a tight loop
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://user:s3cret-pw@r.services.ai.azure.com/api/projects/p",
        "https://:s3cret-pw@r.services.ai.azure.com/api/projects/p",
        "http://user:s3cret-pw@127.0.0.1:9/api/projects/p",
    ],
)
def test_credentials_in_endpoint_urls_are_refused(tmp_path: Path, endpoint: str) -> None:
    with pytest.raises(ConfigError) as from_env:
        load_settings(AZURE_AI_PROJECT_ENDPOINT=endpoint)
    assert "credentials" in str(from_env.value) and "s3cret" not in str(from_env.value)
    config = tmp_path / "agents.yaml"
    config.write_text(
        "model_list:\n  - model_name: x\n    litellm_params:\n"
        f"      model: azure_ai/agents/asst_a\n      api_base: {endpoint}\n"
    )
    with pytest.raises(ConfigError) as from_file:
        load_registry(Settings(agents_config=config), {})
    assert "api_base" in str(from_file.value) and "s3cret" not in str(from_file.value)


def test_sha256_keys_still_work_after_the_stricter_parsing() -> None:
    digest = hashlib.sha256(b"hashed").hexdigest()
    runtime = Runtime.build(
        Settings(gateway_api_keys=f" plain , sha256:{digest} ,"),
        registry=load_registry(Settings(), {}),
    )
    runtime.callers.check({"x-api-key": "hashed"})
    runtime.callers.check({"authorization": "Bearer plain"})
