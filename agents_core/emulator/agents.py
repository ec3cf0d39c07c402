"""The demo agents and what they answer: pure functions of a `Turn`.

Behaviour is documented in the package docstring; everything here is
deterministic so tests can assert exact replies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .bodies import JSON
from .objects import Agent, Persona, ToolResult

DEMO_MODEL = "gpt-4o-mini"

WEATHER_TOOL: JSON = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a location.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "City name, e.g. Paris"}},
            "required": ["location"],
        },
    },
}


ASK_USER_TOOL: JSON = {
    "type": "function",
    "function": {
        "name": "ask_user",
        "description": "Ask the user for more input before going on.",
        "parameters": {
            "type": "object",
            "properties": {"question": {"type": "string", "description": "What to ask"}},
            "required": ["question"],
        },
    },
}


def demo_agents() -> list[Agent]:
    """Fresh instances of the three demo agents."""
    return [
        Agent(
            id="asst_echo",
            name="Echo",
            description="Echoes the last user message and remembers facts stated in the thread.",
            model=DEMO_MODEL,
            instructions="Echo the user and remember what they tell you.",
            persona="echo",
        ),
        Agent(
            id="asst_tools",
            name="Weather",
            description="Answers weather questions by calling the get_weather function tool.",
            model=DEMO_MODEL,
            instructions="Use get_weather to answer weather questions.",
            persona="tools",
            tools=[WEATHER_TOOL],
        ),
        Agent(
            id="asst_instructions",
            name="Instructions",
            description="Shows the effective instructions of each run, then echoes.",
            model=DEMO_MODEL,
            instructions="You are a helpful assistant.",
            persona="instructions",
        ),
        Agent(
            id="asst_tck",
            name="TCK",
            description="Scripted by the A2A messageId prefix, as the A2A conformance kit expects.",
            model=DEMO_MODEL,
            instructions="Behave as the A2A conformance kit's scenarios say.",
            persona="tck",
            tools=[ASK_USER_TOOL],
        ),
    ]


@dataclass(frozen=True)
class Turn:
    """Everything an agent sees when it takes its turn in a run."""

    persona: Persona
    history: Sequence[tuple[str, str]]
    instructions: str
    tools: Sequence[JSON]
    tool_choice: str | JSON | None
    parallel_tool_calls: bool
    response_format: str | JSON
    results: Sequence[ToolResult] = ()
    message_id: str = ""  # the A2A messageId the latest user message carries as metadata


@dataclass(frozen=True)
class Reply:
    text: str
    files: tuple[str, ...] = ()
    """Names of files the agent generated (code interpreter), cited where the name stands."""
    output_format: JSON | None = None
    """The JSON format the reply is in, which the run or response then reports."""


@dataclass(frozen=True)
class AskCaller:
    """Stop and ask the caller: `mcp_approval_request` or `oauth_consent_request`."""

    kind: str
    detail: str


@dataclass(frozen=True)
class CallTools:
    """Function calls to request, as `(name, arguments_json)` pairs."""

    calls: tuple[tuple[str, str], ...]


def respond(turn: Turn) -> Reply | CallTools:
    """The agent's next move: call function tools, or reply with text."""
    if turn.persona == "tck":
        from .tck_agent import respond_tck

        return respond_tck(turn)
    calls = _tool_calls(turn)
    if calls:
        return CallTools(calls)
    if turn.results:
        text = " ".join(_describe(result) for result in turn.results)
    else:
        text = _persona_reply(turn)
    return Reply(_formatted(text, turn.response_format))


