"""The topology: hops built from the one stage table; fused and per-stage decide exactly alike."""

from collections.abc import Iterator

import pytest

from supportflow.connectors.crm import open_crm
from supportflow.evals.bench import bench_events
from supportflow.processors.audit import audit_event
from supportflow.processors.gate import GatePolicy, gate
from supportflow.schemas import wire
from supportflow.schemas.models import AuditEvent, DeadLetter, Decision, Outcome, PipelineRecord
from supportflow.settings import Settings, TopicSettings
from supportflow.streams.dlq import stage_source_topic
from supportflow.streams.handlers import Emit, Message, Sink
from supportflow.streams.runtime import Runtime, SeenTickets
from supportflow.streams.topics import source_topics
from supportflow.streams.topology import STAGES_BY_NAME, Hop, hops, run_hop
from tests.unit.helpers import StageStub, record

# Differ between two runs of the same ticket and nowhere else: clock readings, and the trace id that
# normalize draws afresh for every event it parses.
RUN_FIELDS = {"timings_ms", "decided_at_ms", "latency_ms", "trace_id"}


def _msgs(emits: list[Emit], topic: str = "t") -> list[Message]:
    return [Message(topic, 0, i, e.key, e.value) for i, e in enumerate(emits) if e.sink == Sink.NEXT]


def _by_sink(emits: list[Emit], sink: Sink) -> list[bytes]:
    return [e.value for e in emits if e.sink == sink]


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    settings = Settings()
    yield Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)


def _through(topology: str, rt: Runtime, raw: list[Message]) -> list[Emit]:
    """Every hop in turn, each fed the records the previous one handed on; side emits collected."""
    side: list[Emit] = []
    messages, seen = raw, SeenTickets().check_and_add
    for hop in hops(topology):  # type: ignore[arg-type]
        emits, _ = run_hop(hop, messages, rt, seen, audit_event)
        side += [e for e in emits if e.sink != Sink.NEXT]
        messages = _msgs(emits)
    return side


def test_run_hop_fused_topology_bench_tickets_same_outcomes_as_per_stage(runtime):
    events = [wire.encode(e) for e in bench_events(60)]
    raw = [Message("ingress", 0, i, None, v) for i, v in enumerate([*events, b"\x00not an event"])]

    per_stage, fused = _through("per-stage", runtime, raw), _through("fused", runtime, raw)

    def outcomes(emits: list[Emit]) -> dict[str, dict[str, object]]:
        decoded = (wire.decode(v, Outcome) for v in _by_sink(emits, Sink.OUTCOME))
        return {o.ticket_id: o.model_dump(exclude=RUN_FIELDS) for o in decoded}

    expected = outcomes(per_stage)
    assert len(expected) == 60
    assert {o["decision"] for o in expected.values()} >= {Decision.AUTO_RESOLVED, Decision.ESCALATED}
    assert outcomes(fused) == expected
    audits = [wire.decode(v, AuditEvent).ticket_id for v in _by_sink(fused, Sink.AUDIT)]
    assert sorted(audits) == sorted(expected)
    letters = [wire.decode(v, DeadLetter) for v in _by_sink(fused, Sink.DEAD_LETTER)]
    assert [(d.stage, d.original) for d in letters] == [("normalize", b"\x00not an event")]
    for value in _by_sink(fused, Sink.OUTCOME):  # every stage still reports its own time
        assert set(wire.decode(value, Outcome).timings_ms) == {
            "normalize",
            "route",
            "converse",
            "retrieve",
            "resolve",
            "gate",
        }


DECIDE_HOP = Hop(tuple(STAGES_BY_NAME[n] for n in ("retrieve", "resolve", "gate")))


def _decide(r: PipelineRecord) -> Outcome:
    return gate(r, GatePolicy(0.9, 0.4), lambda c: True, 2_000)


