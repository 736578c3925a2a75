"""Tracing on the real embedded broker: one ticket through the per-stage topology (a Kafka hop between
every stage) is one trace, a span per stage, exported over real OTLP/HTTP (protobuf) to a loopback
receiver; the trace id is the one the ingress record's ``traceparent`` named, and the outcome's and
the audit event's ``trace_id``."""

from __future__ import annotations

import gzip
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from supportflow.evals.bench import bench_events
from supportflow.schemas import wire
from supportflow.schemas.models import AuditEvent
from supportflow.settings import get_settings
from supportflow.streams import kafka
from supportflow.streams.collect import OutcomeReader, read_messages
from supportflow.streams.harness import wait_ready
from supportflow.streams.ingest import ingress_key
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import ensure_topics, pipeline_topics
from tests.fakes.loopback import LoopbackServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STAGES = {"normalize", "route", "converse", "retrieve", "resolve", "gate"}
UPSTREAM_TRACE = "0af7651916cd43dd8448eb211c80319c"
UPSTREAM_SPAN = "b7ad6b7169203331"


class OtlpReceiver(LoopbackServer):
    """``POST /v1/traces``: OTLP/HTTP protobuf decoded with opentelemetry-proto; spans kept by trace id."""

    def __init__(self) -> None:
        self.spans: dict[str, list[dict[str, object]]] = {}
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                receiver.add(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args: object) -> None:
                pass

        self._serve(Handler, "otlp-receiver")

    def add(self, request: ExportTraceServiceRequest) -> None:
        with self.changed:
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.setdefault(span.trace_id.hex(), []).append({
                            "name": span.name, "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "attributes": {a.key: a.value.string_value for a in span.attributes},
                        })  # fmt: skip
            self.changed.notify_all()

    def wait_for_stages(self, trace_id: str, timeout_s: float) -> list[dict[str, object]]:
        with self.changed:
            self.changed.wait_for(
                lambda: {s["name"] for s in self.spans.get(trace_id, [])} >= STAGES, timeout=timeout_s
            )
            return list(self.spans.get(trace_id, []))


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture
def own_topics(monkeypatch: pytest.MonkeyPatch, unique: Callable[[str], str]) -> Iterator[None]:
    """Topics and group of this test's own on the shared broker (the workers inherit the environment)."""
    prefix = unique("trace")
    monkeypatch.setenv("SUPPORTFLOW_APP_ID", prefix)
    monkeypatch.setenv("SUPPORTFLOW_TOPICS__PREFIX", prefix)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # before monkeypatch restores the environment: nothing reads it between


def test_tracing_per_stage_pipeline_one_trace_a_span_per_stage_ids_on_outcome_and_audit(
    broker, receiver, tmp_path: Path, own_topics: None
):
    settings = get_settings()
    t = settings.topics
    ensure_topics(broker.bootstrap, pipeline_topics(settings))
    env = {
        "SUPPORTFLOW_TOPOLOGY": "per-stage",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.origin,
        "OTEL_SERVICE_NAME": "supportflow-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: export promptly, the test waits on the spans
    }
    reader = OutcomeReader(broker.bootstrap, t.full(t.outcomes), t.full(t.dead_letter),
                           since_ms=int(time.time() * 1000))  # fmt: skip
    workers = [WorkerProcess(broker.bootstrap, embedded=True, env=env, log_path=tmp_path / "worker.log")]
    event = bench_events(1)[0]
    try:
        wait_ready(broker.bootstrap, settings, workers, reader, quiet=True, log_dir=tmp_path)
        producer = kafka.producer(broker.bootstrap)
        traceparent = f"00-{UPSTREAM_TRACE}-{UPSTREAM_SPAN}-01".encode()
        producer.produce(t.full(t.ingress), key=ingress_key(event), value=wire.encode(event),
                         headers=[("traceparent", traceparent)])  # fmt: skip
        assert producer.flush(10) == 0
        collected = reader.wait_for(1, timeout_s=120)
        spans = receiver.wait_for_stages(UPSTREAM_TRACE, timeout_s=60)
    finally:
        reader.close()
        stop_all(workers)

    (outcome,) = collected.outcomes.values()
    audits = [wire.decode(m.value, AuditEvent) for m in read_messages(broker.bootstrap, t.full(t.audit))]
    (audit,) = [a for a in audits if a.ticket_id == outcome.ticket_id]
    assert outcome.trace_id == audit.trace_id == UPSTREAM_TRACE
    by_stage = {str(s["name"]): s for s in spans if s["name"] in STAGES}
    assert set(by_stage) == STAGES
    assert len([s for s in spans if s["name"] in STAGES]) == len(STAGES)  # one span per stage
    order = ["normalize", "route", "converse", "retrieve", "resolve", "gate"]
    assert by_stage["normalize"]["parent"] == UPSTREAM_SPAN
    for parent, child in itertools.pairwise(order):  # a chain across four Kafka hops
        assert by_stage[child]["parent"] == by_stage[parent]["span_id"], child
    for span in by_stage.values():
        attributes = span["attributes"]
        assert isinstance(attributes, dict)
        assert attributes["supportflow.ticket_id"] == outcome.ticket_id
    assert by_stage["gate"]["attributes"]["supportflow.decision"] == str(outcome.decision)  # type: ignore[index]
