"""Shadow mode: a candidate router or policy decides the live traffic beside the live worker, and its
decisions go only to ``outcomes.shadow``.

A shadow worker is the ordinary worker with derived settings (:func:`shadow_settings`): its own
consumer group (``<app_id>-shadow``), so it reads every ingress record the live group reads without
taking any from it; its own hop topics (``<prefix>.shadow.tickets.*``: the live worker consumes the
live ones), its own conversation changelog (named after its app id), and outcomes, audit events and
dead letters on ``outcomes.shadow``, ``audit.shadow`` and ``deadletter.shadow``. Egress, ``dlq
replay`` and everything else that acts on live topics never see a shadow record. It reads the control
topic like the live worker (a kill switch holds the shadow's auto-sends too, so the comparison stays
like for like) and writes none. :func:`check_isolated` refuses to start a shadow whose settings would
write any topic the live pipeline uses.

:func:`replay_window` re-decides a past window of ingress (``--from``/``--to``, within Kafka
retention) in this process and writes the outcomes to ``outcomes.shadow``: the candidate judged on
last week's real tickets without waiting a week.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from supportflow.processors.conversation.state import StateBook
from supportflow.schemas.errors import PermanentError
from supportflow.settings import Settings
from supportflow.streams import kafka
from supportflow.streams.contiguous import ContiguousReads
from supportflow.streams.handlers import Emit, Message, Sink
from supportflow.streams.topics import FAUST_TABLES
from supportflow.streams.topology import StageFunctions, hops, run_hop

log = logging.getLogger(__name__)

#: What a shadow's app id, hop topics, audit and dead-letter topics are marked with.
SHADOW = "shadow"
#: The hop topics (``TopicSettings`` fields) between the first and the last stage.
HOP_TOPICS = ("tickets", "routed", "retrieved", "resolved")


def shadow_settings(settings: Settings) -> Settings:
    """The settings of the shadow worker beside the live pipeline configured by ``settings``."""
    t = settings.topics
    topics = t.model_copy(
        update={
            **{name: f"{SHADOW}.{getattr(t, name)}" for name in HOP_TOPICS},
            "outcomes": t.outcomes_shadow,
            "dead_letter": f"{t.dead_letter}.{SHADOW}",
            "audit": f"{t.audit}.{SHADOW}",
        }
    )
    return settings.model_copy(
        update={"app_id": f"{settings.app_id}-{SHADOW}", "topics": topics, "shadow": True}
    )


def written_topics(settings: Settings) -> set[str]:
    """Every topic a worker with ``settings`` produces to (its Faust changelogs included)."""
    t = settings.topics
    names = {t.full(getattr(t, n)) for n in (*HOP_TOPICS, "outcomes", "dead_letter", "audit")}
    return names | {f"{settings.app_id}-{table}-changelog" for table in FAUST_TABLES}


def live_topics(live: Settings) -> set[str]:
    """Every topic the live pipeline reads or writes, and what acts on its outcomes reads."""
    t = live.topics
    return written_topics(live) | {t.full(t.ingress), t.full(t.control), t.full(t.feedback)}


def check_isolated(live: Settings, shadow: Settings) -> None:
    """Raise :class:`PermanentError` when the shadow would write a live topic or join the live group."""
    if shadow.app_id == live.app_id:
        raise PermanentError(f"shadow app id {shadow.app_id!r} is the live one: it would take live records")
    clash = sorted(written_topics(shadow) & live_topics(live))
    if clash:
        raise PermanentError(
            f"shadow worker would write live topics {', '.join(clash)}; check SUPPORTFLOW_TOPICS__*"
        )


@dataclass(frozen=True)
class WindowRecord:
    message: Message
    timestamp_ms: int


def read_window(
    bootstrap: str,
    topic: str,
    from_ms: int,
    to_ms: int,
    *,
    timeout_s: float = 120.0,
    idle_s: float = 2.0,
    time_index: bool = True,
) -> list[WindowRecord]:
    """The records of ``topic`` written in ``[from_ms, to_ms]``, per partition in offset order.

    Each partition starts at the broker's offset for ``from_ms`` (``offsets_for_times``; from 0 when
    the broker gives none, or with ``time_index=False``: the embedded broker answers 0 for any time),
    and is read until a record past ``to_ms`` or the end of the log; earlier records are skipped.
    """
    reads = ContiguousReads(kafka.consumer(bootstrap, **{"fetch.wait.max.ms": 100}))
    consumer = reads.consumer
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            raise PermanentError(f"topic {topic} does not exist on {bootstrap}")
        wanted = [TopicPartition(topic, p, from_ms) for p in sorted(meta.partitions)]
        try:
            starts = consumer.offsets_for_times(wanted, timeout=10) if time_index else []
        except Exception:  # a broker without timestamp lookups: scan from the start and filter
            starts = []
        start_at = {tp.partition: tp.offset for tp in starts if tp.offset >= 0}
        tps = [TopicPartition(topic, p, start_at.get(p, 0)) for p in sorted(meta.partitions)]
        reads.assign(tps)
        return _read_until(reads, tps, from_ms, to_ms, timeout_s, idle_s)
    finally:
        consumer.close()


def _read_until(
    reads: ContiguousReads,
    tps: list[TopicPartition],
    from_ms: int,
    to_ms: int,
    timeout_s: float,
    idle_s: float,
) -> list[WindowRecord]:
    consumer = reads.consumer
    out: list[WindowRecord] = []
    done: set[int] = set()
    deadline = time.monotonic() + timeout_s
    last_data = time.monotonic()
    while time.monotonic() < deadline and len(done) < len(tps):
        batch = [m for m in reads.consume(1000, timeout=0.2) if not m.error()]
        for m in batch:
            partition = m.partition() or 0
            _kind, ts = m.timestamp()
            if partition in done or ts < from_ms:
                continue
            if ts > to_ms:
                done.add(partition)
                continue
            msg = Message(m.topic() or "", partition, m.offset() or 0, m.key(), m.value() or b"")
            out.append(WindowRecord(msg, ts))
        if batch:
            last_data = time.monotonic()
        for tp, pos in zip(tps, consumer.position(tps), strict=True):
            if not reads.rereading and pos.offset >= consumer.get_watermark_offsets(tp, cached=True)[1] >= 0:
                done.add(tp.partition)
        if time.monotonic() - last_data > idle_s:
            break
    return out


@dataclass
class ReplayResult:
    read: int = 0
    outcomes: int = 0
    dead_letters: int = 0


def replay_window(
    records: list[WindowRecord],
    settings: Settings,
    stages: StageFunctions,
    produce: Callable[[bytes | None, bytes], None],
    *,
    batch: int = 64,
) -> ReplayResult:
    """Decide ``records`` (ingress, in time order) through every hop in memory; each outcome goes to
    ``produce(key, value)``. Audit events and dead letters are counted, not written: a replay is
    for comparing decisions, and the live run already has both. Every message is decided on its own
    (no burst window: a replay cannot reproduce when each message arrived); conversation state is
    kept across the window, so a reply still sees its earlier turns."""
    result = ReplayResult(read=len(records))
    ordered = sorted(records, key=lambda r: (r.timestamp_ms, r.message.partition, r.message.offset))
    book = StateBook()
    seen: set[str] = set()

    def check_and_add(ticket_id: str) -> bool:
        known = ticket_id in seen
        seen.add(ticket_id)
        return known

    for start in range(0, len(ordered), batch):
        messages = [r.message for r in ordered[start : start + batch]]
        for hop in hops(settings.topology):
            book.ops.clear()
            emits, _dupes = run_hop(hop, messages, stages, check_and_add, None, book)
            messages = _next_messages(emits, result, produce)
    return result


def _next_messages(
    emits: list[Emit], result: ReplayResult, produce: Callable[[bytes | None, bytes], None]
) -> list[Message]:
    forward: list[Message] = []
    for emit in emits:
        if emit.sink == Sink.NEXT:
            forward.append(Message("replay", 0, len(forward), emit.key, emit.value))
        elif emit.sink == Sink.OUTCOME:
            produce(emit.key, emit.value)
            result.outcomes += 1
        elif emit.sink == Sink.DEAD_LETTER:
            result.dead_letters += 1
    return forward


def seed_group_start(
    bootstrap: str, group: str, topic: str, from_ms: int, *, time_index: bool = True, timeout_s: float = 10.0
) -> int:
    """Commit, for each partition of ``topic`` that ``group`` has no offset for, the first offset at or
    after ``from_ms``, so a new shadow group starts there instead of at the start of retention.
    Returns how many partitions were seeded; a group that already has offsets resumes where it was.
    ``time_index=False`` finds the offsets by reading the partitions (the embedded broker's
    ``offsets_for_times`` answers 0 for any time)."""
    consumer = kafka.consumer(bootstrap, group)
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None:
            raise PermanentError(f"topic {topic} does not exist on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
        fresh = [tp for tp in consumer.committed(tps, timeout=timeout_s) if tp.offset < 0]
        if not fresh:
            return 0
        wanted = [TopicPartition(topic, tp.partition, from_ms) for tp in fresh]
        starts = (
            consumer.offsets_for_times(wanted, timeout=timeout_s)
            if time_index
            else _first_offsets(bootstrap, topic, wanted, from_ms)
        )
        # -1: nothing that recent in the partition yet; start at its end (the high watermark).
        seeded = [
            TopicPartition(topic, s.partition, s.offset if s.offset >= 0 else _end(consumer, s, timeout_s))
            for s in starts
        ]
        consumer.commit(offsets=seeded, asynchronous=False)
        log.info("seeded %d partitions of group %s at %d ms", len(seeded), group, from_ms)
        return len(seeded)
    finally:
        consumer.close()


def _end(consumer: Consumer, tp: TopicPartition, timeout_s: float) -> int:
    return int(consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=timeout_s)[1])


def _first_offsets(
    bootstrap: str, topic: str, wanted: list[TopicPartition], from_ms: int
) -> list[TopicPartition]:
    """Per partition of ``wanted``, the first offset written at or after ``from_ms``, else its end,
    found by reading it (the embedded broker's ListOffsets answers are wrong for times and the end)."""
    first: dict[int, int] = {}
    end: dict[int, int] = {}
    for record in read_window(bootstrap, topic, 0, 2**62, time_index=False):
        m = record.message
        end[m.partition] = max(end.get(m.partition, 0), m.offset + 1)
        if record.timestamp_ms >= from_ms:
            first[m.partition] = min(first.get(m.partition, m.offset), m.offset)
    return [
        TopicPartition(topic, tp.partition, first.get(tp.partition, end.get(tp.partition, 0)))
        for tp in wanted
    ]