def respond_versioned(turn: Turn) -> Reply | CallTools | AskCaller:
    """`respond`, plus what only versioned agents do on request in the demo.

    "chart" in the user's text: the reply cites a code-interpreter file
    (`container_file_citation`); "approval": an MCP tool asks for approval;
    "consent": a connection asks for OAuth consent.
    """
    last = _last_user_text(turn).lower()
    if not turn.results and "approval" in last:
        return AskCaller("mcp_approval_request", "demo-mcp.delete_files")
    if not turn.results and "consent" in last:
        return AskCaller("oauth_consent_request", "https://login.example.com/consent")
    move = respond(turn)
    if isinstance(move, Reply) and "chart" in last and not turn.results:
        return Reply(f"{move.text} Here is the chart: chart.png", files=("chart.png",))
    return move


def message_text(content: Sequence[JSON]) -> str:
    """What an agent reads from message content: text, with images as `[image_url: …]` markers."""
    parts: list[str] = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block["text"]["value"]))
        elif kind == "image_url":
            parts.append(f"[image_url: {block['image_url']['url']}]")
        elif kind == "image_file":
            parts.append(f"[image_file: {block['image_file']['file_id']}]")
    return " ".join(parts)


def _last_user_text(turn: Turn) -> str:
    for role, text in reversed(turn.history):
        if role == "user":
            return text.strip()
    return ""


def _persona_reply(turn: Turn) -> str:
    reply = _echo(turn)
    if turn.persona == "instructions":
        return f"[instructions: {turn.instructions}] {reply}"
    return reply


_FACTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("name", r"\b(?:my name is|call me)\s+(.+?)(?=\s+and\s+|[.,!?;]|$)"),
        ("like", r"\bi (?:like|love)\s+(.+?)(?=\s+and\s+i\b|[.,!?;]|$)"),
        ("live", r"\bi live in\s+(.+?)(?=\s+and\s+|[.,!?;]|$)"),
        ("remember", r"^(?:please\s+)?remember(?: that)?\s+(.+?)[.!]*$"),
    )
)

_QUESTIONS: tuple[tuple[re.Pattern[str], str, str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), kind, known, unknown)
    for pattern, kind, known, unknown in (
        (
            r"\bwhat(?:'s| is) my name\b|\bwho am i\b",
            "name",
            "Your name is {}.",
            "I don't know your name yet.",
        ),
        (
            r"\bwhat do i (?:like|love)\b",
            "like",
            "You like {}.",
            "You haven't told me what you like yet.",
        ),
        (
            r"\bwhere do i live\b",
            "live",
            "You live in {}.",
            "You haven't told me where you live yet.",
        ),
        (
            r"\bwhat (?:did i ask you to|should you|do you) remember\b",
            "remember",
            "You asked me to remember: {}.",
            "You haven't asked me to remember anything yet.",
        ),
    )
)


