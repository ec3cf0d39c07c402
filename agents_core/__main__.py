"""Command line: `python -m agents_core serve|emulator`.

`serve` runs the adapter on uvicorn with the same routes `func start`
serves. With no `AZURE_AI_PROJECT_ENDPOINT` and no `AGENTS_CONFIG` (or with
`--emulator`) it embeds the local Foundry emulator on the same port, so the
service answers without an Azure account; the emulator holds every
conversation, so it is served on loopback only and, with gateway keys set,
behind them.

Slow clients are bounded: headers must arrive within `--header-timeout`,
bodies within `BODY_READ_TIMEOUT`, and connections beyond what the process's
file descriptors allow are closed at once instead of exhausting them.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import resource
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from agents_core.auth import CallerAuth
from agents_core.config import (
    MODEL_PREFIX,
    AgentRegistry,
    AgentSpec,
    ConfigError,
    Credential,
    load_registry,
    load_settings,
)
from agents_core.errors import AdapterError, HostNotAllowed
from agents_core.http import Handlers, create_app, error_response
from agents_core.runtime import Runtime

EMULATOR_PREFIX = "/emulator"
EMULATOR_TOKEN = "emulator-local-token"  # noqa: S105 - the emulator's own, not a secret
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
HEADER_TIMEOUT = 10.0
FDS_PER_CONNECTION = 2  # the caller's socket and, while it is served, one upstream connection


def emulator_registry(endpoint: str, token: str = EMULATOR_TOKEN) -> AgentRegistry:
    """The emulator's demo agents: classic ones as `echo`, `tools`, `instructions`, versioned
    ones by id (`echo:1`, `weather:1`, `instructions:1`); any other id by prefix."""
    from agents_core.emulator import DEMO_AGENTS, DEMO_PROMPT_AGENTS

    agent_ids = (*DEMO_AGENTS, *DEMO_PROMPT_AGENTS)
    credential = Credential("token", token=SecretStr(token))
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
    serve = commands.add_parser(
        "serve",
        help="run the adapter locally",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind")
    serve.add_argument("--port", type=int, default=7071, help="port to bind")
    serve.add_argument("--config", type=Path, help="LiteLLM-style model_list YAML (AGENTS_CONFIG)")
    serve.add_argument(
        "--emulator",
        action="store_true",
        help="use the embedded Foundry emulator even when Azure settings are given "
        "(without any, it is used anyway; loopback only)",
    )
    serve.add_argument(
        "--allow-open",
        action="store_true",
        help="serve on a non-loopback address without GATEWAY_API_KEYS",
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT,
        help="seconds a connection may take to send its request headers",
    )
    commands.add_parser(
        "emulator", help="run the Foundry Agent Service emulator alone", add_help=False
    )
    commands.add_parser(
        "cleanup",
        help="delete adapter-created threads idle beyond THREAD_RETENTION_DAYS",
        add_help=False,
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "emulator":
        return _emulator(rest)
    if args.command == "cleanup":
        from agents_core.retention import main as cleanup_main

        return cleanup_main(rest)
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


def _emulator(argv: list[str]) -> int:
    from agents_core.emulator import main as emulator_main

    if {"-h", "--help"} & set(argv):
        print(
            "usage: python -m agents_core emulator [--host HOST] [--port PORT] "
            "[--latency-ms MS] [--run-ms MS] [--accept-token T]\n\n"
            "Run the Foundry Agent Service emulator alone.\n\n"
            "options:\n"
            "  --host HOST         address to bind (default: 127.0.0.1)\n"
            "  --port PORT         port to bind (default: 8080)\n"
            "  --latency-ms MS     delay before every answer (default: 0)\n"
            "  --run-ms MS         duration of each run (default: 300)\n"
            "  --accept-token T    the only bearer token accepted (default: any token)"
        )
        return 0
    return int(emulator_main(argv))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    busy = _port_in_use(args.host, args.port)
    if busy:
        print(
            f"cannot listen on {args.host}:{args.port} ({busy}): stop what is using it, "
            f"or pick another port (make run PORT={args.port + 1}, or --port)",
            file=sys.stderr,
        )
        return 2
    overrides = {"agents_config": args.config} if args.config else {}
    settings = load_settings(**overrides)
    use_emulator = args.emulator or (
        settings.project_endpoint is None and settings.agents_config is None
    )
    if use_emulator and args.host not in LOOPBACK:
        print(
            f"refusing to serve the embedded emulator on {args.host}: it holds every "
            "conversation and fault injection; bind to 127.0.0.1, or set "
            "AZURE_AI_PROJECT_ENDPOINT / AGENTS_CONFIG to use Foundry",
            file=sys.stderr,
        )
        return 2
    runtime: Runtime
    emulator_app = None
    token = EMULATOR_TOKEN
    if use_emulator:
        from agents_core.emulator import EmulatorOptions
        from agents_core.emulator import create_app as create_emulator

        token = secrets.token_urlsafe(32)  # the adapter's own, so no caller can present it
        endpoint = f"http://{args.host}:{args.port}{EMULATOR_PREFIX}/api/projects/demo"
        if args.host == "::1":
            endpoint = f"http://[::1]:{args.port}{EMULATOR_PREFIX}/api/projects/demo"
        registry = emulator_registry(endpoint, token)
        settings = settings.model_copy(update={"project_endpoint": endpoint})
        runtime = Runtime.build(settings, registry=registry)
        emulator_app = create_emulator(EmulatorOptions(accept_token=token))
    else:
        runtime = Runtime.build(settings, registry=load_registry(settings))
    if args.host not in LOOPBACK and not runtime.callers.enabled and not args.allow_open:
        print(
            f"refusing to serve on {args.host} without GATEWAY_API_KEYS; set keys, bind to "
            "127.0.0.1, or pass --allow-open to run without authentication",
            file=sys.stderr,
        )
        return 2
    loopback_only = args.host in LOOPBACK and not runtime.callers.enabled
    handlers = Handlers(runtime, loopback_only=loopback_only)
    app = create_app(handlers)
    if emulator_app is not None:
        gate = EmulatorGate(emulator_app, runtime.callers, token, loopback_only)
        app.mount(EMULATOR_PREFIX, gate)
    _banner(args, runtime, use_emulator)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
        http=bounded_protocol(args.header_timeout, max_connections()),
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        timeout_keep_alive=5,
    )
    uvicorn.Server(config).run()
    return 0


def _port_in_use(host: str, port: int) -> str:
    """Why `host:port` cannot be listened on (empty when it can), checked before the banner."""
    try:
        with socket.create_server((host, port), family=_family(host)):
            return ""
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def max_connections() -> int:
    """Connections served at once: what the file descriptor limit leaves room for."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(8, min((soft - 32) // FDS_PER_CONNECTION, 4096))


