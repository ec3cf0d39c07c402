"""The CPU floor for one completion (`make bench`): a server that does nothing else.

Raw ASGI on the adapter's own server stack (uvicorn with httptools and
uvloop) making the same single streamed upstream request a non-streamed
classic completion makes (`POST /threads/runs`, read to its end) over one
pooled aiohttp session, then answering a small JSON body. No routing,
validation, auth, telemetry or translation: what any Python server pays
for one upstream call on this machine. Usage:
`python tests/bench_floor.py <project endpoint> <port> <token>`.
"""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
import orjson
import uvicorn

ENDPOINT, PORT, TOKEN = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BODY = orjson.dumps(
    {
        "assistant_id": "asst_echo",
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": "Tell me about benchmarks"}]},
    }
)
session: aiohttp.ClientSession | None = None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global session
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if session is None:
        session = aiohttp.ClientSession()
    size = 0
    async with session.post(
        f"{ENDPOINT}/threads/runs?api-version=2025-05-15-preview",
        data=BODY,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    ) as response:
        async for chunk in response.content.iter_any():
            size += len(chunk)
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps({"bytes": size})})


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=PORT, loop="uvloop", http="httptools", log_level="warning"
    )
