"""OpenTelemetry tracing: one trace per ticket, a span per stage, the context carried in Kafka headers.

Off unless an exporter is configured through the standard variables (:func:`configure_from_env`);
off, nothing here creates spans or headers, and a ticket's ``trace_id`` is the 32-hex id its parser
gave it, a valid W3C trace id. On:

- each hop continues the trace from the ``traceparent`` header of the record it consumed, one span
  per ticket per stage (never one per batch), and hands the last span's context on in the headers
  of what it produces (the next hop's records, the outcome, the audit event);
- the first stage, normalize, adopts the trace of a ``traceparent`` on the ingress record (the
  webhook service writes one) and stamps its trace id on the ticket, so the outcome and the audit
  event carry the id of the trace that holds their spans;
- a record without a usable header starts a root span, and that root keeps the ticket's own trace
  id (:class:`TicketTraceIds`), so a trace never splits from the ticket's ``trace_id``;
- model calls are child spans of the ticket's resolve span (:class:`TracedTierClient` makes the
  span current on the pool thread; ``processors/llm/provider.py`` opens the GenAI span).

Span attributes are ids and labels only (ticket id, stage, intent, band, decision, tier, language,
model, token counts): never ticket text, names or contact data.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from supportflow.processors.llm import TierClient
from supportflow.schemas.models import Answer, Outcome, PipelineRecord, Source, Tier
from supportflow.streams.handlers import Message
from supportflow.streams.tracing_headers import Headers, extract, inject

log = logging.getLogger(__name__)

TRACER_NAME = "supportflow"
DEFAULT_SERVICE_NAME = "supportflow"

_provider: TracerProvider | None = None  # made once: the API takes one global provider per process
_on = False
#: Ticket id -> the context of its span in the stage now running (the resolve span's model calls
#: run on pool threads, where no context is current: they find their parent here).
_live: dict[str, Context] = {}


# --- set-up -------------------------------------------------------------------------------------


def exporter_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The exporter the standard variables ask for (``otlp`` or ``console``), or None: tracing off.

    ``OTEL_SDK_DISABLED=true`` wins; ``OTEL_TRACES_EXPORTER`` names the exporter (``none``: off);
    without it an ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` means OTLP. Nothing set: off, so a
    worker never tries to reach a collector nobody runs."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    named = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named:
        first = named.split(",")[0].strip()
        if first not in ("none", "otlp", "console"):
            raise ValueError(f"OTEL_TRACES_EXPORTER={named!r}: supportflow exports otlp, console or none")
        return None if first == "none" else first
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return "otlp"
    return None


def configure_from_env(service_name: str = DEFAULT_SERVICE_NAME) -> bool:
    """Once per process, before the first ticket: tracing on when the environment names an exporter.
    Returns whether tracing is on. The OTLP exporter reads its endpoint, headers, timeout and
    compression from ``OTEL_EXPORTER_OTLP_*`` itself; only OTLP over HTTP (protobuf) is installed."""
    if _on:
        return True
    kind = exporter_from_env()
    if kind is None:
        return False
    exporter: SpanExporter
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        exporter = ConsoleSpanExporter()
    else:
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        if protocol != "http/protobuf":
            raise ValueError(f"OTLP protocol {protocol!r}: supportflow exports http/protobuf only")
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    configure(BatchSpanProcessor(exporter), service_name)  # batch size and delay: OTEL_BSP_*
    log.info("tracing on: %s exporter", kind)
    return True


def configure(processor: SpanProcessor, service_name: str = DEFAULT_SERVICE_NAME) -> TracerProvider:
    """Tracing on, with spans going to ``processor`` (tests pass the SDK's in-memory exporter).

    The provider becomes the global one too, so the model-call spans (opened through the API, in
    ``processors``) use it. Sampling follows ``OTEL_TRACES_SAMPLER``; resource attributes
    ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME``."""
    global _provider, _on
    if _provider is None:
        name = os.environ.get("OTEL_SERVICE_NAME") or service_name
        resource = Resource.create({SERVICE_NAME: name})
        _provider = TracerProvider(resource=resource, id_generator=TicketTraceIds())
        trace.set_tracer_provider(_provider)
    _provider.add_span_processor(processor)
    _on = True
    return _provider


def enabled() -> bool:
    return _on


def disable() -> None:
    """No more spans or headers from here on (tests that turned tracing on turn it off again)."""
    global _on
    _on = False


def shutdown() -> None:
    """Export what is queued (the process is about to exit)."""
    global _on
    if _provider is not None and _on:
        _provider.shutdown()
    _on = False


def _tracer() -> trace.Tracer:
    assert _provider is not None
    return _provider.get_tracer(TRACER_NAME)


# --- trace ids ----------------------------------------------------------------------------------

_pinned_trace_id: contextvars.ContextVar[int] = contextvars.ContextVar("pinned_trace_id", default=0)


class TicketTraceIds(RandomIdGenerator):
    """Root spans take the ticket's trace id when one is pinned: a record that lost its headers (or
    never had any) still lands in the trace its outcome names."""

    def generate_trace_id(self) -> int:
        return _pinned_trace_id.get() or super().generate_trace_id()


def trace_id_int(text: str) -> int:
    """A W3C trace id (32 hex digits, not all zero) as an int; 0 when ``text`` is not one."""
    if len(text) != 32:
        return 0
    try:
        return int(text, 16)
    except ValueError:
        return 0


def trace_id_hex(trace_id: int) -> str:
    return trace.format_trace_id(trace_id)


def ingress_headers(topic: str) -> Headers | None:
    """For a producer of ``ingress.raw``: a span for the publish and the headers that continue its
    trace in the pipeline (None when tracing is off). A span current in the caller is its parent."""
    if not _on:
        return None
    span = _tracer().start_span(
        f"{topic} publish", kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic},
    )  # fmt: skip
    span.end()
    return inject(trace.set_span_in_context(span))


def ticket_context(ticket_id: str) -> Context | None:
    """The context of the span ``ticket_id`` is in right now (its stage's), if tracing is on."""
    return _live.get(ticket_id)


# --- spans per ticket and stage -----------------------------------------------------------------


class HopTrace:
    """One batch of one hop: each ticket's context, from its record's header through the hop's stages.

    Every method is a no-op while tracing is off (one attribute check per call)."""

    def __init__(self, hop: str) -> None:
        self.on = _on
        self.hop = hop
        self._context: dict[str, Context] = {}  # ticket id -> context of its latest span

    def received(self, message: Message, records: list[PipelineRecord]) -> None:
        """``records`` were decoded from ``message``: their spans continue the trace in its headers."""
        if not self.on or not message.headers:
            return
        ctx = extract(message.headers)
        if ctx is None:
            return
        trace_id = trace.get_current_span(ctx).get_span_context().trace_id
        for record in records:
            # A header from another trace than the ticket's (a producer that re-used one) is ignored.
            if trace_id_int(record.ticket.trace_id) == trace_id:
                self._context[record.ticket.ticket_id] = ctx

    def normalized(self, message: Message, records: list[PipelineRecord]) -> list[PipelineRecord]:
        """The normalize span of each ticket of one ingress record (timed from ``timings_ms``, it ran
        just now); the tickets joined to the ingress record's trace when it carries one."""
        if not self.on or not records:
            return records
        end = time.time_ns()
        start = end - int(sum(r.timings_ms.get("normalize", 0.0) for r in records) * 1_000_000)
        parent = extract(message.headers)
        out = []
        for record in records:
            span = self._start("normalize", record, parent, start, first=True)
            trace_id = trace_id_hex(span.get_span_context().trace_id)
            if trace_id != record.ticket.trace_id:
                ticket = record.ticket.model_copy(update={"trace_id": trace_id})
                record = record.model_copy(update={"ticket": ticket})
            self._finish(span, record, end)
            self._context[record.ticket.ticket_id] = trace.set_span_in_context(span)
            out.append(record)
        return out

    @contextmanager
    def stage(
        self, name: str, records: Sequence[PipelineRecord], first: bool = False
    ) -> Iterator[StageSpans]:
        """A span per ticket around a stage's run over ``records``; the spans end when the block does,
        each with the attributes of its ticket's output (``StageSpans.done``)."""
        spans = StageSpans(self, name, records, first)
        try:
            yield spans
        finally:
            spans.end()

    def headers(self, record: PipelineRecord) -> Headers | None:
        """Headers continuing ``record``'s trace in the next topic (None: tracing off or no span)."""
        if not self.on:
            return None
        ctx = self._context.get(record.ticket.ticket_id)
        return inject(ctx) if ctx is not None else None

    def _start(
        self, stage: str, record: PipelineRecord, parent: Context | None, start_ns: int, first: bool
    ) -> Span:
        tracer = _tracer()
        attributes = {"supportflow.stage": stage, "supportflow.hop": self.hop, **_ticket_attributes(record)}
        kind = SpanKind.CONSUMER if first else SpanKind.INTERNAL
        if parent is not None:
            return tracer.start_span(stage, parent, kind, attributes, start_time=start_ns)
        token = _pinned_trace_id.set(trace_id_int(record.ticket.trace_id))
        try:  # an empty context: a root span, with the ticket's trace id
            return tracer.start_span(stage, Context(), kind, attributes, start_time=start_ns)
        finally:
            _pinned_trace_id.reset(token)

    def _finish(
        self, span: Span, record: PipelineRecord | None, end_ns: int, outcome: Outcome | None = None
    ) -> None:
        if record is None:
            span.set_status(Status(StatusCode.ERROR, "the stage failed on this ticket"))
        else:
            span.set_attributes(_ticket_attributes(record))
        if outcome is not None:
            span.set_attributes(_outcome_attributes(outcome))
        span.end(end_time=end_ns)

    def _begin(self, stage: str, record: PipelineRecord, start_ns: int, first: bool) -> Span:
        span = self._start(stage, record, self._context.get(record.ticket.ticket_id), start_ns, first)
        ctx = trace.set_span_in_context(span)
        self._context[record.ticket.ticket_id] = ctx
        _live[record.ticket.ticket_id] = ctx
        return span


class StageSpans:
    """The spans of one stage over one batch (see :meth:`HopTrace.stage`)."""

    def __init__(self, hop: HopTrace, name: str, records: Sequence[PipelineRecord], first: bool) -> None:
        self._hop = hop
        self._spans: dict[str, Span] = {}
        self._outputs: dict[str, PipelineRecord] = {}
        self._outcomes: dict[str, Outcome] = {}
        if hop.on:
            start = time.time_ns()
            for record in records:
                self._spans[record.ticket.ticket_id] = hop._begin(name, record, start, first)

    def done(self, records: Iterable[PipelineRecord]) -> None:
        """The stage's output: its labels go on the spans; a ticket missing from it failed."""
        if self._hop.on:
            self._outputs.update((r.ticket.ticket_id, r) for r in records)

    def deciding(self, decide: Callable[[PipelineRecord], Outcome]) -> Callable[[PipelineRecord], Outcome]:
        """``decide`` (the gate), noting each outcome for its ticket's span."""
        if not self._hop.on:
            return decide

        def noted(record: PipelineRecord) -> Outcome:
            outcome = decide(record)
            self._outputs[record.ticket.ticket_id] = record
            self._outcomes[record.ticket.ticket_id] = outcome
            return outcome

        return noted

    def end(self) -> None:
        end = time.time_ns()
        for ticket_id, span in self._spans.items():
            _live.pop(ticket_id, None)
            self._hop._finish(span, self._outputs.get(ticket_id), end, self._outcomes.get(ticket_id))


def _ticket_attributes(record: PipelineRecord) -> dict[str, str | float | int]:
    """Ids and labels only: what a trace backend may hold about a ticket (no text, no contact data)."""
    ticket = record.ticket
    attributes: dict[str, str | float | int] = {
        "supportflow.ticket_id": ticket.ticket_id,
        "supportflow.conversation_id": ticket.conversation_id,
        "supportflow.channel": str(ticket.channel),
    }
    route = record.route
    if route is not None:
        attributes.update({
            "supportflow.intent": route.intent, "supportflow.band": str(route.band),
            "supportflow.tier": str(route.tier), "supportflow.language": route.language,
            "supportflow.confidence": round(route.confidence, 4),
        })  # fmt: skip
    if record.answer is not None:
        attributes["supportflow.answer_model"] = record.answer.model
        attributes["supportflow.groundedness"] = round(record.answer.groundedness, 4)
    return attributes


def _outcome_attributes(outcome: Outcome) -> dict[str, str | float | int]:
    return {
        "supportflow.decision": str(outcome.decision),
        "supportflow.band": str(outcome.band),
        "supportflow.intent": outcome.intent,
    }


class TracedTierClient(TierClient):
    """The resolve stage's model client, its calls parented to the ticket's resolve span: resolve
    runs a batch's tickets on pool threads, where no context is current, so the ticket id finds it."""

    def answer(
        self, *, ticket_text: str, sources: list[Source], customer_facts: list[str], tier: Tier,
        ticket_id: str, language: str = "en",
    ) -> Answer:  # fmt: skip
        ctx = ticket_context(ticket_id)
        token = otel_context.attach(ctx) if ctx is not None else None
        try:
            return super().answer(
                ticket_text=ticket_text, sources=sources, customer_facts=customer_facts, tier=tier,
                ticket_id=ticket_id, language=language,
            )  # fmt: skip
        finally:
            if token is not None:
                otel_context.detach(token)
