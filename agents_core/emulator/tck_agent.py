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
| anything else (`tck-complete-task`, ...) | `Hello from TCK` |

(1) A file the agent generated (code interpreter): the reply is nothing but
its marker, a `file_path` annotation (classic) or a `container_file_citation`
(versioned). (2) In the JSON format `json_object`, which the run (classic
`response_format`) or the response (`text.format`) reports.

An answer to `ask_user` (the caller's next message on the waiting task)
completes it with `Hello from TCK`: tool outputs carry no metadata, so
the agent cannot read that message's id. A bare message instead of a task
and a rejected task have no Foundry equivalent; those prefixes get the text
reply above.
"""

from __future__ import annotations

import json

from .agents import CallTools, Reply, Turn

__all__ = ["MESSAGE_ID_KEY", "respond_tck"]

MESSAGE_ID_KEY = "a2a_message_id"
COMPLETE = "Hello from TCK"
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
    if turn.results:
        return Reply(COMPLETE)
    message_id = turn.message_id
    if message_id.startswith("tck-input-required"):
        question = json.dumps({"question": "The task needs more input: reply to continue."})
        return CallTools((("ask_user", question),))
    for prefix, reply in REPLIES:
        if message_id.startswith(prefix):
            return reply
    return Reply(COMPLETE)
