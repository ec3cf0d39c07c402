"""A strict emulator (one accepted token) for the contract tests of both Foundry SDKs.

Test modules import these fixtures; each module gets its own emulator, reset
before every test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from agents_core.emulator import EmulatorOptions, create_app

from servers import serve

TOKEN = "emulator-test-token"
RUN_MS = 150


class StaticBearer(SansIOHTTPPolicy[Any, Any]):
    """Sets the bearer header itself: azure-core's credential policy refuses plain http."""

    def __init__(self, token: str = TOKEN) -> None:
        self._token = token

    def on_request(self, request: PipelineRequest[Any]) -> None:
        request.http_request.headers["Authorization"] = f"Bearer {self._token}"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(create_app(EmulatorOptions(run_ms=RUN_MS, accept_token=TOKEN))) as url:
        yield url


@pytest.fixture(scope="module")
def controls(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{base_url}/_emulator") as http:
        yield http


@pytest.fixture(autouse=True)
def clean_emulator(controls: httpx.Client) -> None:
    controls.post("/reset")
    controls.post("/settings", json={"run_ms": RUN_MS, "latency_ms": 0})


@pytest.fixture(scope="module")
def endpoint(base_url: str) -> str:
    return f"{base_url}/api/projects/demo"
