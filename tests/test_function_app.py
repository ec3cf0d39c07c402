"""The Azure Functions app registers the shared handlers with streaming enabled."""

from __future__ import annotations

import json
from pathlib import Path

from azurefunctions.extensions.base import HttpV2FeatureChecker

import function_app
from agents_core import http

ROOT = Path(__file__).resolve().parent.parent


def test_routes_methods_and_anonymous_auth() -> None:
    routes = {}
    for function in function_app.app.get_functions():
        [trigger] = [
            b
            for b in json.loads(function.get_function_json())["bindings"]
            if b["type"] == "httpTrigger"
        ]
        routes[trigger["route"]] = (trigger["methods"], trigger["authLevel"])
    assert routes == {
        "v1/chat/completions": (["POST"], "ANONYMOUS"),
        "v1/models": (["GET"], "ANONYMOUS"),
        "v1/models/{*model}": (["GET"], "ANONYMOUS"),
    }


def test_streaming_extension_is_enabled() -> None:
    assert HttpV2FeatureChecker.http_v2_enabled()


def test_handlers_are_the_shared_ones() -> None:
    assert isinstance(function_app.handlers, http.Handlers)


def test_host_json_serves_paths_without_api_prefix() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == ""
