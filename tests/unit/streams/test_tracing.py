"""Tracing: the W3C context in Kafka headers, one span per ticket and stage, the ticket's trace id kept."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from supportflow.connectors.crm import open_crm
from supportflow.evals.bench import bench_events
from supportflow.processors.audit import audit_event
from supportflow.schemas import wire
from supportflow.schemas.models import AuditEvent, Outcome, PipelineRecord
from supportflow.settings import Settings
from supportflow.streams import tracing, tracing_headers
from supportflow.streams.handlers import Emit, Message, Sink
from supportflow.streams.runtime import Runtime, SeenTickets
from supportflow.streams.topology import STAGES_BY_NAME, Hop, hops, run_hop
from tests.unit.helpers import StageStub, record, ticket

TICKET_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
#: Every attribute a stage span may carry: ids and labels, nothing a customer wrote.
LABELS = {
    "supportflow.stage", "supportflow.hop", "supportflow.ticket_id", "supportflow.conversation_id",
    "supportflow.channel", "supportflow.intent", "supportflow.band", "supportflow.tier",
    "supportflow.language", "supportflow.confidence", "supportflow.answer_model",
    "supportflow.groundedness", "supportflow.decision",
}  # fmt: skip


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.disable()


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    settings = Settings()
    return Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)


def _next(emits: list[Emit], topic: str) -> list[Message]:
    return [
        Message(topic, 0, i, e.key, e.value, e.headers or ())
        for i, e in enumerate(emits)
        if e.sink == Sink.NEXT
    ]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_tracing_headers_inject_then_extract_same_span_context(spans):
    span = trace.get_tracer("test").start_span("publish")
    headers = tracing_headers.inject(trace.set_span_in_context(span))

    ctx = tracing_headers.extract(headers)

    assert [k for k, _ in headers] == ["traceparent"]
    assert ctx is not None
    extracted = trace.get_current_span(ctx).get_span_context()
    assert (extracted.trace_id, extracted.span_id) == (
        span.get_span_context().trace_id,
        span.get_span_context().span_id,
    )
    assert extracted.is_remote


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("traceparent", b"00-not-a-trace-01")],
        [("traceparent", b"00-00000000000000000000000000000000-00f067aa0ba902b7-01")],
        [("traceparent", b"\xff\xfe")],
    ],
)
def test_tracing_extract_missing_or_malformed_header_none(headers):
    assert tracing_headers.extract(headers) is None


@pytest.mark.parametrize(
    "raw",
    [((("traceparent", b"00-x"),)), [("traceparent", b"00-x")], {"traceparent": b"00-x"}],
)
def test_tracing_header_list_pairs_or_mapping_same_list(raw):
    assert tracing_headers.header_list(raw) == [("traceparent", b"00-x")]


def test_tracing_header_list_none_empty():
    assert tracing_headers.header_list(None) == []


def test_tracing_malformed_header_new_root_span_keeps_ticket_trace_id(spans):
    routed = record().model_copy(update={"ticket": ticket(trace_id=TICKET_TRACE)})
    hop = Hop((STAGES_BY_NAME["route"],))
    message = Message("tickets", 0, 7, b"conv_1", wire.encode(routed), [("traceparent", b"garbage")])

    emits, _ = run_hop(hop, [message], StageStub(), lambda _t: False)

    (span,) = spans.get_finished_spans()
    assert span.name == "route" and span.parent is None
    assert tracing.trace_id_hex(span.context.trace_id) == TICKET_TRACE
    (out,) = [e for e in emits if e.sink == Sink.NEXT]
    # The next hop continues from this span, in the ticket's trace.
    ctx = tracing_headers.extract(out.headers or [])
    assert ctx is not None and trace.get_current_span(ctx).get_span_context().span_id == span.context.span_id


def test_tracing_per_stage_hops_one_trace_a_span_per_stage_same_trace_id_as_outcome_and_audit(spans, runtime):
    ingress = Message("ingress", 0, 0, None, wire.encode(bench_events(1)[0]))
    messages, side = [ingress], []
    for hop in hops("per-stage"):
        emits, _ = run_hop(hop, messages, runtime, SeenTickets().check_and_add, audit_event)
        side += [e for e in emits if e.sink != Sink.NEXT]
        messages = _next(emits, hop.name)

    finished = sorted(spans.get_finished_spans(), key=lambda s: s.start_time or 0)
    assert [s.name for s in finished] == ["normalize", "route", "converse", "retrieve", "resolve", "gate"]
    assert len({s.context.trace_id for s in finished}) == 1
    for parent, child in itertools.pairwise(finished):  # a chain, across the Kafka hops too
        assert _parent_id(child) == parent.context.span_id
    (outcome,) = [wire.decode(e.value, Outcome) for e in side if e.sink == Sink.OUTCOME]
    (audit,) = [wire.decode(e.value, AuditEvent) for e in side if e.sink == Sink.AUDIT]
    assert outcome.trace_id == audit.trace_id == tracing.trace_id_hex(finished[0].context.trace_id)
    assert finished[-1].attributes is not None
    assert finished[-1].attributes["supportflow.decision"] == str(outcome.decision)
    assert all(e.headers for e in side)  # the outcome and audit records carry the gate span's context


def test_tracing_ingress_header_adopted_by_normalize_and_ticket(spans, runtime):
    upstream = trace.get_tracer("test").start_span("webhook")
    headers = tracing_headers.inject(trace.set_span_in_context(upstream))
    ingress = Message("ingress", 0, 0, None, wire.encode(bench_events(1)[0]), headers)

    emits, _ = run_hop(hops("per-stage")[0], [ingress], runtime, lambda _t: False)

    (span,) = spans.get_finished_spans()
    assert _parent_id(span) == upstream.get_span_context().span_id
    (out,) = [e for e in emits if e.sink == Sink.NEXT]
    ticket_trace = wire.decode(out.value, PipelineRecord).ticket.trace_id
    assert ticket_trace == tracing.trace_id_hex(upstream.get_span_context().trace_id)


def test_tracing_span_attributes_hold_no_ticket_text_or_contact_data(spans, runtime):
    event = bench_events(1)[0]
    messages = [Message("ingress", 0, 0, None, wire.encode(event))]
    for hop in hops("fused"):
        emits, _ = run_hop(hop, messages, runtime, SeenTickets().check_and_add, audit_event)
        messages = _next(emits, hop.name)
    body = json.loads(event.payload)
    private = [body["text"], body["subject"], body["email"], *body["text"].split()[:6]]

    finished = spans.get_finished_spans()
    assert len(finished) == 6
    for span in finished:
        attributes = dict(span.attributes or {})
        assert set(attributes) <= LABELS, set(attributes) - LABELS
        for value in attributes.values():
            assert not any(p in str(value).split() or p == str(value) for p in private), value


def test_tracing_off_no_spans_no_headers_ticket_keeps_parser_trace_id(runtime):
    tracing.disable()
    ingress = Message("ingress", 0, 0, None, wire.encode(bench_events(1)[0]))

    emits, _ = run_hop(hops("per-stage")[0], [ingress], runtime, lambda _t: False)

    (out,) = [e for e in emits if e.sink == Sink.NEXT]
    assert out.headers is None
    assert tracing.trace_id_int(wire.decode(out.value, PipelineRecord).ticket.trace_id)  # a W3C trace id


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
    ],
)
def test_tracing_exporter_from_env_off_unless_an_exporter_is_named(env, expected):
    assert tracing.exporter_from_env(env) == expected


def test_tracing_exporter_from_env_unsupported_exporter_clear_error():
    with pytest.raises(ValueError, match="zipkin"):
        tracing.exporter_from_env({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_tracing_ingress_headers_on_producer_span_and_its_traceparent(spans):
    headers = tracing.ingress_headers("supportflow.ingress.raw")

    (span,) = spans.get_finished_spans()
    assert span.name == "supportflow.ingress.raw publish" and span.kind == trace.SpanKind.PRODUCER
    ctx = tracing_headers.extract(headers or [])
    assert ctx is not None and trace.get_current_span(ctx).get_span_context().span_id == span.context.span_id


def test_tracing_ingress_headers_off_none():
    tracing.disable()
    assert tracing.ingress_headers("supportflow.ingress.raw") is None
