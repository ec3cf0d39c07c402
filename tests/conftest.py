"""Shared fixtures: the adapter on a real loopback port, in front of a fake or emulated upstream."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from agents_core.__main__ import emulator_registry
from agents_core.config import AgentRegistry, Settings, load_registry
from agents_core.emulator import DEMO_AGENTS, EmulatorOptions
from agents_core.emulator import create_app as create_emulator
from agents_core.http import Handlers, create_app
from agents_core.runtime import Runtime

from servers import serve

Adapter = Callable[..., str]


@pytest.fixture
def start_adapter() -> Iterator[Adapter]:
    """Start the adapter with `Settings(**overrides)`; returns its base URL (no `/v1`)."""
    with ExitStack() as stack:

        def start(registry: AgentRegistry | None = None, **overrides: Any) -> str:
            overrides.setdefault("retry_deadline", 2.0)
            settings = Settings(**overrides)
            runtime = Runtime.build(settings, registry=registry or load_registry(settings))
            return stack.enter_context(serve(create_app(Handlers(runtime))))

        yield start


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """One Foundry emulator for the session (runs take ~150 ms); its control API resets per test."""
    with serve(create_emulator(EmulatorOptions(run_ms=150))) as url:
        yield url


@pytest.fixture
def emulator(emulator_url: str) -> Iterator[str]:
    """The emulator's project endpoint, with request counters and faults cleared."""
    import httpx

    httpx.post(f"{emulator_url}/_emulator/reset")
    yield f"{emulator_url}/api/projects/demo"
    httpx.post(f"{emulator_url}/_emulator/reset")


@pytest.fixture
def emulated(start_adapter: Adapter, emulator: str) -> str:
    """The adapter in front of the emulator, demo agents named `echo`, `tools`, `instructions`."""
    return start_adapter(
        registry=emulator_registry(emulator, DEMO_AGENTS), project_endpoint=emulator
    )
