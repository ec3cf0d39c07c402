"""The Azure Functions app registers the shared handlers with streaming enabled."""

from __future__ import annotations

import json
from pathlib import Path

from azurefunctions.extensions.base import HttpV2FeatureChecker

import function_app
from agents_core import http, playground

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = function_app.app.get_functions()  # indexing twice is an error: once, as the host does


def test_routes_methods_and_anonymous_auth() -> None:
    """API routes take OPTIONS too, so CORS preflights reach the adapter's CORS handling."""
    routes = {}
    for function in FUNCTIONS:
        for trigger in json.loads(function.get_function_json())["bindings"]:
            if trigger["type"] == "httpTrigger":  # the retention timer has none
                routes[trigger["route"]] = (trigger["methods"], trigger["authLevel"])
    assert routes == {
        "v1/chat/completions": (["POST", "OPTIONS"], "ANONYMOUS"),
        "v1/responses": (["POST", "OPTIONS"], "ANONYMOUS"),
        "v1/responses/{response_id}": (["GET", "OPTIONS"], "ANONYMOUS"),
        "v1/responses/{response_id}/cancel": (["POST", "OPTIONS"], "ANONYMOUS"),
        "v1/models": (["GET", "OPTIONS"], "ANONYMOUS"),
        "v1/models/{*model}": (["GET", "OPTIONS"], "ANONYMOUS"),
        "v1/files/{file_id}/content": (["GET", "OPTIONS"], "ANONYMOUS"),
        "a2a/{agent}": (["POST", "OPTIONS"], "ANONYMOUS"),
        "v1/a2a/{agent}/message/send": (["POST", "OPTIONS"], "ANONYMOUS"),
        "a2a/{agent}/.well-known/agent-card.json": (["GET", "OPTIONS"], "ANONYMOUS"),
        "a2a/{agent}/.well-known/agent.json": (["GET", "OPTIONS"], "ANONYMOUS"),
        ".well-known/agent-card.json": (["GET", "OPTIONS"], "ANONYMOUS"),
        ".well-known/agent.json": (["GET", "OPTIONS"], "ANONYMOUS"),
        playground.FUNCTIONS_ROOT_ROUTE: (["GET"], "ANONYMOUS"),
        "playground": (["GET"], "ANONYMOUS"),
        "playground/{asset}": (["GET"], "ANONYMOUS"),
    }


def test_streaming_extension_is_enabled() -> None:
    assert HttpV2FeatureChecker.http_v2_enabled()


def test_handlers_are_the_shared_ones() -> None:
    assert isinstance(function_app.handlers, http.Handlers)


def test_host_json_serves_paths_without_api_prefix() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == ""


def test_every_local_route_is_a_function_route() -> None:
    """The local server and the Functions host serve the same paths."""
    from agents_core.http import create_app

    local = {
        route.path.lstrip("/").replace("{model:path}", "{*model}")
        or playground.FUNCTIONS_ROOT_ROUTE
        for route in create_app(function_app.handlers).routes
    }
    registered = set()
    for function in FUNCTIONS:
        bindings = json.loads(function.get_function_json())["bindings"]
        registered |= {b["route"] for b in bindings if b["type"] == "httpTrigger"}
    assert local == registered
