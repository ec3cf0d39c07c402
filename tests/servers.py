"""Run an ASGI app on a real loopback port for end-to-end tests.

`httpx.ASGITransport` buffers whole responses, so anything that checks
streaming has to go through a real socket and a real uvicorn server.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

KEEP_ALIVE_SECONDS = 240


@contextmanager
def serve(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free loopback port in a background thread; yield its base URL."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY then (else ~40 ms per reused request).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    # Idle connections kept as long as Azure's front ends keep them (about 4 minutes), so
    # clients that pool connections behave as they do against the real service.
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("test server failed to start")
        threading.Event().wait(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