MAX_HEADER_BYTES = 16 * 1024
HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n"
    b"content-length: 0\r\n\r\n"
)


def bounded_protocol(header_timeout: float, limit: int) -> type[Any]:
    """uvicorn's httptools protocol with a header read deadline and a cap on open connections.

    httptools (C) parses requests at a fraction of h11's CPU cost. uvicorn waits
    for request headers without a deadline, so connections that never finish
    them would hold file descriptors forever; and connections past the
    descriptor limit would fail every accept, for every caller. The deadline
    runs from the connection's start and again after each response (an idle
    keep-alive connection gets `timeout_keep_alive`, whichever ends first).
    A request line and headers over `MAX_HEADER_BYTES` get 431.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _header_bytes = 0
        _too_large = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limit:
                transport.close()
                return
            self._arm()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._disarm()
            self._header_bytes = 0
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            if not self._too_large:
                super().send_400_response(msg)
                return
            self.transport.write(HEADERS_TOO_LARGE)
            self.transport.close()

        def _count(self, size: int) -> None:
            self._header_bytes += size
            if self._header_bytes > MAX_HEADER_BYTES:
                self._too_large = True
                raise ValueError("request line and headers too large")  # stops the parser

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self.transport.close)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

    return BoundedHttpToolsProtocol


class EmulatorGate:
    """The embedded emulator, answering only the adapter and holders of a gateway key.

    The adapter's upstream requests carry its own random token; with gateway
    keys set, everyone else needs a key (the control API under `/_emulator`
    included). In open local mode only loopback `Host` names are served.
    """

    def __init__(self, app: Any, callers: CallerAuth, token: str, loopback_only: bool) -> None:
        self.app = app
        self._callers = callers
        self._token = f"Bearer {token}".encode()
        self._loopback_only = loopback_only

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            from starlette.datastructures import Headers

            from agents_core.edge import loopback_host, request_id

            headers = Headers(scope=scope)
            error: AdapterError | None = None
            if self._loopback_only and not loopback_host(headers):
                error = HostNotAllowed()
            elif self._callers.enabled and not hmac.compare_digest(
                headers.get("authorization", "").encode(), self._token
            ):
                try:
                    self._callers.check(headers)
                except AdapterError as exc:
                    error = exc
            if error is not None:
                await error_response(error, request_id(scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
        f"Playground: {base}/"
        + ("" if runtime.settings.playground else " (turned off: PLAYGROUND=false)"),
        "Agents (model names):",
        *(f"  {line}" for line in runtime.describe()),
        f"Caller authentication: {runtime.callers.describe()}"
        + ("" if runtime.callers.enabled else f" on {args.host}"),
        f"A2A: {base}/a2a/<model name> (card: .../.well-known/agent-card.json)",
    ]
    default_agent = runtime.settings.a2a_default_agent
    if default_agent:
        lines.append(
            f"Root agent card: {base}/.well-known/agent-card.json -> {default_agent} "
            "(A2A_DEFAULT_AGENT)"
        )
    aliases = runtime.registry.aliases()
    model = aliases[0] if aliases else f"{MODEL_PREFIX}<AGENT_ID>"
    auth = ' -H "Authorization: Bearer $GATEWAY_KEY"' if runtime.callers.keys_enabled else ""
    lines.append("Try:" + (" (export GATEWAY_KEY=<one of your keys> first)" if auth else ""))
    lines.append(
        f"  curl {base}/v1/chat/completions -H 'Content-Type: application/json'{auth} "
        f"""-d '{{"model": "{model}", "messages": [{{"role": "user", "content": """
        f""""My name is Ada"}}]}}'"""
    )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
