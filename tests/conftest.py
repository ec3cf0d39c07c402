"""Shared fixtures: the adapter on a real loopback port, in front of a fake or emulated upstream."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from agents_core.config import AgentRegistry, Settings, load_registry
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
