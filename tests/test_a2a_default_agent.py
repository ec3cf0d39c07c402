"""`A2A_DEFAULT_AGENT`: one agent's card at the origin's well-known location (RFC 8615).

A2A clients that discover an agent from a host name alone (the 0.3 kit among
them) read `/.well-known/agent-card.json` (or the older `agent.json`) at the
root; the card there points at the agent's own endpoint under `/a2a/`.
"""

from __future__ import annotations

import httpx
from conftest import Adapter

from agents_core.__main__ import emulator_registry

PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")


def test_root_card_is_the_default_agents_card(start_adapter: Adapter, emulator: str) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator), project_endpoint=emulator, a2a_default_agent="echo"
    )
    own = httpx.get(f"{base}/a2a/echo/.well-known/agent-card.json")
    for path in PATHS:
        response = httpx.get(f"{base}{path}")
        assert response.status_code == 200, response.text
        card = response.json()
        assert card == own.json()
        assert card["url"] == f"{base}/a2a/echo"
        assert {i["url"] for i in card["supportedInterfaces"]} == {f"{base}/a2a/echo"}
        assert response.headers["cache-control"] == "public, max-age=300"
        assert (
            httpx.get(
                f"{base}{path}", headers={"If-None-Match": response.headers["etag"]}
            ).status_code
            == 304
        )
    # the card's URL is the endpoint: a 0.3 client that read it can send there
    sent = httpx.post(
        card["url"],
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {
                "message": {
                    "kind": "message",
                    "messageId": "m1",
                    "role": "user",
                    "parts": [{"kind": "text", "text": "Hi"}],
                }
            },
        },
    ).json()
    assert sent["result"]["status"]["state"] == "completed"


def test_root_card_of_a_versioned_agent(start_adapter: Adapter, emulator: str) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator), project_endpoint=emulator, a2a_default_agent="tck:1"
    )
    card = httpx.get(f"{base}/.well-known/agent-card.json").json()
    assert card["url"] == f"{base}/a2a/tck:1"
    assert card["skills"][0]["id"] == "tck:1"


def test_without_the_setting_the_root_has_no_card(emulated: str) -> None:
    for path in PATHS:
        response = httpx.get(f"{emulated}{path}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "route_not_found"


def test_root_card_follows_the_gateway_keys(start_adapter: Adapter, emulator: str) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        a2a_default_agent="echo",
        gateway_api_keys="k1",
    )
    assert httpx.get(f"{base}/.well-known/agent-card.json").status_code == 401
    keyed = httpx.get(f"{base}/.well-known/agent-card.json", headers={"Authorization": "Bearer k1"})
    assert keyed.status_code == 200
    assert keyed.json()["securitySchemes"]


def test_a_default_agent_outside_exposed_agents_has_no_card(
    start_adapter: Adapter, emulator: str
) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator),
        project_endpoint=emulator,
        a2a_default_agent="echo",
        exposed_agents="tools",
    )
    response = httpx.get(f"{base}/.well-known/agent-card.json")
    assert response.status_code == 404
    assert httpx.get(f"{base}/a2a/echo/.well-known/agent-card.json").status_code == 404
