"""Telemetry: span trees and attributes, metrics, the per-turn log line, trace context upstream,
OTLP export to a local receiver, and nothing at all when no exporter is configured."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Adapter, Kind
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from agents_core import telemetry
from agents_core.__main__ import emulator_registry
from agents_core.telemetry.otel import OtelExporter

ROOT = Path(__file__).resolve().parents[1]
KEY = "team-a-key"
CALLER = f"key:{hashlib.sha256(KEY.encode()).hexdigest()[:12]}"
TRACE_ID = uuid.uuid4().hex
PARENT_ID = uuid.uuid4().hex[:16]
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
SECRET_TEXT = "my-private-question-7731"


class Recorded:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.exporter = OtelExporter(tracer_provider, MeterProvider(metric_readers=[self.metrics]))

    def finished(self, upstream: int = 0) -> list[ReadableSpan]:
        """The ended spans, once at least `upstream` upstream-request spans have ended.

        A run's stream ends its span when it is closed, which happens just
        after the caller's answer (the rest of the stream is read off its path).
        """
        deadline = time.monotonic() + 10
        while True:
            spans = list(self.spans.get_finished_spans())
            ended = [s for s in spans if "url.full" in (s.attributes or {})]
            if len(ended) >= upstream or time.monotonic() > deadline:
                return spans
            time.sleep(0.05)

    def points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    recorder = Recorded()
    telemetry.install(recorder.exporter)
    try:
        yield recorder
    finally:
        telemetry.install(None)


@pytest.fixture
def adapter(start_adapter: Adapter, emulator: str) -> str:
    return start_adapter(
        registry=emulator_registry(emulator), project_endpoint=emulator, gateway_api_keys=KEY
    )


def headers(traceparent: str = TRACEPARENT) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}", "traceparent": traceparent, "tracestate": "ours=1"}


def emulator_log(emulator: str) -> list[dict[str, Any]]:
    base = emulator.split("/api/projects/")[0]
    return list(httpx.get(f"{base}/_emulator/requests").json()["log"])


def settled(recorded: Recorded, emulator: str) -> list[ReadableSpan]:
    return recorded.finished(upstream=len(emulator_log(emulator)))


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, [span.name for span in spans]
    return found[0]


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def check_turn_tree(
    spans: list[ReadableSpan], route: str, agent_id: str, name: str
) -> tuple[ReadableSpan, ReadableSpan, list[ReadableSpan]]:
    """Server span continuing the caller's trace, invoke_agent under it, client spans under that."""
    server = one(spans, f"POST {route}")
    assert server.kind is SpanKind.SERVER
    assert server.context is not None and format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == PARENT_ID
    invoke = one(children(spans, server), f"invoke_agent {name}")
    assert invoke.kind is SpanKind.CLIENT
    attributes = dict(invoke.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.agent.id"] == agent_id
    assert attributes["gen_ai.agent.name"] == name
    assert attributes["gen_ai.provider.name"] == "azure.ai.agents"
    assert attributes["adapter.caller"] == CALLER
    upstream = children(spans, invoke)
    assert upstream and all(s.kind is SpanKind.CLIENT for s in upstream)
    assert all(dict(s.attributes or {})["server.address"] == "127.0.0.1" for s in upstream)
    return server, invoke, upstream


def assert_upstream_continues(emulator: str, upstream: list[ReadableSpan]) -> None:
    """Each upstream request carried our client span's context in the caller's trace."""
    sent = {entry["traceparent"] for entry in emulator_log(emulator) if entry.get("traceparent")}
    ours = {
        f"00-{TRACE_ID}-{format(span.context.span_id, '016x')}-01"
        for span in upstream
        if span.context is not None
    }
    assert sent and sent <= ours
    states = {entry["tracestate"] for entry in emulator_log(emulator)}
    assert states == {"ours=1"}


def test_chat_turn_span_tree_metrics_and_log_line(
    recorded: Recorded, adapter: str, emulator: str, kind: Kind, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agents_core")
    response = httpx.post(
        f"{adapter}/v1/chat/completions",
        json={"model": kind.echo, "messages": [{"role": "user", "content": SECRET_TEXT}]},
        headers=headers(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    agent_id = "asst_echo" if kind.name == "classic" else "echo:1"
    spans = settled(recorded, emulator)
    server, invoke, upstream = check_turn_tree(spans, "/v1/chat/completions", agent_id, kind.echo)
    attributes = dict(invoke.attributes or {})
    assert attributes["gen_ai.conversation.id"] == body["thread_id"]
    assert attributes["gen_ai.usage.input_tokens"] == body["usage"]["prompt_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] == body["usage"]["completion_tokens"] > 0
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    server_attributes = dict(server.attributes or {})
    assert server_attributes["adapter.request_id"] == response.headers["x-request-id"]
    assert server_attributes["http.response.status_code"] == 200
    assert server_attributes["http.route"] == "/v1/chat/completions"
    assert_upstream_continues(emulator, upstream)
    for span in spans:  # content is never recorded
        assert SECRET_TEXT not in json.dumps(dict(span.attributes or {}), default=str)

    usage = recorded.points("gen_ai.client.token.usage")
    by_type = {p.attributes["gen_ai.token.type"]: p for p in usage}
    assert by_type["input"].sum == body["usage"]["prompt_tokens"]
    assert by_type["output"].attributes["adapter.caller"] == CALLER
    assert by_type["output"].attributes["gen_ai.agent.id"] == agent_id
    [operation] = recorded.points("gen_ai.client.operation.duration")
    assert operation.count == 1 and operation.attributes["adapter.caller"] == CALLER
    [requests] = recorded.points("http.server.request.duration")
    assert requests.count == 1
    assert requests.attributes["http.route"] == "/v1/chat/completions"
    assert requests.attributes["http.response.status_code"] == 200
    assert requests.attributes["gen_ai.agent.id"] == agent_id

    [line] = [r for r in caplog.records if r.name == "agents_core.turns"]
    message = line.getMessage()
    assert message.startswith("turn route=/v1/chat/completions caller=")
    assert f"caller={CALLER}" in message and f"agent={agent_id}" in message
    # One line per turn: no access line besides it; other requests keep theirs.
    assert not [r for r in caplog.records if r.name == "agents_core.http"]
    assert httpx.get(f"{adapter}/v1/models", headers=headers(), timeout=30).status_code == 200
    [access] = [r for r in caplog.records if r.name == "agents_core.http"]
    assert access.getMessage().startswith("GET /v1/models -> 200 in ")
    assert f"thread={body['thread_id']}" in message and "status=completed" in message
    assert f"input_tokens={body['usage']['prompt_tokens']}" in message
    assert getattr(line, "turn.caller") == CALLER
    assert all(
        SECRET_TEXT not in r.getMessage() and KEY not in r.getMessage() for r in caplog.records
    )


def test_a2a_turn_span_tree(recorded: Recorded, adapter: str, emulator: str, kind: Kind) -> None:
    message = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": "hello"}]}
    payload = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    response = httpx.post(
        f"{adapter}/a2a/{kind.echo}",
        json=payload,
        headers={**headers(), "A2A-Version": "1.0"},
        timeout=30,
    )
    assert response.status_code == 200 and "result" in response.json(), response.text
    task = response.json()["result"]["task"]
    agent_id = "asst_echo" if kind.name == "classic" else "echo:1"
    spans = settled(recorded, emulator)
    _, invoke, upstream = check_turn_tree(spans, "/a2a/{agent}", agent_id, kind.echo)
    attributes = dict(invoke.attributes or {})
    assert attributes["gen_ai.conversation.id"] == task["contextId"]
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert_upstream_continues(emulator, upstream)


def test_turn_lines_name_the_route_and_json_rpc_errors(
    recorded: Recorded, adapter: str, kind: Kind, caplog: pytest.LogCaptureFixture
) -> None:
    """A Responses turn names its route; an A2A error answered on HTTP 200 is still an error."""
    caplog.set_level(logging.INFO, logger="agents_core")
    created = httpx.post(
        f"{adapter}/v1/responses",
        json={"model": kind.echo, "input": "hello"},
        headers=headers(),
        timeout=30,
    )
    assert created.status_code == 200, created.text
    payload = {"jsonrpc": "2.0", "id": 7, "method": "GetTask", "params": {"id": "task-nope"}}
    missing = httpx.post(
        f"{adapter}/a2a/{kind.echo}",
        json=payload,
        headers={**headers(), "A2A-Version": "1.0"},
        timeout=30,
    )
    assert missing.status_code == 200 and "error" in missing.json(), missing.text
    lines = [r.getMessage() for r in caplog.records if r.name == "agents_core.turns"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("turn route=/v1/responses ") and "error=- " in lines[0]
    assert lines[1].startswith("turn route=/a2a/{agent} ") and "http_status=200" in lines[1]
    assert "error=- " not in lines[1] and "status=error" in lines[1]


def test_tool_round_trip_is_two_traced_turns(
    recorded: Recorded, adapter: str, emulator: str, kind: Kind
) -> None:
    question = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = httpx.post(
        f"{adapter}/v1/chat/completions",
        json={"model": kind.tools, "messages": question},
        headers=headers(),
        timeout=30,
    ).json()
    assistant = first["choices"][0]["message"]
    results = [
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}
        for call in assistant["tool_calls"]
    ]
    second_parent = uuid.uuid4().hex[:16]
    second = httpx.post(
        f"{adapter}/v1/chat/completions",
        json={"model": kind.tools, "messages": [*question, assistant, *results]},
        headers=headers(f"00-{TRACE_ID}-{second_parent}-01"),
        timeout=30,
    )
    assert second.status_code == 200, second.text
    invokes = sorted(
        (s for s in settled(recorded, emulator) if s.name == f"invoke_agent {kind.tools}"),
        key=lambda s: s.start_time or 0,
    )
    assert [dict(s.attributes or {})["gen_ai.response.finish_reasons"] for s in invokes] == [
        ("tool_calls",),
        ("stop",),
    ]
    conversations = {dict(s.attributes or {})["gen_ai.conversation.id"] for s in invokes}
    assert conversations == {first["thread_id"]}
    answer_upstream = children(settled(recorded, emulator), invokes[1])
    paths = {
        str(dict(s.attributes or {})["url.full"]).split("/demo", 1)[1] for s in answer_upstream
    }
    if kind.name == "classic":
        assert any(path.endswith("/submit_tool_outputs") for path in paths), paths
    else:
        assert "/openai/v1/responses" in paths
    assert all(span.context.trace_id == int(TRACE_ID, 16) for span in answer_upstream)  # type: ignore[union-attr]


def test_streamed_turn_ends_its_spans_with_the_stream(
    recorded: Recorded, adapter: str, kind: Kind
) -> None:
    with httpx.stream(
        "POST",
        f"{adapter}/v1/chat/completions",
        json={"model": kind.echo, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        headers=headers(),
        timeout=30,
    ) as response:
        assert response.status_code == 200
        frames = [line for line in response.iter_lines() if line.startswith("data:")]
    assert frames[-1] == "data: [DONE]"
    invoke = one(recorded.finished(), f"invoke_agent {kind.echo}")
    attributes = dict(invoke.attributes or {})
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.conversation.id"].startswith(kind.conversation_prefix)


def test_failed_turn_records_error_type(
    recorded: Recorded, adapter: str, emulator: str, kind: Kind
) -> None:
    base = emulator.split("/api/projects/")[0]
    httpx.post(f"{base}/_emulator/faults", json={"kind": "run_failed"})
    response = httpx.post(
        f"{adapter}/v1/chat/completions",
        json={"model": kind.echo, "messages": [{"role": "user", "content": "hi"}]},
        headers=headers(),
        timeout=30,
    )
    assert response.status_code >= 400
    spans = settled(recorded, emulator)
    invoke = one(spans, f"invoke_agent {kind.echo}")
    assert dict(invoke.attributes or {})["error.type"]
    server = one(spans, "POST /v1/chat/completions")
    assert dict(server.attributes or {})["error.type"]


def test_caller_trace_context_reaches_foundry_without_an_exporter(
    adapter: str, emulator: str, kind: Kind
) -> None:
    assert telemetry.exporter() is None
    response = httpx.post(
        f"{adapter}/v1/chat/completions",
        json={"model": kind.echo, "messages": [{"role": "user", "content": "hi"}]},
        headers=headers(),
        timeout=30,
    )
    assert response.status_code == 200
    log = emulator_log(emulator)
    assert log and {entry["traceparent"] for entry in log} == {TRACEPARENT}
    assert {entry["tracestate"] for entry in log} == {"ours=1"}


def test_a_malformed_traceparent_is_not_passed_on(adapter: str, emulator: str) -> None:
    response = httpx.post(
        f"{adapter}/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
        headers=headers("00-not-a-trace\r\nx: y"[:14]),
        timeout=30,
    )
    assert response.status_code == 200
    assert {entry["traceparent"] for entry in emulator_log(emulator)} == {None}


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.received.append((self.path, self.headers.get("content-type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Handler", (Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


OTLP_SCRIPT = """
import httpx, sys
sys.path.insert(0, "tests")
from opentelemetry import _logs, metrics, trace
from servers import serve
from agents_core.__main__ import emulator_registry
from agents_core.config import Settings
from agents_core.emulator import EmulatorOptions, create_app as create_emulator
from agents_core.http import Handlers, create_app
from agents_core.runtime import Runtime

with serve(create_emulator(EmulatorOptions(run_ms=20))) as emulator:
    endpoint = f"{emulator}/api/projects/demo"
    runtime = Runtime.build(Settings(), registry=emulator_registry(endpoint))
    with serve(create_app(Handlers(runtime))) as base:
        reply = httpx.post(
            f"{base}/v1/chat/completions",
            json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
            headers={"traceparent": sys.argv[1]},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
trace.get_tracer_provider().shutdown()
metrics.get_meter_provider().shutdown()
_logs.get_logger_provider().shutdown()
"""


def test_otlp_export_reaches_a_local_receiver(
    otlp_receiver: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    url, received = otlp_receiver
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "APPLICATIONINSIGHTS_", "AZURE_AI_", "AGENTS_CONFIG"))
    }
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_SERVICE_NAME": "adapter-under-test"}
    done = subprocess.run(
        [sys.executable, "-c", OTLP_SCRIPT, TRACEPARENT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    paths = {path for path, _, _ in received}
    assert {"/v1/traces", "/v1/metrics", "/v1/logs"} <= paths
    assert all(kind == "application/x-protobuf" for _, kind, _ in received)
    spans = []
    for path, _, body in received:
        if path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                service = {a.key: a.value.string_value for a in resource.resource.attributes}
                assert service["service.name"] == "adapter-under-test"
                spans += [span for scope in resource.scope_spans for span in scope.spans]
    names = {span.name for span in spans}
    assert {"POST /v1/chat/completions", "invoke_agent echo", "POST"} <= names
    assert {span.trace_id.hex() for span in spans} == {TRACE_ID}
    metric_names = set()
    for path, _, body in received:
        if path == "/v1/metrics":
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            metric_names |= {
                metric.name
                for resource in request.resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
            }
    assert {"gen_ai.client.token.usage", "http.server.request.duration"} <= metric_names


IMPORT_SCRIPT = """
import sys, time
started = time.perf_counter()
import function_app
elapsed = time.perf_counter() - started
try:
    function_app.handlers.runtime  # builds the runtime, as the first request does
except Exception:
    pass
heavy = [m for m in sys.modules if m.startswith(("opentelemetry.sdk", "azure.monitor"))]
heavy += [m for m in sys.modules if m == "agents_core.telemetry.otel"]
print(",".join(heavy) or "none")
"""


def test_no_exporter_means_no_opentelemetry_sdk_imported() -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "APPLICATIONINSIGHTS_"))
    }
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "none"
