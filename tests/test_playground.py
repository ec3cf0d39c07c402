"""The playground page: served with strict headers, and driven in a real headless Chromium.

The browser tests use Debian's `chromium` through Playwright (never a
downloaded browser). Where it cannot start they skip with the reason, and the
session's summary says how many browser tests ran.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agents_core.__main__ import emulator_registry
from agents_core.playground import ASSETS, SECURITY_HEADERS

ROOT = Path(__file__).resolve().parents[1]
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
WIDE = {"width": 1400, "height": 1000}
NARROW = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000
KEY = "playground-key"
# A 2x2 red PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)


# --------------------------------------------------------------------------- served files


def test_page_and_assets_are_served_with_strict_headers(emulated: str) -> None:
    for path in ("/", "/playground"):
        page = httpx.get(emulated + path)
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        for name, value in SECURITY_HEADERS.items():
            assert page.headers[name] == value
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-request-id"].startswith("req_")
    html = httpx.get(emulated + "/").text
    referenced = re.findall(r'(?:src|href)="playground/([^"]+)"', html)
    imported = {
        name
        for path in ASSETS.glob("*.js")
        for name in re.findall(r'from "\./([^"]+)"', path.read_text(encoding="utf-8"))
    }
    assert {"app.js", "playground.css", "icon.svg"} <= set(referenced)
    for name in {*referenced, *imported}:
        asset = httpx.get(f"{emulated}/playground/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["x-content-type-options"] == "nosniff"
        expected = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
        assert asset.headers["content-type"].startswith(expected[name.rsplit(".", 1)[1]])
    etag = httpx.get(f"{emulated}/playground/app.js").headers["etag"]
    again = httpx.get(f"{emulated}/playground/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    for missing in ("/playground/nope.js", "/playground/..%2fplayground.py", "/playground/x.py"):
        answer = httpx.get(emulated + missing)
        assert answer.status_code == 404, missing
        assert answer.json()["error"]["message"]


def test_page_loads_nothing_inline_and_nothing_from_elsewhere() -> None:
    html = (ASSETS / "index.html").read_text(encoding="utf-8")
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for path in ASSETS.iterdir():
        text = path.read_text(encoding="utf-8")
        external = re.findall(r"""["'(]((?:https?:)?//[^"')\s]+)""", text)
        assert not [url for url in external if "www.w3.org/2000/svg" not in url], path.name
        if path.suffix == ".js":
            # Agent text reaches the DOM as text only: no HTML parsing, no eval.
            for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
                assert sink not in text, f"{path.name} uses {sink}"
            assert "new Function" not in text and "localStorage" not in text


def test_playground_turned_off_answers_404(start_adapter: Any, emulator: str) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator), project_endpoint=emulator, playground=False
    )
    for path in ("/", "/playground", "/playground/app.js"):
        answer = httpx.get(base + path)
        assert answer.status_code == 404
        assert "PLAYGROUND=false" in answer.json()["error"]["message"]
    assert httpx.get(base + "/v1/models").status_code == 200


def _funcignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            folder = pattern.rstrip("/")
            if any(fnmatch.fnmatch("/".join(parts[: i + 1]), folder) for i in range(len(parts))):
                return True
        elif fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(parts[-1], pattern):
            return True
    return False


def test_assets_ship_in_the_functions_package() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    shipped = [p.relative_to(ROOT).as_posix() for p in ASSETS.iterdir()]
    assert "agents_core/playground/index.html" in shipped
    assert not [path for path in shipped if _funcignored(path, patterns)]
    assert _funcignored("agents_core/emulator/app.py", patterns)  # the matcher works


# --------------------------------------------------------------------------- browser


class BrowserTally:
    """Counts the browser tests that ran and says so in the session summary."""

    def __init__(self) -> None:
        self.ran = 0
        self.version = ""
        self.skip_reason = ""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.skip_reason:
            line = f"playground browser tests: 0 ran ({self.skip_reason})"
        else:
            line = f"playground browser tests: {self.ran} ran in Chromium {self.version}"
        terminalreporter.write_sep("-", line)


