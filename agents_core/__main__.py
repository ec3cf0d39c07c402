"""Command line: `python -m agents_core serve|emulator`.

`serve` runs the adapter on uvicorn with the same routes `func start`
serves. With no `AZURE_AI_PROJECT_ENDPOINT` and no `AGENTS_CONFIG` (or with
`--emulator`) it embeds the local Foundry emulator on the same port, so the
service answers without an Azure account.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import SecretStr

from agents_core.config import (
    MODEL_PREFIX,
    AgentRegistry,
    AgentSpec,
    ConfigError,
    Credential,
    load_registry,
    load_settings,
)
from agents_core.http import Handlers, create_app
from agents_core.runtime import Runtime

EMULATOR_PREFIX = "/emulator"
EMULATOR_TOKEN = "emulator-local-token"  # noqa: S105 - the emulator's own, not a secret
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def emulator_registry(endpoint: str) -> AgentRegistry:
    """The emulator's demo agents: classic ones as `echo`, `tools`, `instructions`, versioned
    ones by id (`echo:1`, `weather:1`, `instructions:1`); any other id by prefix."""
    from agents_core.emulator import DEMO_AGENTS, DEMO_PROMPT_AGENTS

    agent_ids = (*DEMO_AGENTS, *DEMO_PROMPT_AGENTS)
    credential = Credential("token", token=SecretStr(EMULATOR_TOKEN))
    agents = {
        agent_id.removeprefix("asst_"): AgentSpec(
            agent_id.removeprefix("asst_"), agent_id, endpoint, credential
        )
        for agent_id in agent_ids
    }
    return AgentRegistry(agents, default_endpoint=endpoint, default_credential=credential)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents_core")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the adapter locally")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7071)
    serve.add_argument("--config", type=Path, help="LiteLLM-style model_list YAML (AGENTS_CONFIG)")
    serve.add_argument("--emulator", action="store_true", help="use the embedded Foundry emulator")
    serve.add_argument(
        "--allow-open",
        action="store_true",
        help="serve on a non-loopback address without GATEWAY_API_KEYS",
    )
    commands.add_parser(
        "emulator", help="run the Foundry Agent Service emulator alone", add_help=False
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "emulator":
        from agents_core.emulator import main as emulator_main

        return emulator_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return _serve(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    overrides = {"agents_config": args.config} if args.config else {}
    settings = load_settings(**overrides)
    use_emulator = args.emulator or (
        settings.project_endpoint is None and settings.agents_config is None
    )
    runtime: Runtime
    emulator_app = None
    if use_emulator:
        from agents_core.emulator import create_app as create_emulator

        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        endpoint = f"http://{host}:{args.port}{EMULATOR_PREFIX}/api/projects/demo"
        registry = emulator_registry(endpoint)
        settings = settings.model_copy(update={"project_endpoint": endpoint})
        runtime = Runtime.build(settings, registry=registry)
        emulator_app = create_emulator()
    else:
        runtime = Runtime.build(settings, registry=load_registry(settings))
    if args.host not in LOOPBACK and not runtime.callers.enabled and not args.allow_open:
        print(
            f"refusing to serve on {args.host} without GATEWAY_API_KEYS; set keys, bind to "
            "127.0.0.1, or pass --allow-open to run without authentication",
            file=sys.stderr,
        )
        return 2
    app = create_app(Handlers(runtime))
    if emulator_app is not None:
        from starlette.routing import Mount

        app.router.routes.append(Mount(EMULATOR_PREFIX, app=emulator_app))
    _banner(args, runtime, use_emulator)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def _banner(args: argparse.Namespace, runtime: Runtime, use_emulator: bool) -> None:
    base = f"http://{args.host}:{args.port}"
    upstream = (
        "the LOCAL FOUNDRY EMULATOR (no Azure account needed; set AZURE_AI_PROJECT_ENDPOINT "
        "or AGENTS_CONFIG to use the real service)"
        if use_emulator
        else "Azure AI Foundry Agent Service"
    )
    lines = [
        f"Foundry agents adapter on {base} -> {upstream}",
        f"OpenAI base URL: {base}/v1",
        "Agents (model names):",
        *(f"  {line}" for line in runtime.describe()),
        f"Gateway keys: {'required' if runtime.callers.enabled else 'none (open on loopback)'}",
    ]
    aliases = runtime.registry.aliases()
    model = aliases[0] if aliases else f"{MODEL_PREFIX}<AGENT_ID>"
    auth = ' -H "Authorization: Bearer $GATEWAY_API_KEY"' if runtime.callers.enabled else ""
    lines.append("Try:")
    lines.append(
        f"  curl {base}/v1/chat/completions -H 'Content-Type: application/json'{auth} "
        f"""-d '{{"model": "{model}", "messages": [{{"role": "user", "content": """
        f""""My name is Ada"}}]}}'"""
    )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
