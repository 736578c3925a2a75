"""Read outcomes and dead letters back: for the demo, evals, audits and tests.

Reads by explicit assignment from offset 0 (no consumer group): each caller sees everything, and Tansu's
wrong "earliest"/"latest" ListOffsets answers never come into play.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from confluent_kafka import TopicPartition

from supportflow.schemas import wire
from supportflow.schemas.errors import SchemaError
from supportflow.schemas.models import DeadLetter, InboundEvent, Outcome, PipelineRecord
from supportflow.streams import kafka
from supportflow.streams.contiguous import ContiguousReads
from supportflow.streams.handlers import Message


@dataclass
class Collected:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0
    undecodable: int = 0
    #: (monotonic arrival time, outcomes partition) per outcome record, duplicates included.
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    #: After a run: expected tickets and events with no outcome and no dead letter (see :meth:`missing`).
    unaccounted: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes) + len(self.dead_letters)

    def missing(self, ticket_ids: Iterable[str], dead_letter_events: Iterable[str]) -> list[str]:
        """The accounting invariant: every expected ticket ends as an outcome or a dead letter, and
        every unparsable event as a dead letter. Returns what did not, by name (``ticket:<id>``,
        ``event:<id>``)."""
        lettered = {_letter_identity(d) for d in self.dead_letters}
        return [
            *(f"ticket:{t}" for t in sorted(set(ticket_ids) - self.outcomes.keys() - lettered)),
            *(f"event:{e}" for e in sorted(set(dead_letter_events) - lettered)),
        ]


def _letter_identity(letter: DeadLetter) -> str | None:
    """The ticket id (a later stage's letter) or the event id (normalize's) a dead letter stands for."""
    for model, identity in (
        (PipelineRecord, lambda r: r.ticket.ticket_id),
        (InboundEvent, lambda e: e.event_id),
    ):
        try:
            return str(identity(wire.decode(letter.original, model)))
        except SchemaError:
            continue
    return None


class OutcomeReader:
    def __init__(
        self, bootstrap: str, outcomes_topic: str, dead_letter_topic: str, since_ms: int = 0
    ) -> None:
        """``since_ms`` skips records written before it (a reused broker still holds older runs)."""
        self._topics = (outcomes_topic, dead_letter_topic)
        self._since_ms = since_ms
        self._consumer = ContiguousReads(kafka.consumer(bootstrap, **{"fetch.wait.max.ms": 100}))
        meta = self._consumer.consumer.list_topics(timeout=10)
        self._consumer.assign(
            [TopicPartition(t, p, 0) for t in self._topics for p in sorted(meta.topics[t].partitions)]
        )
        self.collected = Collected()
        self._earlier: set[str] = set()  # tickets decided before the current window

    def start_window(self) -> None:
        """Count afresh from here (after a canary or a warm-up): what arrived so far is set aside,
        and a late redelivery of it counts as a duplicate, not as a new outcome."""
        self._earlier |= self.collected.outcomes.keys()
        self.collected = Collected()

    def poll(self, timeout_s: float = 0.2) -> int:
        """Read what is available; returns how many new records arrived."""
        new = 0
        for msg in self._consumer.consume(500, timeout=timeout_s):
            if msg.error():
                continue
            _kind, timestamp = msg.timestamp()
            if self._since_ms and 0 < timestamp < self._since_ms:
                continue
            new += 1
            value = msg.value() or b""
            try:
                if msg.topic() == self._topics[0]:
                    outcome = wire.decode(value, Outcome)
                    self.collected.arrivals.append((time.monotonic(), msg.partition() or 0))
                    if outcome.ticket_id in self.collected.outcomes or outcome.ticket_id in self._earlier:
                        self.collected.duplicates += 1  # at-least-once redelivery: keep the first
                    else:
                        self.collected.outcomes[outcome.ticket_id] = outcome
                else:
                    self.collected.dead_letters.append(wire.decode(value, DeadLetter))
            except SchemaError:
                self.collected.undecodable += 1
        return new

    def wait_for(
        self,
        expected: int,
        timeout_s: float,
        on_progress: Callable[[Collected], None] | None = None,
        settle_s: float = 0.0,
    ) -> Collected:
        """Poll until ``expected`` outcomes + dead letters arrived (then ``settle_s`` more for duplicates)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.collected.total < expected:
            if self.poll() and on_progress:
                on_progress(self.collected)
        settle_until = time.monotonic() + settle_s
        while time.monotonic() < settle_until:
            self.poll()
        return self.collected

    def close(self) -> None:
        self._consumer.close()


def read_messages(bootstrap: str, topic: str, idle_s: float = 1.0, timeout_s: float = 60.0) -> list[Message]:
    """Every record of ``topic`` from offset 0 to the end, with its partition and offset.

    The end is the high watermark carried by Fetch responses (``cached=True``): Tansu's ListOffsets
    "latest" answer is wrong, and real Kafka gives the same number either way.
    """
    reads = ContiguousReads(kafka.consumer(bootstrap, **{"fetch.wait.max.ms": 100}))
    consumer = reads.consumer
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        tps = [TopicPartition(topic, p, 0) for p in sorted(meta.partitions)]
        reads.assign(tps)
        records: list[Message] = []
        deadline = time.monotonic() + timeout_s
        last_data = time.monotonic()
        while time.monotonic() < deadline:
            batch = [m for m in reads.consume(1000, timeout=0.2) if not m.error()]
            records += [
                Message(m.topic() or topic, m.partition() or 0, m.offset() or 0, m.key(), m.value() or b"")
                for m in batch
            ]
            if batch:
                last_data = time.monotonic()
            positions = consumer.position(tps)
            caught_up = not reads.rereading and all(
                pos.offset >= consumer.get_watermark_offsets(tp, cached=True)[1] >= 0
                for tp, pos in zip(tps, positions, strict=True)
            )
            if caught_up or time.monotonic() - last_data > idle_s:
                break
        return records
    finally:
        consumer.close()


def read_to_end(
    bootstrap: str, topic: str, idle_s: float = 1.0, timeout_s: float = 60.0
) -> list[tuple[bytes | None, bytes]]:
    """Every (key, value) of ``topic`` from offset 0 to the end (see :func:`read_messages`)."""
    return [(m.key, m.value) for m in read_messages(bootstrap, topic, idle_s, timeout_s)]
