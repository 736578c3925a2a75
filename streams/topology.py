"""The pipeline, declared once: six stages, the topics between them, and how they group into hops.

    ingress.raw ─normalize─> tickets.normalized ─route─> tickets.routed ─converse, retrieve─>
                tickets.retrieved ─resolve──> tickets.resolved ─gate──> outcomes (+ audit);
                any stage ─> deadletter

A *stage* is a pure function of its input (``processors/``), reached through :class:`StageFunctions`.
A *hop* is one Faust agent: it consumes the topic its first stage reads, runs its stages one after
the other in memory, and produces what its last stage writes. The topology says which stages share a
hop:

- ``fused`` (default): two hops, normalize+route and converse+retrieve+resolve+gate. The same decisions
  with less Kafka, Faust and Avro work per ticket; tickets.normalized, .retrieved and .resolved stay empty.
- ``per-stage``: five hops, each stage's output on Kafka, to watch, replay or scale one stage apart.

``converse`` (the conversation in view, :mod:`supportflow.processors.conversation`) has no topic of
its own: it always runs first in the hop that reads ``tickets.routed``. Conversation state is read
into a :class:`StateBook` before a batch and its changes applied after (``streams/conversations.py``);
converse adds each customer message to it and the gate each decision. In the fused topology both
happen in one hop, so every message is decided with every earlier decision of its conversation in
view; per-stage, a message that reaches converse before its predecessor's decision sees that
predecessor's text but not yet its decision. Within a batch, messages of one conversation run in
rounds, one per round, so a later one sees what the earlier one changed.

Errors are data: a message that does not decode (or parse, for normalize) becomes a dead letter of
the hop's first stage, with its original bytes; a ticket a stage fails on becomes an escalated
outcome naming the stage. A hop that ends with the gate drops redelivered tickets before its stages
run, so a redelivery never pays for a second model call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from supportflow.processors.conversation import burst
from supportflow.processors.conversation.state import (
    StateBook,
    note_customer_message,
    note_decision,
    turn_of,
)
from supportflow.schemas.models import AuditEvent, Outcome, PipelineRecord
from supportflow.streams.handlers import (
    Emit,
    Message,
    Sink,
    decode_records,
    encode_next,
    gate_records,
    normalize_records,
    now_ms,
    outcome_emit,
    process_records,
    unseen,
)
from supportflow.streams.tracing import HopTrace

Topology = Literal["fused", "per-stage"]


class StageFunctions(Protocol):
    """The six stage functions (:class:`~supportflow.streams.runtime.Runtime` in a worker)."""

    def normalize(self, raw: bytes) -> list[PipelineRecord]: ...
    def route(self, records: list[PipelineRecord]) -> list[PipelineRecord]: ...
    def converse(self, records: list[PipelineRecord], states: list[bytes | None]) -> list[PipelineRecord]: ...
    def retrieve(self, records: list[PipelineRecord]) -> list[PipelineRecord]: ...
    def resolve(self, records: list[PipelineRecord]) -> list[PipelineRecord]: ...
    def gate(self, record: PipelineRecord) -> Outcome: ...


@dataclass(frozen=True)
class Stage:
    """A stage and its topics (``TopicSettings`` field names): what it reads when a hop starts with it,
    what it writes when a hop ends with it."""

    name: str
    reads: str
    writes: str


STAGES: tuple[Stage, ...] = (
    Stage("normalize", reads="ingress", writes="tickets"),
    Stage("route", reads="tickets", writes="routed"),
    Stage("converse", reads="routed", writes="routed"),  # never last in a hop: no topic of its own
    Stage("retrieve", reads="routed", writes="retrieved"),
    Stage("resolve", reads="retrieved", writes="resolved"),
    Stage("gate", reads="resolved", writes="outcomes"),
)
STAGES_BY_NAME = {s.name: s for s in STAGES}

TOPOLOGIES: dict[Topology, tuple[tuple[str, ...], ...]] = {
    "fused": (("normalize", "route"), ("converse", "retrieve", "resolve", "gate")),
    "per-stage": (("normalize",), ("route",), ("converse", "retrieve"), ("resolve",), ("gate",)),
}


@dataclass(frozen=True)
class Hop:
    stages: tuple[Stage, ...]

    @property
    def name(self) -> str:
        return "-".join(s.name for s in self.stages)

    @property
    def reads(self) -> str:
        return self.stages[0].reads

    @property
    def decides(self) -> bool:
        """The hop ends with the gate: it emits outcomes, not records for a next hop."""
        return self.stages[-1].name == "gate"

    @property
    def keeps_conversations(self) -> bool:
        """The hop reads and changes conversation state: it runs converse (adds each message) or the
        gate (adds each decision)."""
        return any(s.name in ("converse", "gate") for s in self.stages)

    @property
    def writes(self) -> str | None:
        """The topic of the records it hands to the next hop (``None``: it decides)."""
        return None if self.decides else self.stages[-1].writes


def hops(topology: Topology) -> tuple[Hop, ...]:
    if topology not in TOPOLOGIES:
        raise ValueError(f"unknown topology {topology!r}: expected one of {', '.join(TOPOLOGIES)}")
    return tuple(Hop(tuple(STAGES_BY_NAME[name] for name in group)) for group in TOPOLOGIES[topology])


def run_hop(
    hop: Hop,
    messages: Sequence[Message],
    stages: StageFunctions,
    seen: Callable[[str], bool],
    audit: Callable[[PipelineRecord, Outcome], AuditEvent] | None = None,
    book: StateBook | None = None,
) -> tuple[list[Emit], int]:
    """One batch through ``hop``: its emits, and how many redelivered tickets it suppressed.

    ``book`` holds the conversation state the batch may read and change (``None``: none is kept)."""
    first = hop.stages[0].name
    bursts = first == "converse" and book is not None and book.burst_window_ms > 0
    trace = HopTrace(hop.name)  # spans per ticket and stage; inert while tracing is off
    if first == "normalize":
        normalized, emits = normalize_records(
            messages, stages.normalize, trace.normalized if trace.on else None
        )
        if len(hop.stages) == 1:  # already encoded: a ticket the wire format cannot hold was dead-lettered
            return [
                *emits,
                *(
                    Emit(Sink.NEXT, r.ticket.conversation_id.encode(), raw, trace.headers(r))
                    for r, raw in normalized
                ),
            ], 0
        records = [r for r, _raw in normalized]
    elif bursts:
        records, emits = _hold_bursts(messages, book, trace)
    else:
        records, emits = decode_records(first, messages, trace.received if trace.on else None)
    duplicates = 0
    if hop.decides:
        records, duplicates = unseen(records, seen)
    if bursts:
        records, folded = _fold_bursts(records, book, _versions(stages))
        emits += folded
    stateful = book is not None and hop.keeps_conversations
    for part in conversation_rounds(records) if stateful else [records]:
        emits += _run_stages(hop, part, stages, audit, book, trace)
    return emits, duplicates


def _hold_bursts(
    messages: Sequence[Message], book: StateBook, trace: HopTrace
) -> tuple[list[PipelineRecord], list[Emit]]:
    """Decode, leaving out the messages whose burst window is still open: ``book.held`` tells the
    agent which messages (by position) to hand back later, and when."""
    decoded: list[tuple[int, PipelineRecord]] = []
    dead: list[Emit] = []
    for i, message in enumerate(messages):
        records, failed = decode_records("converse", [message], trace.received if trace.on else None)
        decoded += [(i, r) for r in records]
        dead += failed
    holding = burst.held([r for _, r in decoded], now_ms(), book.burst_window_ms)
    book.held = [(decoded[j][0], due) for j, due in holding.items()]
    return [r for j, (_, r) in enumerate(decoded) if j not in holding], dead


def _versions(stages: StageFunctions) -> Mapping[str, str]:
    """The worker's router and policy versions (``Runtime.versions``); none for other stage functions."""
    versions: Mapping[str, str] = getattr(stages, "versions", {})
    return versions


