"""Agent cards: where they point, how they may be cached, and what a missing one says.

A card points at a route that serves its agent (an agent named by id
included); a card a key unlocks is `private` and varies on the key and the
host it was built from; a card route with no card names no agent.
"""

from __future__ import annotations

from typing import Any

import httpx
from conftest import Adapter

from agents_core.__main__ import emulator_registry


def _rpc(url: str, method: str, params: dict[str, Any], call_id: Any = 1) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": call_id, "method": method, "params": params}
    return httpx.post(url, json=body, timeout=30)


# 3-5. Agent cards


def test_a_default_agent_named_by_id_points_at_its_route(
    start_adapter: Adapter, emulator: str
) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator), project_endpoint=emulator, a2a_default_agent="weather"
    )
    root = httpx.get(f"{base}/.well-known/agent-card.json")
    own = httpx.get(f"{base}/a2a/weather/.well-known/agent-card.json")
    assert root.status_code == own.status_code == 200, root.text
    for card in (root.json(), own.json()):
        assert card["url"] == f"{base}/a2a/weather"
        assert {i["url"] for i in card["supportedInterfaces"]} == {f"{base}/a2a/weather"}
    message = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}
    sent = _rpc(root.json()["url"], "SendMessage", {"message": message})
    assert sent.status_code == 200, sent.text
    assert sent.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    # a configured name keeps its own segment; an id with a configured name gets the name
    by_id = httpx.get(f"{base}/a2a/asst_echo/.well-known/agent-card.json").json()
    assert by_id["url"] == f"{base}/a2a/asst_echo"


def test_a_default_agent_given_with_the_model_prefix_points_at_a_route(
    start_adapter: Adapter, emulator: str
) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        a2a_default_agent="azure_ai/agents/weather",
    )
    card = httpx.get(f"{base}/.well-known/agent-card.json").json()
    assert card["url"] == f"{base}/a2a/weather"


def test_a_hidden_default_agents_card_names_nothing(start_adapter: Adapter, emulator: str) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        a2a_default_agent="echo",
        exposed_agents="tools",
    )
    unset = start_adapter(registry=emulator_registry(emulator), project_endpoint=emulator)
    for url in (
        f"{base}/.well-known/agent-card.json",
        f"{base}/a2a/echo/.well-known/agent-card.json",
        f"{base}/a2a/nobody/.well-known/agent-card.json",
        f"{unset}/.well-known/agent.json",
    ):
        response = httpx.get(url)
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["message"] == "no agent card here"
        assert "echo" not in response.text and "tools" not in response.text


def test_cards_a_key_unlocks_are_private(start_adapter: Adapter, emulator: str) -> None:
    keyed = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        a2a_default_agent="echo",
        gateway_api_keys="alice=ka-secret-key-0001",
    )
    auth = {"Authorization": "Bearer ka-secret-key-0001"}
    for path in ("/.well-known/agent-card.json", "/a2a/echo/.well-known/agent-card.json"):
        response = httpx.get(f"{keyed}{path}", headers=auth)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, max-age=300"
        vary = {v.strip().lower() for v in response.headers["vary"].split(",")}
        assert {"host", "authorization", "x-api-key"} <= vary
        again = httpx.get(
            f"{keyed}{path}", headers={**auth, "If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304
        assert again.headers["cache-control"] == "private, max-age=300"
    public = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        gateway_api_keys="alice=ka-secret-key-0001",
        public_agent_cards=True,
        public_base_url="https://agents.example",
    )
    card = httpx.get(f"{public}/a2a/echo/.well-known/agent-card.json")
    assert card.headers["cache-control"] == "public, max-age=300"
    assert "vary" not in card.headers  # its URLs come from configuration alone
    assert card.json()["url"] == "https://agents.example/a2a/echo"


def test_card_vary_keeps_the_cors_origin(start_adapter: Adapter, emulator: str) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        cors_allow_origins="https://app.example",
    )
    card = httpx.get(
        f"{base}/a2a/echo/.well-known/agent-card.json", headers={"Origin": "https://app.example"}
    )
    vary = {v.strip().lower() for v in card.headers["vary"].split(",")}
    assert {"host", "origin"} <= vary
    assert card.headers["cache-control"] == "public, max-age=300"
