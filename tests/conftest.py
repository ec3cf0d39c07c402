"""Shared fixtures: the adapter on a real loopback port, in front of a fake or emulated upstream."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from agents_core.__main__ import emulator_registry
from agents_core.config import AgentRegistry, Settings, load_registry
from agents_core.emulator import EmulatorOptions
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
    with serve(create_emulator(EmulatorOptions(run_ms=RUN_MS))) as url:
        yield url


@pytest.fixture
def emulator(emulator_url: str) -> Iterator[str]:
    """The emulator's project endpoint, with request counters and faults cleared."""
    import httpx

    httpx.post(f"{emulator_url}/_emulator/reset")
    yield f"{emulator_url}/api/projects/demo"
    httpx.post(f"{emulator_url}/_emulator/reset")


RUN_MS = 150


@pytest.fixture
def slow_runs(emulator_url: str) -> Callable[[float], AbstractContextManager[None]]:
    """`with slow_runs(ms):` makes the shared emulator's runs take `ms` for a while."""
    import httpx

    @contextmanager
    def run_ms(ms: float) -> Iterator[None]:
        httpx.post(f"{emulator_url}/_emulator/settings", json={"run_ms": ms})
        try:
            yield
        finally:
            httpx.post(f"{emulator_url}/_emulator/settings", json={"run_ms": RUN_MS})

    return run_ms


@pytest.fixture
def emulated(start_adapter: Adapter, emulator: str) -> str:
    """The adapter in front of the emulator, demo agents named `echo`, `tools`, `instructions`."""
    return start_adapter(registry=emulator_registry(emulator), project_endpoint=emulator)


@dataclass(frozen=True)
class Kind:
    """How the emulator's demo agents of one kind are named and reached upstream."""

    name: str
    echo: str
    tools: str
    instructions: str
    run_route: str  # the request that starts a turn on an existing conversation
    new_route: str  # the request that starts a new conversation (and its first turn)
    cancel_route: str | None  # None: closing the stream is what stops a versioned response

    @property
    def turn_route(self) -> str:
        """The request that starts a turn (and may be throttled or fail)."""
        return self.new_route if self.name == "classic" else self.run_route

    @property
    def conversation_prefix(self) -> str:
        return "thread_" if self.name == "classic" else "conv_"


KINDS = {
    "classic": Kind(
        "classic",
        "echo",
        "tools",
        "instructions",
        run_route="POST /threads/{thread_id}/runs",
        new_route="POST /threads/runs",
        cancel_route="POST /threads/{thread_id}/runs/{run_id}/cancel",
    ),
    "versioned": Kind(
        "versioned",
        "echo:1",
        "weather:1",
        "instructions:1",
        run_route="POST /openai/v1/responses",
        new_route="POST /openai/v1/conversations",
        cancel_route=None,
    ),
}


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    """Both kinds of Foundry agent: classic (threads/runs) and versioned (Responses API)."""
    return KINDS[str(request.param)]
