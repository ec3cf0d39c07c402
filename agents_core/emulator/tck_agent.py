"""The conformance demo agent `asst_tck` / `tck:1`: scripted by the A2A message id.

The A2A conformance kit (a2aproject/a2a-tck, `scenarios/*.feature`) selects
an agent behaviour by the prefix of the message's `messageId`, which the
adapter passes to Foundry as message metadata (`a2a_message_id`; for
versioned agents, response metadata). What the agent does per prefix:

| prefix | reply |
|---|---|
| `tck-input-required` | calls the function `ask_user` (the task waits for input) |
| `tck-artifact-text` | `Generated text content` |
| `tck-artifact-file`, `tck-artifact-file-url`, `tck-stream-artifact-file` | `output.txt` (1) |
| `tck-artifact-data` | `{"key": "value", "count": 42}` (2) |
| `tck-message-response` | `Direct message response` |
| `tck-reject-task` | `rejected` |
| `tck-stream-001` | `Stream hello from TCK` |
| `tck-stream-002` | `Stream message from TCK` |
| `tck-stream-003` | `Stream task lifecycle` |
| `tck-stream-ordering-001` | `Ordered output` |
| `tck-stream-artifact-text` | `Streamed text content` |
| `tck-stream-artifact-chunked` | `chunk-1 chunk-2` |
| any other `tck-` prefix (`tck-complete-task`, ...) | `Hello from TCK` |
| an id without a `tck-` prefix (the 0.3 kit's `test-…`, `cancel-test-…`) | calls `ask_user` (3) |
| `test-resubscribe-message-id`, or no message id (not A2A) | `Hello from TCK` |

(1) A file the agent generated (code interpreter): the reply is nothing but
its marker, a `file_path` annotation (classic) or a `container_file_citation`
(versioned). (2) In the JSON format `json_object`, which the run (classic
`response_format`) or the response (`text.format`) reports.

(3) The 0.3 kit has no scenario table: its tests open a task with a plain
message, then send more messages to that task or cancel it, which the A2A
specification allows only while the task is not finished (0.3 §7.1, and
-32002 for cancelling a finished task). So a task opened without a `tck-`
scenario is a conversation the agent keeps open: it asks for input, and
asks again after each answer until the answer is `done`.

An answer to `ask_user` (the caller's next message on the waiting task)
completes a `tck-input-required` task with `Hello from TCK`: tool outputs
carry no metadata, so the agent cannot read that message's id; it goes by
the id of the message that opened the task. A bare message instead of a task
and a rejected task have no Foundry equivalent; those prefixes get the text
reply above.
"""

from __future__ import annotations

import json

from .agents import CallTools, Reply, Turn

__all__ = ["MESSAGE_ID_KEY", "respond_tck"]

MESSAGE_ID_KEY = "a2a_message_id"
COMPLETE = "Hello from TCK"
RESUBSCRIBE = "test-resubscribe-message-id"  # the 0.3 kit's one scripted id (a plain reply)
REPLIES: tuple[tuple[str, Reply], ...] = (  # longest prefixes first where they share a stem
    ("tck-artifact-text", Reply("Generated text content")),
    ("tck-artifact-file", Reply("output.txt", files=("output.txt",))),  # and -file-url
    (
        "tck-artifact-data",
        Reply('{"key": "value", "count": 42}', output_format={"type": "json_object"}),
    ),
    ("tck-message-response", Reply("Direct message response")),
    ("tck-reject-task", Reply("rejected")),
    ("tck-stream-artifact-chunked", Reply("chunk-1 chunk-2")),
    ("tck-stream-artifact-text", Reply("Streamed text content")),
    ("tck-stream-artifact-file", Reply("output.txt", files=("output.txt",))),
    ("tck-stream-ordering-001", Reply("Ordered output")),
    ("tck-stream-001", Reply("Stream hello from TCK")),
    ("tck-stream-002", Reply("Stream message from TCK")),
    ("tck-stream-003", Reply("Stream task lifecycle")),
)


def respond_tck(turn: Turn) -> Reply | CallTools:
    """The scripted move for the turn's message id (see the module docstring)."""
    message_id = turn.message_id
    open_ended = bool(message_id) and not message_id.startswith(("tck-", RESUBSCRIBE))
    if turn.results:
        if open_ended and turn.results[-1].output.strip().lower() != "done":
            return _ask("Anything else? Reply on this task, or 'done' to finish.")
        return Reply(COMPLETE)
    if open_ended or message_id.startswith("tck-input-required"):
        return _ask("The task needs more input: reply to continue.")
    for prefix, reply in REPLIES:
        if message_id.startswith(prefix):
            return reply
    return Reply(COMPLETE)


def _ask(question: str) -> CallTools:
    return CallTools((("ask_user", json.dumps({"question": question})),))