def test_run_hop_decide_redelivered_ticket_dropped_before_stages_run():
    batches: list[int] = []

    def resolve(rs: list[PipelineRecord]) -> list[PipelineRecord]:
        batches.append(len(rs))  # a model call per record in real life: a duplicate must not pay for one
        return rs

    value = wire.encode(record())
    emits, duplicates = run_hop(
        DECIDE_HOP, [Message("routed", 0, 0, None, value), Message("routed", 0, 1, None, value)],
        StageStub(resolve=resolve, gate=_decide), SeenTickets().check_and_add,
    )  # fmt: skip
    assert duplicates == 1 and batches == [1]
    assert [wire.decode(v, Outcome).decision for v in _by_sink(emits, Sink.OUTCOME)] == [
        Decision.AUTO_RESOLVED
    ]


def test_run_hop_decide_undecodable_dead_lettered_for_replay_to_routed_topic():
    emits, _ = run_hop(
        DECIDE_HOP, [Message("routed", 3, 7, b"k", b"\x00garbage")], StageStub(gate=_decide), lambda t: False
    )
    (letter,) = [wire.decode(v, DeadLetter) for v in _by_sink(emits, Sink.DEAD_LETTER)]
    assert (letter.stage, letter.topic, letter.partition, letter.offset) == ("retrieve", "routed", 3, 7)
    topics = TopicSettings()
    assert stage_source_topic(letter.stage, topics) == topics.full(topics.routed)


def test_run_hop_decide_failing_stage_escalates_only_that_ticket():
    good = record()
    bad = record().model_copy(update={"ticket": record().ticket.model_copy(update={"ticket_id": "bad"})})

    def resolve(rs: list[PipelineRecord]) -> list[PipelineRecord]:
        if any(r.ticket.ticket_id == "bad" for r in rs):
            raise ValueError("model refused")
        return rs

    emits, _ = run_hop(
        DECIDE_HOP, [Message("routed", 0, i, None, wire.encode(r)) for i, r in enumerate((good, bad))],
        StageStub(resolve=resolve, gate=_decide), SeenTickets().check_and_add,
    )  # fmt: skip
    outcomes = {o.ticket_id: o for o in (wire.decode(v, Outcome) for v in _by_sink(emits, Sink.OUTCOME))}
    assert outcomes["bad"].decision == Decision.ESCALATED
    assert "failure:resolve:ValueError" in outcomes["bad"].reasons
    assert outcomes[good.ticket.ticket_id].decision == Decision.AUTO_RESOLVED
    assert len(_by_sink(emits, Sink.AUDIT)) == 0  # no audit hook given


def test_run_hop_normalize_route_unencodable_ticket_dead_lettered_not_routed():
    huge = record().ticket.model_copy(update={"received_at_ms": 10**30})
    routed: list[int] = []

    def route(rs: list[PipelineRecord]) -> list[PipelineRecord]:
        routed.append(len(rs))
        return rs

    (first_hop, _) = hops("fused")
    emits, _ = run_hop(
        first_hop, [Message("ingress", 0, 0, None, b"raw")],
        StageStub(normalize=lambda raw: [PipelineRecord(ticket=huge)], route=route), lambda t: False,
    )  # fmt: skip
    assert [e.sink for e in emits] == [Sink.DEAD_LETTER] and routed == []
    assert wire.decode(emits[0].value, DeadLetter).error_class == "SchemaError"


def test_source_topics_fused_default_consumes_ingress_and_routed_only():
    t = TopicSettings()
    assert source_topics(Settings()) == [t.full(t.ingress), t.full(t.routed)]
    assert len(source_topics(Settings(topology="per-stage"))) == 5


def test_hops_every_topology_runs_every_stage_once_in_order():
    for topology in ("fused", "per-stage"):
        names = [s.name for hop in hops(topology) for s in hop.stages]
        assert names == ["normalize", "route", "converse", "retrieve", "resolve", "gate"]
        assert [hop.decides for hop in hops(topology)][-1] and not any(h.decides for h in hops(topology)[:-1])
    assert [h.name for h in hops("fused")] == ["normalize-route", "converse-retrieve-resolve-gate"]


def test_hops_unknown_topology_clear_error():
    with pytest.raises(ValueError, match=r"unknown topology 'compact'.*fused, per-stage"):
        hops("compact")  # type: ignore[arg-type]
