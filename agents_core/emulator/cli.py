"""Command line: serve an emulator with uvicorn (`python -m agents_core.emulator`)."""

from __future__ import annotations

import argparse

from .agents import demo_agents
from .app import create_app
from .options import EmulatorOptions
from .prompt_agents import demo_prompt_agents


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agents_core.emulator",
        description="Local emulator of the Azure AI Foundry Agent Service (runs and responses).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--latency-ms", type=float, default=0, help="delay before every answer")
    parser.add_argument("--run-ms", type=float, default=300, help="duration of each run")
    parser.add_argument("--accept-token", default=None, help="the only bearer token accepted")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until interrupted; print the project endpoint and the agent ids first."""
    args = _parser().parse_args(argv)
    import uvicorn  # only the server needs it, not `import agents_core.emulator`

    options = EmulatorOptions(
        latency_ms=args.latency_ms, run_ms=args.run_ms, accept_token=args.accept_token
    )
    app = create_app(options)
    endpoint = f"http://{args.host}:{args.port}/api/projects/demo"
    print(f"Foundry Agent Service emulator, project endpoint: {endpoint}", flush=True)
    for agent in demo_agents():
        print(f"  agent {agent.id} ({agent.name}): {agent.description}", flush=True)
    for prompt_agent in demo_prompt_agents():
        latest = prompt_agent.latest
        print(f"  versioned agent {latest.id}: {latest.description}", flush=True)
    # Idle connections are kept about as long as Azure's front ends keep them (4 minutes).
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_keep_alive=240)
    return 0
