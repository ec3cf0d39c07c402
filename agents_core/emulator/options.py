"""Emulator configuration: the options it starts with and the knobs tests turn live."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmulatorOptions:
    """How an emulator instance starts.

    `latency_ms` is added before every API answer; `run_ms` is how long a run
    takes from creation to its end, with message deltas spread across it;
    `accept_token`, when set, is the only bearer token accepted (otherwise any
    non-empty token is).
    """

    latency_ms: float = 0
    run_ms: float = 300
    accept_token: str | None = None


@dataclass
class Knobs:
    """The live, mutable copy of the timing options (changed by `/_emulator/settings`).

    `max_deltas` bounds how many text deltas one reply is split into (benchmarks
    raise it to measure the cost per streamed delta).
    """

    latency_ms: float
    run_ms: float
    max_deltas: int = 40

    @classmethod
    def from_options(cls, options: EmulatorOptions) -> Knobs:
        return cls(latency_ms=options.latency_ms, run_ms=options.run_ms)
