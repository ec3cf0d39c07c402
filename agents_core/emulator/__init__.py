"""Local emulator of the Azure AI Foundry Agent Service: classic threads/runs, and versioned agents.

What Azurite is for Storage: `create_app()` serves, under
`/api/projects/{any project}`, the routes the `azure-ai-agents` SDK calls
(`/assistants`, `/threads`, messages, runs, run steps, cancel,
`submit_tool_outputs`, `/threads/runs`), with the service's JSON shapes,
stream events, statuses and upstream-shaped errors. Every request needs a
non-empty `?api-version=` and `Authorization: Bearer <token>` (any token, or
exactly `accept_token`). State lives in memory, per app instance. A control
API under `/_emulator/` (see `control`) counts and logs requests, changes the
timing live and injects faults (HTTP 429/500/503, failed, expired or
incomplete runs, dropped or stalled streams).

Runs last `run_ms` from creation to end; the reply streams as
`thread.message.delta` events of a couple of words, spread over that time,
and goes on whether or not anyone is listening, until it ends or is
cancelled. Token usage counts whitespace-separated words.

Demo agents (deterministic):

- `asst_echo` ("Echo"): replies `Echo: <last user message>` (images appear as
  `[image_url: <url>]` / `[image_file: <id>]`). It remembers facts stated by
  the user anywhere in the thread ("My name is Alice", "Call me Al",
  "I like tea", "I live in Paris", "Remember that the code is 42") and answers
  questions about them instead of echoing: "What is my name?" →
  `Your name is Alice.`; "What do I like?" → `You like tea.`; "Where do I
  live?" → `You live in Paris.`; "What did I ask you to remember?" →
  `You asked me to remember: the code is 42.` (or says it does not know yet).
  It ignores instructions.
- `asst_tools` ("Weather"): has the function tool `get_weather(location)`.
  "What's the weather in Paris?" → the run goes `requires_action` with one
  `get_weather` call, arguments `{"location": "Paris"}`; "weather in Paris
  and Rome" → two parallel calls (one at a time if `parallel_tool_calls` is
  false). After `submit_tool_outputs` it answers `The weather in Paris:
  <output>.` (one sentence per call). Other messages get the echo reply.
- `asst_instructions` ("Instructions"): replies `[instructions: <effective
  instructions>] <echo reply>`, where the effective instructions are the
  run's `instructions` if given, else the agent's ("You are a helpful
  assistant."), followed by a space and `additional_instructions` if given.
- Assistants created with `POST /assistants` behave like `asst_echo`.

Any agent with function tools (its own or the run's `tools`) calls them: the
function forced by `tool_choice`, else `get_weather` per place for a weather
question, else the first function whose name the user wrote, else (when the
run's `tools` override the agent's, or `tool_choice` is `required`) the first
function. Its required string parameters get the place or the user's text;
after the outputs arrive it answers `<name> returned: <output>.`.
`tool_choice: "none"` disables calls. `max_completion_tokens` cuts the reply
and ends the run `incomplete`; `max_prompt_tokens` below the prompt's word
count ends it `incomplete` at once; `truncation_strategy.last_messages` limits
what the agent reads; a `json_object`/`json_schema` `response_format` wraps
the reply as `{"reply": "..."}`.

Versioned agents (the "new Foundry" surface `azure-ai-projects` 2.x and the
`openai` SDK it hands out talk to; see `responses_api`):

- `GET /agents`, `GET /agents/{name}` (`AgentDetails`: `id` = name,
  `versions.latest`), `POST|GET /agents/{name}/versions`,
  `GET /agents/{name}/versions/{version}` (`AgentVersionDetails`: `id`
  `name:version`, `definition: {kind: "prompt", model, instructions, tools}`).
- `POST /openai/v1/conversations` (optional `items`, `metadata`), `GET` and
  `DELETE /openai/v1/conversations/{id}`, `GET|POST .../{id}/items`.
- `POST /openai/v1/responses` with `agent_reference: {type:
  "agent_reference", name, version?}` at the top level of the body, `input`,
  and `conversation` or `previous_response_id`; non-streaming answers once
  the response ends, `stream: true` answers with Responses stream events
  (no `[DONE]`). `GET /openai/v1/responses/{id}`. `api-version` is optional
  under `/openai/v1` (the `openai` SDK sends none); a bearer token is not.

Demo versioned agents (`DEMO_PROMPT_AGENTS`, all at version "1") share the
classic agents' logic: `echo` is `asst_echo` (memory across a conversation
or a `previous_response_id` chain); `weather` is `asst_tools` (a reply with
`function_call` items is already `completed`; the caller sends
`function_call_output` items, and an unknown `call_id` is a 400);
`instructions` replies `[instructions: You are a helpful assistant.<space +
the request's system/developer items joined>] <echo reply>`. Versions
created with `POST /agents/{name}/versions` behave like their name's demo
agent, or like `echo` for a new name. The run faults map onto responses:
`run_failed` / `run_failed_rate_limit` / `run_expired` end it `failed` with
`error.code` `server_error` / `rate_limit_exceeded` / `expired`;
`run_incomplete` ends it `incomplete` after half the reply, as
`max_output_tokens` does after that many words.

This package imports nothing else from `agents_core`, and uvicorn only inside
`main`.
"""

from __future__ import annotations

from .app import create_app
from .cli import main
from .options import EmulatorOptions

DEMO_AGENTS: tuple[str, ...] = ("asst_echo", "asst_tools", "asst_instructions", "asst_tck")
DEMO_PROMPT_AGENTS: tuple[str, ...] = ("echo:1", "weather:1", "instructions:1", "tck:1")
"""Demo versioned agents as agent version ids (`name:version`)."""

__all__ = ["DEMO_AGENTS", "DEMO_PROMPT_AGENTS", "EmulatorOptions", "create_app", "main"]
