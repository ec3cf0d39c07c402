"""OpenTelemetry export: spans, metrics and logs with the GenAI semantic conventions.

Imported only when an exporter is configured (see `agents_core.telemetry`).

Span tree of one request that runs an agent::

    SERVER  POST /v1/chat/completions      the caller's traceparent continued
      CLIENT  invoke_agent <agent>         gen_ai.* attributes, usage, finish reasons
        CLIENT  POST                       one per upstream request (and retry), whose
                                           traceparent Foundry continues

Metrics: `http.server.request.duration` (route, agent, status),
`gen_ai.client.operation.duration` and `gen_ai.client.token.usage` (agent
and caller), `adapter.upstream.retries` and `adapter.upstream.cancellations`.
Message content is never recorded.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from opentelemetry import context, metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Span, SpanKind, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agents_core.telemetry import TURN_ROUTES, Turn

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from agents_core.config import Platform

__all__ = ["OtelExporter", "from_environment"]

SERVICE_NAME = "foundry-agents-adapter"
PROVIDER = "azure.ai.agents"
SYSTEM = "az.ai.agents"  # what azure-ai-agents' own tracing reports as gen_ai.system
ATTEMPT = "agents_core.attempt"
CALLER = "adapter.caller"
REQUEST_ID = "adapter.request_id"
OTHER_INSTRUMENTATIONS = (
    "django",
    "fastapi",
    "flask",
    "httpx",
    "httpx2",
    "psycopg2",
    "requests",
    "urllib",
    "urllib3",
)
"""Instrumentations of the Azure Monitor distro left off: our own spans cover these calls."""
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)


@dataclass
class Spans:
    server: Span
    invoke: Span | None = None

    @property
    def innermost(self) -> Span:
        return self.invoke or self.server


class OtelExporter:
    """`agents_core.telemetry.Exporter` over the given tracer and meter providers."""

    def __init__(self, tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
        self.tracer = tracer_provider.get_tracer("agents_core")
        meter = meter_provider.get_meter("agents_core")
        self.propagator = TraceContextTextMapPropagator()
        self.request_duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.retries = meter.create_counter(
            "adapter.upstream.retries",
            unit="{request}",
            description="Upstream requests sent again after throttling or a failed connection.",
        )
        self.cancellations = meter.create_counter(
            "adapter.upstream.cancellations",
            unit="{request}",
            description="Run cancellations sent upstream.",
        )

    def request_started(self, turn: Turn, headers: Mapping[str, str]) -> None:
        parent = self.propagator.extract(headers) if turn.traceparent else None
        attributes = {
            "http.request.method": turn.method,
            "http.route": turn.route,
            "url.path": turn.route,
        }
        span = self.tracer.start_span(
            f"{turn.method} {turn.route}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
        )
        turn.spans = Spans(span)

    def enter(self, turn: Turn) -> object:
        spans = turn.spans
        if not isinstance(spans, Spans):
            return None
        return context.attach(trace.set_span_in_context(spans.server))

    def leave(self, token: object) -> None:
        if token is not None:
            context.detach(token)  # type: ignore[arg-type]

    def agent_resolved(self, turn: Turn) -> None:
        spans = turn.spans
        if not isinstance(spans, Spans) or turn.route not in TURN_ROUTES:
            return
        spans.server.set_attribute("gen_ai.agent.id", turn.agent_id or "")
        attributes: dict[str, Any] = {
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.system": SYSTEM,
            "gen_ai.agent.id": turn.agent_id or "",
            "gen_ai.agent.name": turn.agent_name or "",
        }
        host = urlsplit(turn.endpoint or "").hostname
        if host:
            attributes["server.address"] = host
        spans.invoke = self.tracer.start_span(
            f"invoke_agent {turn.agent_name}",
            context=trace.set_span_in_context(spans.server),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )

    def request_finished(self, turn: Turn) -> None:
        spans = turn.spans
        if not isinstance(spans, Spans):
            return
        duration = turn.duration
        caller = turn.caller or "anonymous"
        if spans.invoke is not None:
            self._end_invoke(spans.invoke, turn, caller)
        server = spans.server
        server.set_attribute("http.response.status_code", turn.http_status)
        server.set_attribute(REQUEST_ID, turn.request_id)
        server.set_attribute(CALLER, caller)
        if turn.http_status >= 400 or (turn.error_type and not turn.http_status):
            server.set_attribute("error.type", turn.error_type or str(turn.http_status))
        if turn.http_status >= 500 or not turn.http_status:
            server.set_status(StatusCode.ERROR)
        server.end()
        request: dict[str, Any] = {
            "http.request.method": turn.method,
            "http.route": turn.route,
            "http.response.status_code": turn.http_status,
        }
        if turn.agent_id:
            request["gen_ai.agent.id"] = turn.agent_id
        if turn.error_type:
            request["error.type"] = turn.error_type
        self.request_duration.record(duration, request)
        if not turn.invoked:
            return
        operation: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.agent.id": turn.agent_id or "",
            "gen_ai.agent.name": turn.agent_name or "",
            CALLER: caller,
        }
        if turn.error_type:
            operation["error.type"] = turn.error_type
        self.operation_duration.record(duration, operation)
        for kind, count in (("input", turn.input_tokens), ("output", turn.output_tokens)):
            if count is not None:
                self.token_usage.record(count, {**operation, "gen_ai.token.type": kind})

    def _end_invoke(self, span: Span, turn: Turn, caller: str) -> None:
        if turn.invoked:
            span.set_attribute("gen_ai.operation.name", "invoke_agent")
        else:  # an A2A request about a task (get, cancel, list), not a turn
            span.update_name(f"agent {turn.agent_name}")
        values: dict[str, Any] = {
            "gen_ai.conversation.id": turn.thread_id,
            "gen_ai.response.id": turn.run_id,
            "gen_ai.usage.input_tokens": turn.input_tokens,
            "gen_ai.usage.output_tokens": turn.output_tokens,
            "error.type": turn.error_type,
            REQUEST_ID: turn.request_id or None,
            CALLER: caller,
        }
        for key, value in values.items():
            if value is not None:
                span.set_attribute(key, value)
        if turn.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [turn.finish_reason])
        if turn.error_type:
            span.set_status(StatusCode.ERROR)
        span.end()

    async def upstream(
        self,
        request: httpx.Request,
        turn: Turn | None,
        send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    ) -> httpx.Response:
        """One upstream request as a client span whose context the request carries on."""
        spans = turn.spans if turn is not None else None
        parent = (
            trace.set_span_in_context(spans.innermost)
            if isinstance(spans, Spans)
            else context.get_current()
        )
        attempt = int(request.extensions.get(ATTEMPT, 0)) + 1
        request.extensions[ATTEMPT] = attempt
        url = request.url
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "server.address": url.host,
            "server.port": url.port or (443 if url.scheme == "https" else 80),
            "url.full": str(url.copy_with(query=None)),
        }
        if turn is not None and turn.agent_id:
            attributes["gen_ai.agent.id"] = turn.agent_id
        if attempt > 1:
            attributes["http.request.resend_count"] = attempt - 1
            self.retries.add(1, {"http.request.method": request.method, "server.address": url.host})
        span = self.tracer.start_span(
            request.method, context=parent, kind=SpanKind.CLIENT, attributes=attributes
        )
        self.propagator.inject(request.headers, context=trace.set_span_in_context(span))
        try:
            response = await send(request)
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(StatusCode.ERROR)
            span.end()
            raise
        status = response.status_code
        span.set_attribute("http.response.status_code", status)
        upstream_id = response.headers.get("apim-request-id") or response.headers.get(
            "x-request-id"
        )
        if upstream_id:
            span.set_attribute("az.service_request_id", upstream_id)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(StatusCode.ERROR)
        if request.method == "POST" and url.path.endswith("/cancel"):
            outcome: dict[str, Any] = {"http.response.status_code": status}
            if turn is not None and turn.agent_id:
                outcome["gen_ai.agent.id"] = turn.agent_id
            self.cancellations.add(1, outcome)
        response.stream = _EndsSpan(response.stream, span)
        return response


class _EndsSpan(httpx.AsyncByteStream):
    """A response body that ends its client span when closed (a stream lasts as long as its run)."""

    def __init__(self, inner: Any, span: Span) -> None:
        self._inner = inner
        self._span = span

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except BaseException as exc:
            self._span.set_attribute("error.type", type(exc).__qualname__)
            raise

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._span.end()


def from_environment(platform: Platform) -> OtelExporter:
    """Exporters as the environment asks: Application Insights (Entra auth), OTLP, or both.

    The OTLP exporters read the standard `OTEL_EXPORTER_OTLP_*` variables
    themselves; a signal whose `OTEL_<SIGNAL>_EXPORTER` is `none` is not sent.
    """
    from opentelemetry.sdk.resources import Resource

    attributes = {} if platform.otel_service_name else {"service.name": SERVICE_NAME}
    resource = Resource.create(attributes)
    connection = platform.applicationinsights_connection_string
    if connection is not None and connection.get_secret_value().strip():
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(
            connection_string=connection.get_secret_value().strip(),
            credential=_credential(platform),
            logger_name="agents_core",
            resource=resource,
            instrumentation_options={name: {"enabled": False} for name in OTHER_INSTRUMENTATIONS},
            **_otlp_for_distro(platform),
        )
    else:
        _otlp_only(platform, resource)
    adapter_logs = logging.getLogger("agents_core")
    if adapter_logs.getEffectiveLevel() > logging.INFO:
        adapter_logs.setLevel(logging.INFO)  # the per-turn lines are what usage queries read
    return OtelExporter(trace.get_tracer_provider(), metrics.get_meter_provider())


def _credential(platform: Platform) -> TokenCredential | None:
    """Entra ID for ingestion when `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` says `AAD`.

    The same setting the Functions host reads (`ClientId=<id>;Authorization=AAD`):
    the app's managed identity, or locally the developer's credentials.
    """
    parts = dict(
        part.split("=", 1)
        for part in (platform.applicationinsights_authentication_string or "").split(";")
        if "=" in part
    )
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    client_id = parts.get("ClientId") or None
    if client_id or platform.identity_endpoint or platform.msi_endpoint:
        return ManagedIdentityCredential(client_id=client_id)
    return DefaultAzureCredential()


def _otlp_for_distro(platform: Platform) -> dict[str, Any]:
    """OTLP processors and readers added to the Azure Monitor distro's providers."""
    if not platform.otlp_configured:
        return {}
    extra: dict[str, Any] = {}
    if platform.otel_signal_enabled("traces"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        extra["span_processors"] = [BatchSpanProcessor(OTLPSpanExporter())]
    if platform.otel_signal_enabled("metrics"):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        extra["metric_readers"] = [PeriodicExportingMetricReader(OTLPMetricExporter())]
    if platform.otel_signal_enabled("logs"):
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        extra["log_record_processors"] = [BatchLogRecordProcessor(OTLPLogExporter())]
    return extra


def _otlp_only(platform: Platform, resource: Any) -> None:
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    tracer_provider = SdkTracerProvider(resource=resource)
    if platform.otel_signal_enabled("traces"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    readers = []
    if platform.otel_signal_enabled("metrics"):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    metrics.set_meter_provider(SdkMeterProvider(resource=resource, metric_readers=readers))
    if platform.otel_signal_enabled("logs"):
        from opentelemetry._logs import set_logger_provider
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        set_logger_provider(logger_provider)
        handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
        logging.getLogger("agents_core").addHandler(handler)