def _fold_bursts(
    records: list[PipelineRecord], book: StateBook, versions: Mapping[str, str]
) -> tuple[list[PipelineRecord], list[Emit]]:
    """Each burst decided as its last message; the earlier ones closed, and noted in their thread."""
    fold = burst.fold(records, book.burst_window_ms)
    emits: list[Emit] = []
    for record, into in fold.folded:
        key, now = _key(record), now_ms()
        book.apply(key, note_customer_message(record, now, counts_unresolved=False))
        turn = turn_of(book.get(key), record.ticket)
        outcome = burst.folded_outcome(record, into, turn, now, versions)
        book.apply(key, note_decision(record, outcome, now))
        emits.append(outcome_emit(outcome))
    book.pieces.update(fold.pieces)
    return fold.records, emits


def _run_stages(
    hop: Hop,
    records: list[PipelineRecord],
    stages: StageFunctions,
    audit: Callable[[PipelineRecord, Outcome], AuditEvent] | None,
    book: StateBook | None,
    trace: HopTrace,
) -> list[Emit]:
    emits: list[Emit] = []
    for i, stage in enumerate(hop.stages):
        if stage.name in ("normalize", "gate"):
            continue
        process = (
            (lambda rs: _converse(rs, stages, book))
            if stage.name == "converse"
            else getattr(stages, stage.name)  # route, retrieve, resolve: the method of the stage's name
        )
        with trace.stage(stage.name, records, first=i == 0) as spans:
            records, failed = process_records(stage.name, records, process, versions=_versions(stages))
            spans.done(records)
        emits += failed
    if not hop.decides:
        return [*emits, *encode_next(records, trace.headers if trace.on else None)]
    decided = None if book is None else lambda r, o: book.apply(_key(r), note_decision(r, o, now_ms()))
    with trace.stage("gate", records, first=len(hop.stages) == 1) as spans:
        headers = trace.headers if trace.on else None
        decide = spans.deciding(stages.gate)
        return [*emits, *gate_records(records, decide, audit, decided, headers, _versions(stages))]