def _facts(history: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Facts the user stated, by kind, oldest first; questions state nothing."""
    found: dict[str, list[str]] = {}
    for role, text in history:
        if role != "user":
            continue
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
            sentence = sentence.strip()
            if not sentence or sentence.endswith("?"):
                continue
            for kind, pattern in _FACTS:
                for match in pattern.finditer(sentence):
                    value = match.group(1).strip()
                    if value and value not in found.setdefault(kind, []):
                        found[kind].append(value)
    return found


def _echo(turn: Turn) -> str:
    last = _last_user_text(turn)
    if not last:
        return "Hello! Say something and I will echo it."
    facts = _facts(turn.history)
    answers: list[str] = []
    for pattern, kind, known, unknown in _QUESTIONS:
        if pattern.search(last):
            values = facts.get(kind, [])
            if not values:
                answers.append(unknown)
            elif kind in ("name", "live"):
                answers.append(known.format(values[-1]))
            else:
                answers.append(known.format(" and ".join(values)))
    return " ".join(answers) if answers else f"Echo: {last}"


def _function_tools(turn: Turn) -> list[JSON]:
    return [
        t for t in turn.tools if t.get("type") == "function" and isinstance(t.get("function"), dict)
    ]


def _tool_calls(turn: Turn) -> tuple[tuple[str, str], ...]:
    tools = _function_tools(turn)
    if not tools or turn.tool_choice == "none":
        return ()
    text = _last_user_text(turn)
    by_name = {str(t["function"]["name"]): t for t in tools}
    weather = _weather_locations(text) if "get_weather" in by_name else []
    if weather:
        done = {json.loads(r.call.arguments).get("location") for r in turn.results}
        todo = [place for place in weather if place not in done]
        if not turn.parallel_tool_calls:
            todo = todo[:1]
        return tuple(("get_weather", _arguments(by_name["get_weather"], place)) for place in todo)
    if turn.results:
        return ()
    chosen = _forced_tool(turn, by_name) or _named_tool(text, by_name)
    if chosen is None and turn.tool_choice == "required":
        chosen = tools[0]
    if chosen is None:
        return ()
    return ((str(chosen["function"]["name"]), _arguments(chosen, text)),)


def _forced_tool(turn: Turn, by_name: dict[str, JSON]) -> JSON | None:
    choice = turn.tool_choice
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return by_name.get(str(choice["function"].get("name")))
    return None


def _named_tool(text: str, by_name: dict[str, JSON]) -> JSON | None:
    """The tool the text asks for by name ("get_weather", "get weather" or "weather")."""
    words_in_text = set(re.findall(r"[a-z0-9]+", text.lower()))
    for name, tool in by_name.items():
        lowered = name.lower()
        if lowered in text.lower() or lowered.replace("_", " ") in text.lower():
            return tool
        subject = [w for w in re.split(r"[_\W]+", lowered) if w and w not in _VERBS]
        if subject and all(word in words_in_text for word in subject):
            return tool
    return None


_VERBS = {"get", "fetch", "lookup", "find", "set", "do", "run", "call"}


def _weather_locations(text: str) -> list[str]:
    """Places in "weather in Paris and Rome?" → ["Paris", "Rome"]."""
    match = re.search(r"\bweather\b.*?\b(?:in|for|at)\s+([^?.!\n]+)", text, re.IGNORECASE)
    if not match:
        return []
    places = re.split(r"\s*(?:,|&|\band\b)\s*", match.group(1))
    return [p.strip() for p in places if p.strip()]


def _arguments(tool: JSON, subject: str) -> str:
    """Arguments for a function: its required (or first) parameters filled from `subject`."""
    schema = tool["function"].get("parameters") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    names = [n for n in schema.get("required") or [] if n in properties] or list(properties)[:1]
    values: JSON = {}
    for name in names:
        kind = (properties.get(name) or {}).get("type")
        values[name] = (
            1 if kind in ("integer", "number") else True if kind == "boolean" else subject
        )
    return json.dumps(values)


def _describe(result: ToolResult) -> str:
    if result.call.name == "get_weather":
        location = json.loads(result.call.arguments).get("location", "")
        return _sentence(f"The weather in {location}: {result.output}")
    return _sentence(f"{result.call.name} returned: {result.output}")


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _formatted(text: str, response_format: str | JSON) -> str:
    """The reply in the requested format: JSON that validates against a `json_schema`."""
    kind = response_format.get("type") if isinstance(response_format, dict) else response_format
    if kind == "json_schema" and isinstance(response_format, dict):
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return json.dumps(_instance(schema, text, schema))
    if kind == "json_object":
        return json.dumps({"reply": text})
    return text


def _instance(schema: Any, text: str, root: JSON, depth: int = 0) -> Any:
    """A value valid against `schema` (the JSON Schema subset structured outputs allow)."""
    if not isinstance(schema, dict) or depth > 8:
        return text
    if "$ref" in schema:
        target: Any = root
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _instance(target, text, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _instance(schema[key][0], text, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties: JSON = schema.get("properties") or {}
        return {name: _instance(sub, text, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems") or 1))
        return [_instance(schema.get("items") or {}, text, root, depth + 1)] * count
    if kind == "integer":
        return int(schema.get("minimum") or 1)
    if kind == "number":
        return float(schema.get("minimum") or 1)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return text
