"""Builders for records used across unit tests, and the tolerance for embedding-derived scores."""

from supportflow.schemas.models import (
    Answer,
    Band,
    Channel,
    PipelineRecord,
    RouteDecision,
    Source,
    Ticket,
    Tier,
)

# How far a score derived from the int8 MiniLM encoder may move between machines with the same lock:
# onnxruntime picks its int8 kernels by CPU (AVX2, AVX512-VNNI, ...), and their rounding differs.
# Measured spread of one groundedness score: 0.905-0.926. Tests that assert a score near a floor
# allow this much; the golden gate (`supportflow eval golden --gate`) judges real regressions.
EMBEDDING_TOLERANCE = 0.03


def ticket(text="Where is my order NW-100234?", **kw) -> Ticket:
    base = dict(
        ticket_id="tkt_1",
        conversation_id="conv_1",
        channel=Channel.EMAIL,
        sender="ana@example.com",
        text=text,
        received_at_ms=1_000,
        ingested_at_ms=1_000,
        trace_id="trace",
    )
    base.update(kw)
    return Ticket(**base)


def source(chunk_id="order-tracking#where-is-my-order", score=0.8) -> Source:
    return Source(
        chunk_id=chunk_id,
        article_id=chunk_id.split("#")[0],
        title="Tracking",
        section="Where",
        text="Track your order from Account > Orders.",
        score=score,
    )


def record(
    band=Band.AUTO,
    groundedness=0.97,
    citations=("order-tracking#where-is-my-order",),
    score=0.8,
    failures=(),
    answer=True,
    reasons=("policy:intent_band=auto",),
) -> PipelineRecord:
    ans = (
        Answer(
            text="Track your order from Account > Orders.",
            citations=list(citations),
            groundedness=groundedness,
            model="offline-extractive",
        )
        if answer
        else None
    )
    return PipelineRecord(
        ticket=ticket(),
        route=RouteDecision(
            intent="track_order", confidence=0.97, band=band, tier=Tier.COMMODITY, reasons=list(reasons)
        ),
        sources=[source(score=score)],
        answer=ans,
        failures=list(failures),
    )


class StageStub:
    """Stage functions for :func:`supportflow.streams.topology.run_hop`: pass-through unless given."""

    def __init__(self, **functions):
        self._functions = functions

    def normalize(self, raw):
        return self._functions["normalize"](raw)

    def route(self, records):
        return self._functions.get("route", lambda rs: rs)(records)

    def retrieve(self, records):
        return self._functions.get("retrieve", lambda rs: rs)(records)

    def resolve(self, records):
        return self._functions.get("resolve", lambda rs: rs)(records)

    def gate(self, record):
        return self._functions["gate"](record)