def _key(record: PipelineRecord) -> bytes:
    return record.ticket.conversation_id.encode()


def _converse(
    records: list[PipelineRecord], stages: StageFunctions, book: StateBook | None
) -> list[PipelineRecord]:
    unrouted = [r for r in records if r.route is None]  # a burst: routed again as a whole
    if unrouted:
        routed = {r.ticket.ticket_id: r for r in stages.route(unrouted)}
        records = [routed.get(r.ticket.ticket_id, r) for r in records]
    states = [book.get(_key(r)) if book is not None else None for r in records]
    out = stages.converse(records, states)
    if book is None:
        return out
    for i, record in enumerate(out):
        pieces = book.pieces.get(record.ticket.ticket_id, [])
        own_text = None
        if pieces and record.thread is not None:
            ids = [p.ticket.ticket_id for p in pieces]
            out[i] = record = record.model_copy(
                update={"thread": record.thread.model_copy(update={"burst": ids})}
            )
            own_text = record.ticket.text.removeprefix("\n".join(p.ticket.text for p in pieces) + "\n")
        book.apply(_key(record), note_customer_message(record, now_ms(), text=own_text))
    return out


def conversation_rounds(records: Sequence[PipelineRecord]) -> list[list[PipelineRecord]]:
    """``records`` in rounds holding at most one message per conversation, in their order."""
    rounds: list[list[PipelineRecord]] = []
    depth: dict[str, int] = {}
    for record in records:
        i = depth.get(record.ticket.conversation_id, 0)
        depth[record.ticket.conversation_id] = i + 1
        if i == len(rounds):
            rounds.append([])
        rounds[i].append(record)
    return rounds or [[]]