@pytest.fixture(scope="session")
def tally(pytestconfig: pytest.Config) -> BrowserTally:
    tally = BrowserTally()
    pytestconfig.pluginmanager.register(tally, "playground-browser-tally")
    return tally


@pytest.fixture(scope="module")
def browser(tally: BrowserTally) -> Iterator[Any]:
    """Debian's Chromium, headless; the tests skip (with the reason) where it cannot start."""
    if not CHROMIUM.exists():
        tally.skip_reason = f"no browser at {CHROMIUM}: apt-get install -y chromium"
        pytest.skip(tally.skip_reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        tally.skip_reason = f"playwright is not installed: {exc}"
        pytest.skip(tally.skip_reason)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
    except Exception as exc:
        playwright.stop()
        tally.skip_reason = f"{CHROMIUM} did not start: {str(exc).splitlines()[0]}"
        pytest.skip(tally.skip_reason)
    tally.skip_reason = ""
    tally.version = chromium.version
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


class Page:
    """A browser tab on the playground, with the checks every test makes."""

    def __init__(self, tab: Any, base: str) -> None:
        from playwright.sync_api import expect

        self.tab = tab
        self.base = base
        expect.set_options(timeout=TIMEOUT_MS)
        self.expect = expect
        self.problems: list[str] = []
        tab.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        tab.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or message.type == "warning":
            self.problems.append(f"console {message.type}: {message.text}")

    def open(self) -> None:
        self.tab.goto(self.base + "/")
        self.expect(self.tab.locator("body[data-ready=true]")).to_have_count(1)

    def agents_loaded(self) -> None:
        self.expect(self.tab.locator("#agent option")).not_to_have_count(0)
        self.expect(self.tab.locator("#card-name")).not_to_have_text("loading…")

    def pick(self, agent: str) -> None:
        self.tab.select_option("#agent", agent)
        self.expect(self.tab.locator("#card-name")).not_to_have_text("loading…")

    def chat(self, text: str) -> Any:
        """Send `text` with Enter; the finished reply."""
        done = self.tab.locator("#transcript .msg.assistant:not([aria-busy])")
        before = done.count()
        self.tab.fill("#chat-input", text)
        self.tab.press("#chat-input", "Enter")
        self.expect(done).to_have_count(before + 1)
        return done.nth(before)

    def a2a(self, text: str) -> None:
        self.tab.fill("#a2a-input", text)
        self.tab.press("#a2a-input", "Enter")


@pytest.fixture
def open_page(browser: Any, tally: BrowserTally) -> Iterator[Any]:
    """`open_page(base, **context)`: a fresh tab (own session storage) on the playground."""
    contexts: list[Any] = []
    pages: list[Page] = []
    tally.ran += 1

    def open_(base: str, viewport: dict[str, int] = WIDE, **options: Any) -> Page:
        context = browser.new_context(viewport=viewport, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = Page(context.new_page(), base)
        pages.append(page)
        page.open()
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not [problem for page in pages for problem in page.problems]


def test_chat_streams_renders_markdown_safely_and_continues_the_thread(
    open_page: Any, emulated: str
) -> None:
    page = open_page(emulated)
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    expect(tab.locator("#agent")).to_have_value("echo")
    expect(tab.locator("#agent-kind")).to_have_text("classic (threads)")
    versioned = tab.locator("#agent option", has_text=re.compile(r"echo:1\b.* · versioned$"))
    expect(versioned).to_have_count(1)

    reply = page.chat("My name is Ada")
    expect(reply.locator(".content")).to_have_text("Echo: My name is Ada")
    expect(reply.locator(".meta")).to_contain_text("stop")
    expect(reply.locator(".meta")).to_contain_text("total")
    expect(reply.locator(".meta")).to_contain_text("req_")
    thread_id = tab.input_value("#thread-id")
    assert thread_id.startswith("thread_")
    # Streamed: the inspector shows the event stream as it came.
    expect(tab.locator("#inspect-response")).to_contain_text("text/event-stream")
    expect(tab.locator("#inspect-response")).to_contain_text("data: [DONE]")

    reply = page.chat("What is my name?")
    expect(reply.locator(".content")).to_contain_text("Your name is Ada.")
    assert tab.input_value("#thread-id") == thread_id

    # Agent text is Markdown, and markup in it stays text.
    reply = page.chat("Say **bold** <img src=x onerror=alert(1)> `code` [x](javascript:alert(1))")
    expect(reply.locator(".content strong")).to_have_text("bold")
    expect(reply.locator(".content code")).to_have_text("code")
    expect(reply.locator(".content")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(reply.locator(".content a")).to_have_count(0)
    expect(tab.locator("#transcript img")).to_have_count(0)

    tab.click("#new-thread")
    expect(tab.locator("#thread-id")).to_have_value("")
    expect(tab.locator("#transcript .msg")).to_have_count(0)
    tab.uncheck("#chat-stream")
    reply = page.chat("What is my name?")
    expect(reply.locator(".content")).not_to_contain_text("Ada")
    assert tab.input_value("#thread-id") not in ("", thread_id)

    tab.fill("#thread-id", thread_id)  # continue that thread id
    reply = page.chat("What is my name?")
    expect(reply.locator(".content")).to_contain_text("Your name is Ada.")
    expect(tab.locator("#inspect-request")).to_contain_text(f'"thread_id": "{thread_id}"')


MARKDOWN = {
    "# Title\n\nSome *em*, **strong**, `co*de*` and ~~gone~~.": (
        "<h3>Title</h3><p>Some <em>em</em>, <strong>strong</strong>, <code>co*de*</code> and "
        "<del>gone</del>.</p>"
    ),
    "- one\n- two\n  continued\n\n3. three\n4. four": (
        '<ul><li>one</li><li>two<br>continued</li></ul><ol start="3"><li>three</li>'
        "<li>four</li></ol>"
    ),
    "```html\n<b>x</b>\n```": '<pre><code data-lang="html">&lt;b&gt;x&lt;/b&gt;</code></pre>',
    "> quoted\n> more\n\n---": "<blockquote><p>quoted<br>more</p></blockquote><hr>",
    "[a](https://example.com/?q=1) [b](javascript:alert(1)) snake_case_name": (
        '<p><a href="https://example.com/?q=1" rel="noopener noreferrer nofollow" '
        'target="_blank">a</a> [b](javascript:alert(1)) snake_case_name</p>'
    ),
    "<script>alert(1)</script> & <img src=x onerror=alert(1)>": (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;</p>"
    ),
}


def test_markdown_renders_agent_text_as_elements_never_as_html(
    open_page: Any, emulated: str
) -> None:
    page = open_page(emulated)
    rendered = page.tab.evaluate(
        """async (texts) => {
            const { render } = await import("./playground/markdown.js");
            return texts.map((text) => {
                const box = document.createElement("div");
                box.append(render(text));
                return box.innerHTML;
            });
        }""",
        list(MARKDOWN),
    )
    assert dict(zip(MARKDOWN, rendered, strict=True)) == MARKDOWN


@pytest.mark.parametrize("agent", ["tools", "weather:1"])
def test_tool_calls_are_cards_whose_results_go_back(
    open_page: Any, emulated: str, agent: str
) -> None:
    page = open_page(emulated)
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    page.pick(agent)
    reply = page.chat("What is the weather in Paris and Rome?")
    expect(reply.locator(".meta")).to_contain_text("tool_calls")
    cards = reply.locator(".tool-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0).locator("legend")).to_have_text("get_weather")
    expect(cards.nth(0).locator("pre")).to_contain_text('"location": "Paris"')
    expect(cards.nth(1).locator("pre")).to_contain_text('"location": "Rome"')
    cards.nth(0).get_by_label("Result of get_weather").fill("sunny, 21 °C")
    cards.nth(1).get_by_label("Result of get_weather").fill("cloudy, 17 °C")
    done = tab.locator("#transcript .msg.assistant:not([aria-busy])")
    reply.get_by_role("button", name="Send tool results").click()
    expect(done).to_have_count(2)
    answer = done.nth(1)
    expect(answer.locator(".content")).to_contain_text("sunny, 21 °C")
    expect(answer.locator(".content")).to_contain_text("cloudy, 17 °C")
    expect(answer.locator(".meta")).to_contain_text("stop")
    expect(tab.locator("#inspect-request")).to_contain_text('"role": "tool"')


def test_image_attachment_is_sent_as_a_data_url(
    open_page: Any, emulated: str, tmp_path: Path
) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    page = open_page(emulated)
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    tab.set_input_files("#chat-image", str(image))
    expect(tab.locator("#attachment")).to_be_visible()
    expect(tab.locator("#attachment-name")).to_contain_text("dot.png")
    reply = page.chat("What is in this picture?")
    expect(reply.locator(".meta")).to_contain_text("stop")
    expect(tab.locator("#transcript .msg.user img.thumb")).to_have_count(1)
    expect(tab.locator("#inspect-request")).to_contain_text('"type": "image_url"')
    expect(tab.locator("#inspect-request")).to_contain_text('"url": "data:image/png;base64,')
    expect(tab.locator("#attachment")).to_be_hidden()


def test_cited_files_are_fetched_through_the_service(open_page: Any, emulated: str) -> None:
    """A cited file is a button that downloads it through `/v1/files/...` with the key."""
    page = open_page(emulated)
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    page.pick("echo:1")
    reply = page.chat("Please draw a chart")
    expect(reply.locator(".sources h4")).to_have_text("Sources")
    button = reply.get_by_role("button", name=re.compile(r"Download chart\.png"))
    expect(button).to_have_count(1)
    downloads: list[Any] = []
    tab.on("download", lambda download: downloads.append(download))
    with tab.expect_response(re.compile(r"/v1/files/[^/?]+/content\?model=echo%3A1")) as fetched:
        button.click()
    if fetched.value.ok:
        expect(reply.locator(".error")).to_have_count(0)
        for _ in range(100):
            if downloads:
                break
            tab.wait_for_timeout(100)
        assert downloads, "the file was fetched but not offered as a download"
        assert downloads[0].suggested_filename == "chart.png"
        assert Path(downloads[0].path()).read_bytes()
    else:  # the service's answer is shown like any error
        error = reply.locator(".sources .error")
        expect(error).to_contain_text(f"HTTP {fetched.value.status}")
        expect(error).to_contain_text("req_")


def test_a2a_streams_a_task_to_completion_and_continues_the_context(
    open_page: Any, emulated: str
) -> None:
    page = open_page(emulated)
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    expect(tab.locator("#card-name")).to_have_text("Echo")
    page.a2a("My name is Ada")
    task = tab.locator("#a2a-log .task").first
    expect(task).to_have_attribute("data-state", "completed")
    expect(task.locator(".timeline")).to_contain_text("working")
    expect(task.locator(".artifact")).to_contain_text("My name is Ada")
    context_id = tab.input_value("#context-id")
    assert context_id.startswith("thread_")
    expect(tab.locator("#inspect-request")).to_contain_text("SendStreamingMessage")

    tab.uncheck("#a2a-stream")
    page.a2a("What is my name?")
    second = tab.locator("#a2a-log .task").nth(1)
    expect(second).to_have_attribute("data-state", "completed")
    expect(second.locator(".artifact")).to_contain_text("Your name is Ada.")
    assert tab.input_value("#context-id") == context_id
    expect(tab.locator("#inspect-request")).to_contain_text('"method": "SendMessage"')

    tab.click("#get-task")
    expect(tab.locator("#inspect-request")).to_contain_text('"method": "GetTask"')
    expect(tab.locator("#inspect-response")).to_contain_text("TASK_STATE_COMPLETED")


@pytest.mark.parametrize("agent", ["tools", "weather:1"])
def test_a2a_input_required_round_trip(open_page: Any, emulated: str, agent: str) -> None:
    """Classic runs continue the same task; versioned ones answer under a new task id."""
    page = open_page(emulated)
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    page.pick(agent)
    page.a2a("What is the weather in Paris?")
    task = tab.locator("#a2a-log .task").first
    expect(task).to_have_attribute("data-state", "input-required")
    expect(tab.locator("#a2a-reply-to")).to_be_visible()
    context_id = tab.input_value("#context-id")
    task.get_by_label("Result of get_weather").fill("rainy")
    task.get_by_role("button", name="Send tool results").click()
    answered = tab.locator("#a2a-log .task[data-state=completed]")
    expect(answered).to_have_count(1)
    expect(answered.locator(".artifact")).to_contain_text("The weather in Paris: rainy.")
    expect(answered.locator(".timeline")).to_contain_text("completed")
    expect(tab.locator("#a2a-reply-to")).to_be_hidden()
    assert tab.input_value("#context-id") == context_id
    expect(tab.locator("#inspect-request")).to_contain_text('"tool_outputs"')


def test_a2a_cancel_a_waiting_task(open_page: Any, emulated: str) -> None:
    page = open_page(emulated)
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    page.pick("tools")

    page.a2a("And the weather in Rome?")
    waiting = tab.locator("#a2a-log .task").first
    expect(waiting).to_have_attribute("data-state", "input-required")
    tab.click("#cancel-task")
    expect(waiting).to_have_attribute("data-state", "canceled")
    expect(tab.locator("#inspect-request")).to_contain_text('"method": "CancelTask"')


def test_a2a_shows_files_as_downloads_and_data_as_json(
    open_page: Any, start_adapter: Any, emulator: str
) -> None:
    """A file part downloads through the service with the key; a data part is JSON, as text.

    The tck agent acts on the A2A messageId's prefix, which the page makes up:
    the test renames it on its way out.
    """
    base = start_adapter(
        registry=emulator_registry(emulator), project_endpoint=emulator, gateway_api_keys=KEY
    )
    page = open_page(base)
    tab, expect = page.tab, page.expect
    tab.fill("#key-input", KEY)
    tab.press("#key-input", "Enter")
    page.agents_loaded()
    page.pick("tck")
    scenario = {"prefix": "tck-stream-artifact-file"}

    def rename(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        message = body.get("params", {}).get("message")
        if message is None:  # the card, GetTask
            route.continue_()
            return
        message["messageId"] = f"{scenario['prefix']}-{os.urandom(4).hex()}"
        route.continue_(post_data=json.dumps(body))

    tab.route(re.compile(r"/a2a/tck$"), rename)
    page.a2a("A file, please")  # streamed: the file part arrives with its annotation
    task = tab.locator("#a2a-log .task").first
    expect(task).to_have_attribute("data-state", "completed")
    artifact = task.locator(".artifact")
    button = artifact.get_by_role("button", name="Download output.txt")
    expect(button).to_have_count(1)
    expect(artifact.locator(".file-part")).to_contain_text("text/plain")
    expect(artifact).not_to_contain_text("sandbox:")
    downloads: list[Any] = []
    tab.on("download", lambda download: downloads.append(download))
    with tab.expect_response(re.compile(r"/v1/files/[^/?]+/content\?model=tck")) as fetched:
        button.click()
    assert fetched.value.ok and fetched.value.request.header_value("authorization") == (
        f"Bearer {KEY}"
    )
    for _ in range(100):
        if downloads:
            break
        tab.wait_for_timeout(100)
    assert downloads and downloads[0].suggested_filename == "output.txt"
    assert Path(downloads[0].path()).read_bytes() == b"demo file output.txt\n"
    tab.click("#get-task")  # read back from Foundry: the same file
    expect(tab.locator("#inspect-response")).to_contain_text("output.txt")
    expect(artifact.get_by_role("button", name="Download output.txt")).to_have_count(1)

    scenario["prefix"] = "tck-artifact-data"
    tab.uncheck("#a2a-stream")
    page.a2a("Some data, please")
    second = tab.locator("#a2a-log .task").nth(1)
    expect(second).to_have_attribute("data-state", "completed")
    data = second.locator(".artifact pre.data-part")
    expect(data).to_have_count(1)
    assert json.loads(data.text_content() or "") == {"key": "value", "count": 42}

    # Parts in the 0.3 shape, with markup in names and data: shown as text, never as HTML.
    name = '<img src=x onerror="document.title=1">.txt'
    parts = [
        {
            "kind": "file",
            "file": {
                "name": name,
                "mimeType": "text/plain",
                "uri": "https://files.example.com/x.txt",
            },
        },
        {
            "kind": "file",
            "file": {"name": "note.txt", "bytes": base64.b64encode(b"hello").decode()},
        },
        {"kind": "data", "data": {"html": "<b>bold</b>"}},
    ]
    result = {
        "kind": "task",
        "id": "task-0-3",
        "contextId": "ctx",
        "status": {"state": "completed"},
    }
    result["artifacts"] = [{"artifactId": "response", "name": "response", "parts": parts}]
    answer = json.dumps({"jsonrpc": "2.0", "id": 3, "result": result})
    tab.unroute(re.compile(r"/a2a/tck$"))
    tab.route(
        re.compile(r"/a2a/tck$"),
        lambda route: route.fulfill(status=200, content_type="application/json", body=answer),
    )
    page.a2a("Old shapes")
    third = tab.locator("#a2a-log .task[data-task-id='task-0-3'] .artifact")
    expect(third.get_by_role("link", name=name)).to_have_attribute(
        "href", "https://files.example.com/x.txt"
    )
    expect(third.locator("img, b")).to_have_count(0)
    expect(third.locator("pre.data-part")).to_contain_text("<b>bold</b>")
    with tab.expect_download() as saved:
        third.get_by_role("button", name="Download note.txt").click()
    assert Path(saved.value.path()).read_bytes() == b"hello"
    assert tab.title() != "1"


def test_errors_show_message_code_and_request_ids(
    open_page: Any, emulated: str, emulator_url: str
) -> None:
    page = open_page(emulated)
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    tab.fill("#agent-custom", "asst_missing")
    tab.press("#agent-custom", "Enter")
    expect(tab.locator("#agent")).to_have_value("azure_ai/agents/asst_missing")
    error = page.chat("Hello?").locator(".error")
    expect(error).to_contain_text("HTTP 404")
    expect(error).to_contain_text("asst_missing")
    expect(error).to_contain_text("model_not_found")
    expect(error.locator("dt", has_text="upstream request id")).to_have_count(1)
    expect(error.locator("dd").filter(has_text=re.compile(r"^req_"))).to_have_count(1)

    # An error after the stream started arrives as a final frame.
    page.pick("echo")
    httpx.post(f"{emulator_url}/_emulator/faults", json={"kind": "drop_stream"}).raise_for_status()
    error = page.chat("Hello?").locator(".error")
    expect(error).to_contain_text("upstream_stream_error")
    expect(error).not_to_contain_text("HTTP")
    expect(error.locator("dd").filter(has_text=re.compile(r"^req_"))).to_have_count(1)


def test_gateway_key_prompt_wrong_key_error_and_copy_as_curl(
    open_page: Any, start_adapter: Any, emulator: str
) -> None:
    base = start_adapter(
        registry=emulator_registry(emulator), project_endpoint=emulator, gateway_api_keys=KEY
    )
    page = open_page(base, permissions=["clipboard-read", "clipboard-write"])
    tab, expect = page.tab, page.expect
    dialog = tab.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(tab.locator("#key-reason")).to_contain_text("needs a gateway key")
    tab.fill("#key-input", "wrong-key")
    tab.press("#key-input", "Enter")
    expect(tab.locator("#key-reason")).to_contain_text("refused the gateway key")
    expect(dialog).to_be_visible()
    tab.fill("#key-input", KEY)
    tab.press("#key-input", "Enter")
    expect(dialog).to_be_hidden()
    page.agents_loaded()
    assert tab.evaluate("() => sessionStorage.getItem('agents-playground.gateway-key')") == KEY
    assert KEY not in tab.url

    reply = page.chat("I'm Ada, and my name is Ada")
    expect(reply.locator(".content")).to_contain_text("I'm Ada")
    shown = tab.text_content("#inspect-request") or ""
    assert "Authorization" in shown and KEY not in shown
    curl = tab.input_value("#curl")
    assert KEY not in curl and "GATEWAY_KEY" in curl
    tab.click("#copy-curl")
    expect(tab.locator("#copy-status")).to_contain_text("Copied")
    assert tab.evaluate("() => navigator.clipboard.readText()") == curl
    run = subprocess.run(
        ["bash", "-c", curl],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "GATEWAY_KEY": KEY},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    chunks = [json.loads(line[6:]) for line in run.stdout.splitlines() if line[6:7] == "{"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Echo: I'm Ada, and my name is Ada"
    assert run.stdout.rstrip().endswith("data: [DONE]")
    unset = subprocess.run(
        ["bash", "-c", curl], capture_output=True, text=True, timeout=30, env={}, check=False
    )
    assert unset.returncode != 0 and "GATEWAY_KEY" in unset.stderr

    # A key that stops working: the chat shows the error, and the key is asked for again.
    tab.evaluate("() => sessionStorage.setItem('agents-playground.gateway-key', 'revoked')")
    reply = page.chat("Still there?")
    error = reply.locator(".error")
    expect(error).to_contain_text("HTTP 401")
    expect(error).to_contain_text("authentication_error")
    expect(error.locator("dd").filter(has_text=re.compile(r"^req_"))).to_have_count(1)
    expect(dialog).to_be_visible()
    expect(tab.locator("#key-reason")).to_contain_text("refused the gateway key")


def test_keyboard_labels_and_narrow_screen(open_page: Any, emulated: str, tmp_path: Path) -> None:
    page = open_page(emulated, viewport=NARROW)
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    unlabelled = tab.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter((c) => !(c.labels?.length || c.getAttribute('aria-label')
                || c.textContent.trim()))
            .map((c) => c.id || c.outerHTML)"""
    )
    assert unlabelled == []
    assert tab.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    # Keyboard only: Tab reaches the agent picker, then the message box; Enter sends.
    tab.keyboard.press("Tab")  # the skip link
    tab.keyboard.press("Enter")
    expect(tab.locator("#chat-input")).to_be_focused()
    tab.keyboard.type("Hello from the keyboard")
    tab.keyboard.press("Enter")
    done = tab.locator("#transcript .msg.assistant:not([aria-busy])")
    expect(done).to_have_count(1)
    expect(done.first).to_contain_text("Hello from the keyboard")
    tab.focus("#agent")
    tab.keyboard.press("ArrowDown")
    expect(tab.locator("#agent")).to_have_value("tools")
    tab.screenshot(path=str(tmp_path / "narrow.png"), full_page=True)


def test_screenshot(open_page: Any, emulated: str, tmp_path: Path) -> None:
    """A full exchange on a wide screen; `PLAYGROUND_SCREENSHOT=path` keeps the picture."""
    page = open_page(emulated, viewport={"width": 1440, "height": 900})
    tab, expect = page.tab, page.expect
    page.agents_loaded()
    page.chat("My name is Ada. Please reply in **Markdown**.")
    page.chat("What is my name?")
    page.a2a("My name is Ada")
    expect(tab.locator("#a2a-log .task").first).to_have_attribute("data-state", "completed")
    target = Path(os.environ.get("PLAYGROUND_SCREENSHOT") or tmp_path / "playground.png")
    tab.screenshot(path=str(target), full_page=True)
    assert target.read_bytes().startswith(b"\x89PNG")
