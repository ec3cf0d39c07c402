"""Both directions of trust, end to end through the running adapter."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fakes import ENDPOINT_PATH, run_events, sse_response

RUNS = f"{ENDPOINT_PATH}/threads/runs"
USER = [{"role": "user", "content": "hi"}]
MI_PATH = "/msi/token"
IDENTITY_HEADER = "identity-header-secret"


def managed_identity_token(token: str) -> Response:
    return Response(
        json.dumps(
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + 3600),
                "resource": "https://ai.azure.com",
                "token_type": "Bearer",
            }
        ),
        content_type="application/json",
    )


@pytest.fixture
def app_service_identity(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment App Service / Functions gives a process with a managed identity."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", httpserver.url_for(MI_PATH))
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "instance-1")
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def test_managed_identity_token_is_fetched_once_and_reused(
    httpserver: HTTPServer, start_adapter: Any, app_service_identity: None
) -> None:
    httpserver.expect_request(
        MI_PATH,
        method="GET",
        query_string={"api-version": "2019-08-01", "resource": "https://ai.azure.com"},
        headers={"X-IDENTITY-HEADER": IDENTITY_HEADER},
    ).respond_with_response(managed_identity_token("mi-token-1"))
    httpserver.expect_request(
        RUNS, method="POST", headers={"Authorization": "Bearer mi-token-1"}
    ).respond_with_handler(lambda request: sse_response(run_events(["hello"])))
    base_url = start_adapter(project_endpoint=httpserver.url_for(ENDPOINT_PATH))
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0)
    for _ in range(3):
        reply = client.chat.completions.create(model="azure_ai/agents/asst_a", messages=USER)
        assert reply.choices[0].message.content == "hello"
    token_requests = [r for r, _ in httpserver.log if r.path == MI_PATH]
    assert len(token_requests) == 1


def test_token_endpoint_failure_is_502_naming_the_credential_then_recovers(
    httpserver: HTTPServer, start_adapter: Any, app_service_identity: None
) -> None:
    state = {"up": False}

    def identity(request: Request) -> Response:
        if not state["up"]:
            return Response('{"error": "unavailable"}', status=500)
        return managed_identity_token("mi-token-2")

    httpserver.expect_request(MI_PATH).respond_with_handler(identity)
    httpserver.expect_request(
        RUNS, headers={"Authorization": "Bearer mi-token-2"}
    ).respond_with_handler(lambda request: sse_response(run_events(["back"])))
    base_url = start_adapter(project_endpoint=httpserver.url_for(ENDPOINT_PATH))
    body = {"model": "azure_ai/agents/asst_a", "messages": USER}
    failed = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=60)
    assert failed.status_code == 502
    message = failed.json()["error"]["message"]
    assert "managed identity" in message and "Azure AI User" in message
    assert IDENTITY_HEADER not in failed.text
    assert not any(r.path == RUNS for r, _ in httpserver.log)
    state["up"] = True
    time.sleep(1.1)  # a failure is shared for one second by the callers queued behind it
    recovered = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=60)
    assert recovered.status_code == 200, recovered.text
    assert recovered.json()["choices"][0]["message"]["content"] == "back"


def write_agents(tmp_path: Path, endpoint: str, extra: str) -> Path:
    path = tmp_path / "agents.yaml"
    path.write_text(
        "model_list:\n  - model_name: mine\n    litellm_params:\n"
        f"      model: azure_ai/agents/asst_p\n      api_base: {endpoint}\n{extra}"
    )
    return path


def test_passthrough_agent_uses_the_callers_token(
    httpserver: HTTPServer, start_adapter: Any, tmp_path: Path
) -> None:
    httpserver.expect_request(
        RUNS, headers={"Authorization": "Bearer caller-entra-token"}
    ).respond_with_handler(lambda request: sse_response(run_events(["yours"])))
    config = write_agents(tmp_path, httpserver.url_for(ENDPOINT_PATH), "      auth: passthrough\n")
    base_url = start_adapter(agents_config=config, gateway_api_keys="gw-key")
    body = {"model": "mine", "messages": USER}
    missing = httpx.post(
        f"{base_url}/v1/chat/completions", json=body, headers={"Authorization": "Bearer gw-key"}
    )
    assert missing.status_code == 401
    assert "x-foundry-authorization" in missing.json()["error"]["message"]
    ok = httpx.post(
        f"{base_url}/v1/chat/completions",
        json=body,
        headers={
            "Authorization": "Bearer gw-key",
            "x-foundry-authorization": "Bearer caller-entra-token",
        },
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["choices"][0]["message"]["content"] == "yours"
    for token in ("caf\u00e9", "a b", "=abc", 'x"y'):
        bad = httpx.post(
            f"{base_url}/v1/chat/completions",
            json=body,
            headers={
                "Authorization": "Bearer gw-key",
                "x-foundry-authorization": f"Bearer {token}".encode(),
            },
        )
        assert bad.status_code == 401, (token, bad.text)
        assert bad.json()["error"]["code"] == "invalid_upstream_token"
    assert len(httpserver.log) == 1  # only the good token reached Foundry


@pytest.fixture
def keyed_adapter(httpserver: HTTPServer, start_adapter: Any, tmp_path: Path) -> str:
    httpserver.expect_request(RUNS).respond_with_handler(
        lambda request: sse_response(run_events(["ok"]))
    )
    config = write_agents(
        tmp_path, httpserver.url_for(ENDPOINT_PATH), "      api_key: upstream-tok\n"
    )
    digest = hashlib.sha256(b"hashed-key").hexdigest()
    return str(start_adapter(agents_config=config, gateway_api_keys=f"plain-key, sha256:{digest}"))


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer plain-key"},
        {"api-key": "plain-key"},
        {"x-api-key": "hashed-key"},
        {"Authorization": "Bearer hashed-key"},
    ],
)
def test_gateway_keys_are_accepted_in_every_header(
    keyed_adapter: str, headers: dict[str, str]
) -> None:
    response = httpx.post(
        f"{keyed_adapter}/v1/chat/completions",
        json={"model": "mine", "messages": USER},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert httpx.get(f"{keyed_adapter}/v1/models", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": "Bearer wrong"}, "invalid_api_key"),
        ({"api-key": "sha256:" + hashlib.sha256(b"hashed-key").hexdigest()}, "invalid_api_key"),
    ],
)
def test_missing_or_wrong_keys_are_401_on_every_route(
    httpserver: HTTPServer, keyed_adapter: str, headers: dict[str, str], code: str
) -> None:
    for response in (
        httpx.post(
            f"{keyed_adapter}/v1/chat/completions",
            json={"model": "mine", "messages": USER},
            headers=headers,
        ),
        httpx.get(f"{keyed_adapter}/v1/models", headers=headers),
        httpx.get(f"{keyed_adapter}/v1/models/mine", headers=headers),
    ):
        assert response.status_code == 401
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("authentication_error", code)
    assert httpserver.log == []


def test_openai_sdk_sends_the_gateway_key(keyed_adapter: str) -> None:
    good = openai.OpenAI(base_url=f"{keyed_adapter}/v1", api_key="plain-key", max_retries=0)
    assert (
        good.chat.completions.create(model="mine", messages=USER).choices[0].message.content == "ok"
    )  # type: ignore[arg-type]
    bad = openai.OpenAI(base_url=f"{keyed_adapter}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def principal(**claims: str) -> str:
    document = {"claims": [{"typ": typ, "val": val} for typ, val in claims.items()]}
    return base64.b64encode(json.dumps(document).encode()).decode()


def test_easy_auth_principal_is_trusted_only_when_the_platform_says_so(
    httpserver: HTTPServer, start_adapter: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request(RUNS).respond_with_handler(
        lambda request: sse_response(run_events(["hi"]))
    )
    config = write_agents(
        tmp_path, httpserver.url_for(ENDPOINT_PATH), "      api_key: upstream-tok\n"
    )
    allowed = {
        "x-ms-client-principal-id": "oid-1",
        "x-ms-client-principal": principal(appid="app-1"),
    }
    body = {"model": "mine", "messages": USER}

    keyed = start_adapter(agents_config=config, gateway_api_keys="k")
    assert httpx.post(f"{keyed}/v1/chat/completions", json=body, headers=allowed).status_code == 401

    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    monkeypatch.setenv("WEBSITE_SITE_NAME", "my-app")  # the signal counts on App Service only
    easy = start_adapter(agents_config=config, easy_auth_allowed_principals="app-1, oid-9")
    assert httpx.post(f"{easy}/v1/chat/completions", json=body, headers=allowed).status_code == 200
    other = {"x-ms-client-principal-id": "oid-2", "x-ms-client-principal": principal(appid="app-2")}
    assert httpx.post(f"{easy}/v1/chat/completions", json=body, headers=other).status_code == 401
    assert httpx.post(f"{easy}/v1/chat/completions", json=body).status_code == 401


def test_no_secret_reaches_logs_errors_or_headers(
    httpserver: HTTPServer,
    start_adapter: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = {
        "upstream": "UPSTREAM-TOKEN-0123456789",
        "gateway": "GATEWAY-KEY-0123456789",
        "client_secret": "CLIENT-SECRET-0123456789",
    }
    monkeypatch.setenv("AZURE_TENANT_ID", "tenant-x")
    monkeypatch.setenv("AZURE_CLIENT_ID", "client-x")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", secrets["client_secret"])
    monkeypatch.setenv("LEAK_TOKEN", secrets["upstream"])
    states = iter(["completed", "failed"])

    def upstream(request: Request) -> Response:
        status = next(states, "completed")
        if status == "failed":
            return Response(
                '{"error": {"code": "unauthorized", "message": "bad token"}}', status=401
            )
        return sse_response(run_events(["fine"]))

    httpserver.expect_request(RUNS).respond_with_handler(upstream)
    config = write_agents(
        tmp_path,
        httpserver.url_for(ENDPOINT_PATH),
        "      api_key: os.environ/LEAK_TOKEN\n"
        "  - model_name: sp\n    litellm_params:\n      model: azure_ai/agents/asst_sp\n"
        f"      api_base: {httpserver.url_for(ENDPOINT_PATH)}\n"
        "      tenant_id: os.environ/AZURE_TENANT_ID\n      client_id: os.environ/AZURE_CLIENT_ID\n"
        "      client_secret: os.environ/AZURE_CLIENT_SECRET\n",
    )
    caplog.set_level(logging.DEBUG)
    base_url = start_adapter(agents_config=config, gateway_api_keys=secrets["gateway"])
    auth = {"Authorization": f"Bearer {secrets['gateway']}"}
    responses = [
        httpx.post(
            f"{base_url}/v1/chat/completions",
            json={"model": "mine", "messages": USER},
            headers=auth,
        ),
        httpx.post(
            f"{base_url}/v1/chat/completions",
            json={"model": "mine", "messages": USER},
            headers=auth,
        ),
        httpx.post(
            f"{base_url}/v1/chat/completions",
            json={"model": "mine", "messages": USER},
            headers={"Authorization": "Bearer " + secrets["gateway"][:-1]},
        ),
        httpx.post(
            f"{base_url}/v1/chat/completions",
            json={"model": "mine", "stream": True, "messages": USER},
            headers=auth,
        ),
        httpx.get(f"{base_url}/v1/models", headers=auth),
    ]
    assert [r.status_code for r in responses] == [200, 502, 401, 200, 200]
    exposed = "\n".join(
        [r.text + json.dumps(dict(r.headers)) for r in responses]
        + [record.getMessage() + str(record.args) for record in caplog.records]
    )
    for name, secret in secrets.items():
        assert secret not in exposed, f"{name} leaked"


def test_non_loopback_bind_without_keys_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agents_core", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "AZURE_AI_PROJECT_ENDPOINT": "https://r.services.ai.azure.com/api/projects/p",
        },
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without GATEWAY_API_KEYS" in result.stderr


def test_explicit_agent_credentials_win_over_managed_identity(
    httpserver: HTTPServer, start_adapter: Any, tmp_path: Path, app_service_identity: None
) -> None:
    httpserver.expect_request(MI_PATH).respond_with_response(managed_identity_token("mi-token"))
    httpserver.expect_request(RUNS).respond_with_handler(
        lambda request: sse_response(run_events([request.headers["Authorization"]]))
    )
    config = write_agents(
        tmp_path, httpserver.url_for(ENDPOINT_PATH), "      api_key: explicit-token\n"
    )
    base_url = start_adapter(
        agents_config=config, project_endpoint=httpserver.url_for(ENDPOINT_PATH)
    )
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0)
    explicit = client.chat.completions.create(model="mine", messages=USER)  # type: ignore[arg-type]
    assert explicit.choices[0].message.content == "Bearer explicit-token"
    assert not any(r.path == MI_PATH for r, _ in httpserver.log)
    # Agents without their own credentials fall back to the managed identity.
    other = client.chat.completions.create(model="azure_ai/agents/asst_z", messages=USER)  # type: ignore[arg-type]
    assert other.choices[0].message.content == "Bearer mi-token"


def test_easy_auth_principal_passes_even_when_keys_are_set(
    httpserver: HTTPServer, start_adapter: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind Easy Auth, `Authorization` holds the caller's Entra token, not a gateway key."""
    httpserver.expect_request(RUNS).respond_with_handler(
        lambda request: sse_response(run_events(["hi"]))
    )
    config = write_agents(tmp_path, httpserver.url_for(ENDPOINT_PATH), "      api_key: t\n")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    monkeypatch.setenv("WEBSITE_SITE_NAME", "my-app")
    base = start_adapter(agents_config=config, gateway_api_keys="k")
    body = {"model": "mine", "messages": USER}
    signed_in = {"Authorization": "Bearer eyJ.entra.token", "x-ms-client-principal-id": "oid-1"}
    assert (
        httpx.post(f"{base}/v1/chat/completions", json=body, headers=signed_in).status_code == 200
    )
    wrong_key = {"Authorization": "Bearer nope"}
    assert (
        httpx.post(f"{base}/v1/chat/completions", json=body, headers=wrong_key).status_code == 401
    )
    key = {"Authorization": "Bearer k"}
    assert httpx.post(f"{base}/v1/chat/completions", json=body, headers=key).status_code == 200


