"""CORS from a real page: headless Chromium on one loopback origin calls the adapter on another.

The page is served from its own port (another origin); its script calls the
adapter with `fetch`, as a pure-browser client does. With `CORS_ALLOW_ORIGINS`
naming the page's origin the preflighted call succeeds and the exposed headers
are readable; without it the browser refuses the answer. Uses Debian's
`chromium` through Playwright (never a downloaded browser); skips with the
reason where it cannot start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>other origin</title></head>
<body><p>A page on another origin.</p></body></html>"""

# Runs in the page: a preflighted JSON call (custom header, JSON body), streamed and not.
CALL = """async ([base, model, stream]) => {
  try {
    const response = await fetch(base + "/v1/chat/completions", {
      method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer unused",
                "x-thread-id": ""},
      body: JSON.stringify({model, stream, messages: [{role: "user", content: "hi from a page"}]}),
    });
    const text = await response.text();
    return {ok: true, status: response.status, text,
            threadId: response.headers.get("x-thread-id"),
            requestId: response.headers.get("x-request-id")};
  } catch (error) {
    return {ok: false, error: String(error)};
  }
}"""


class Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def page_origin() -> Iterator[str]:
    """A static page on its own loopback port: an origin other than the adapter's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; skips (with the reason) where it cannot start."""
    if not CHROMIUM.exists():
        pytest.skip(f"CORS browser test: no browser at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"CORS browser test: playwright is not installed: {exc}")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
    except Exception as exc:
        playwright.stop()
        pytest.skip(f"CORS browser test: {CHROMIUM} did not start: {str(exc).splitlines()[0]}")
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


def call_from_page(browser: Any, origin: str, base: str, model: str, stream: bool) -> Any:
    tab = browser.new_page()
    try:
        tab.goto(origin + "/")
        return tab.evaluate(CALL, [base, model, stream])
    finally:
        tab.close()


@pytest.mark.parametrize("model", ["echo", "echo:1"])
def test_allowed_origin_can_call_and_read_exposed_headers(
    browser: Any, page_origin: str, start_server: Callable[..., str], model: str
) -> None:
    base = start_server(CORS_ALLOW_ORIGINS=page_origin)
    plain = call_from_page(browser, page_origin, base, model, stream=False)
    assert plain["ok"], plain
    assert plain["status"] == 200, plain
    assert '"Echo: hi from a page"' in plain["text"]
    assert plain["threadId"] and plain["requestId"].startswith("req_")
    streamed = call_from_page(browser, page_origin, base, model, stream=True)
    assert streamed["ok"] and streamed["status"] == 200, streamed
    assert streamed["text"].rstrip().endswith("data: [DONE]")
    assert streamed["threadId"]


def test_without_cors_settings_the_browser_refuses(
    browser: Any, page_origin: str, start_server: Callable[..., str]
) -> None:
    for base in (start_server(), start_server(CORS_ALLOW_ORIGINS="https://app.example.com")):
        refused = call_from_page(browser, page_origin, base, "echo", stream=False)
        assert not refused["ok"], refused
        assert "Failed to fetch" in refused["error"]
