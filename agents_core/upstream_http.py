"""The one pooled upstream HTTP connection pool: httpx's request and response types over aiohttp.

`Transport` (`agents_core.foundry.transport`) builds `httpx.Request`s and
reads `httpx.Response`s; this sends them through a single
`aiohttp.ClientSession`, whose connection pool and C HTTP parser cost a
sixth of httpcore's CPU per streamed request (measured: 0.75 against 5.0 ms
at 40 concurrent). It also does less per request than the generic
`httpx-aiohttp` adapter it replaces: the target URL is parsed once per
distinct URL, the timeout object once per distinct timeout, and a body is
read as the socket delivers it (aiohttp's `iter_any`).

Errors arrive as httpx's: `ConnectError` when no connection opened (the
only kind `Transport.send` retries: the upstream never saw the request),
`TimeoutException` subclasses for timeouts, `RemoteProtocolError` when
the server closed the connection mid-answer, `ReadError` for a broken
body, `UnsupportedProtocol` for a URL aiohttp cannot use, `NetworkError`
otherwise.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpTransport"]

POOL_LIMIT = 1000
"""Connections open at once, across all upstream hosts."""
KEEPALIVE = 4.0
"""Seconds an idle pooled connection is kept: aiohttp does not probe a pooled
connection before reusing it, so idle ones go before servers with a 5 s
keep-alive (uvicorn's) close them."""


class AiohttpTransport(httpx.AsyncBaseTransport):
    """`httpx.AsyncBaseTransport` over one `aiohttp.ClientSession` (made on first use, in the loop).

    The session's cookie jar keeps nothing: the one session serves every
    caller, and a cookie one answer set (a load balancer's affinity cookie,
    say) must not ride along on another caller's request. Redirects are not
    followed and bodies are not decompressed (httpx decodes them).

    `tls`: the TLS settings for HTTPS upstreams; by default aiohttp's
    verifying context over the system's trust store (`SSL_CERT_FILE` and
    `SSL_CERT_DIR` apply), the one azure-core's aiohttp transport uses for
    token requests too. It is built when aiohttp is imported; a context of
    our own (certifi's bundle, as httpx's default) cost another 45 ms of the
    first request.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        tls: ssl.SSLContext | bool = True if self._tls is None else self._tls
        connector = aiohttp.TCPConnector(limit=POOL_LIMIT, keepalive_timeout=KEEPALIVE, ssl=tls)
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream
            request.headers.pop("transfer-encoding", None)  # aiohttp frames the body itself
        try:
            response = await session.request(
                request.method,
                _url(str(request.url)),
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                timeout=_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
            )
        except Exception as exc:
            raise _httpx_error(exc) from exc
        # Not tied to `request`: a streamed run's response lives as long as the run,
        # and the request holds its body (the whole prompt).
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body as httpx reads it: chunks as they arrive."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            raise _httpx_error(exc) from exc

    async def aclose(self) -> None:
        """Back to the pool when read to its end, else the connection is closed."""
        self._response.release()
        await self._response.wait_for_close()


@lru_cache(maxsize=512)
def _url(text: str) -> Any:
    """`text` (already percent-encoded by httpx) as aiohttp's URL, parsed once."""
    import yarl

    return yarl.URL(text, encoded=True)


@lru_cache(maxsize=32)
def _timeout(connect: float | None, read: float | None, pool: float | None) -> Any:
    """httpx's timeouts as aiohttp's: `pool` bounds getting a connection, connecting included."""
    import aiohttp

    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


def _httpx_error(exc: Exception) -> Exception:
    """httpx's exception for an aiohttp one (an httpx or other exception is kept)."""
    import aiohttp

    if isinstance(exc, httpx.HTTPError) or not isinstance(
        exc, aiohttp.ClientError | asyncio.TimeoutError
    ):
        return exc
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's socket and server timeouts are these
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(message)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message)
    return httpx.NetworkError(message)