class CountingCredential:
    """An azure-identity style async credential that counts its token requests."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        await asyncio.sleep(0.05)
        if self.fail:
            raise RuntimeError("token endpoint unavailable")
        return AccessToken(f"token-{self.calls}", int(time.time()) + 3600)


async def test_concurrent_callers_share_one_token_request() -> None:
    from agents_core.auth import CredentialToken

    credential = CountingCredential()
    source = CredentialToken(credential, "test credential")  # type: ignore[arg-type]
    tokens = await asyncio.gather(*(source.token() for _ in range(20)))
    assert set(tokens) == {"token-1"} and credential.calls == 1
    failing = CountingCredential(fail=True)
    source = CredentialToken(failing, "failing credential")  # type: ignore[arg-type]
    results = await asyncio.gather(*(source.token() for _ in range(20)), return_exceptions=True)
    assert all("failing credential" in str(r) for r in results)
    assert failing.calls == 1  # the queued callers got the same failure, no stampede


def test_user_assigned_identity_is_asked_for_by_client_id(
    httpserver: HTTPServer,
    start_adapter: Any,
    app_service_identity: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_MANAGED_IDENTITY_CLIENT_ID", "uami-client-1")
    httpserver.expect_request(
        MI_PATH,
        query_string={
            "api-version": "2019-08-01",
            "resource": "https://ai.azure.com",
            "client_id": "uami-client-1",
        },
    ).respond_with_response(managed_identity_token("uami-token"))
    httpserver.expect_request(
        RUNS, headers={"Authorization": "Bearer uami-token"}
    ).respond_with_handler(lambda request: sse_response(run_events(["as the app"])))
    base_url = start_adapter(project_endpoint=httpserver.url_for(ENDPOINT_PATH))
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0)
    reply = client.chat.completions.create(model="azure_ai/agents/asst_a", messages=USER)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "as the app"
