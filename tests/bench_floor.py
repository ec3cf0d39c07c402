"""The CPU floor for one completion (`make bench`): a server that does nothing else.

Raw ASGI on the adapter's own server stack (uvicorn with httptools and
uvloop) making the same single streamed upstream request a non-streamed
classic completion makes (`POST /threads/runs`, read to its end) over one
pooled aiohttp session, then answering a small JSON body. No routing,
validation, auth, telemetry or translation: what any Python server pays
for one upstream call on this machine. With `stream` it passes the run's
upstream bytes through as they arrive instead (the floor for a streamed
reply: no decoding, no translation). Usage:
`python tests/bench_floor.py <project endpoint> <port> <token> [stream]`.
"""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
import orjson
import uvicorn

ENDPOINT, PORT, TOKEN = sys.argv[1], int(sys.argv[2]), sys.argv[3]
STREAM = sys.argv[4:] == ["stream"]
BODY = orjson.dumps(
    {
        "assistant_id": "asst_echo",
        "stream": True,
        # bench.USER: the same message, so the same reply and upstream events
        "thread": {
            "messages": [
                {"role": "user", "content": "Tell me about benchmarks in a few words please"}
            ]
        },
    }
)
session: aiohttp.ClientSession | None = None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global session
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if session is None:
        session = aiohttp.ClientSession()
    data = BODY
    if STREAM:  # the caller's own message, as the adapter would send it
        text = orjson.loads(body)["messages"][0]["content"]
        run = {"assistant_id": "asst_echo", "stream": True}
        data = orjson.dumps({**run, "thread": {"messages": [{"role": "user", "content": text}]}})
    size = 0
    async with session.post(
        f"{ENDPOINT}/threads/runs?api-version=v1",
        data=data,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    ) as response:
        if STREAM:
            start = [(b"content-type", b"text/event-stream")]
            await send({"type": "http.response.start", "status": 200, "headers": start})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        async for chunk in response.content.iter_any():
            size += len(chunk)
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps({"bytes": size})})


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=PORT, loop="uvloop", http="httptools", log_level="warning"
    )
