"""The feedback join: a Faust app of its own that joins ``feedback`` to ``outcomes`` and exports metrics.

Why its own app (app id ``<app_id>-feedback``) and not one more agent of the pipeline worker: outcomes
are keyed by conversation and feedback by ticket, so the two topics are not co-partitioned, and a
worker of the pipeline's group would see only some of each. The join runs as ONE process that reads
every partition of both topics (``supportflow feedback join``); its load is one outcome and a few
feedback records per ticket, far below one core.

State: the Faust table ``feedback_join`` (ticket key -> :class:`~supportflow.processors.feedback.join.
Entry` JSON), backed by the compacted changelog ``<app_id>-feedback-feedback_join-changelog`` and
recovered at start. Each key is written under its own partition of the feedback topic, so the
changelog is partitioned like the feedback it joins. Entries untouched for ``feedback.join_max_age_s``
are deleted by a timer (tombstones, so compaction drops them on Kafka too).

Delivery: at-least-once. An offset is committed only after its record was handled and any dead letter
flushed; a redelivered feedback is recognised by its id in the entry and counted once.
"""

from __future__ import annotations

import logging
import time
from itertools import islice
from typing import Any

import faust

from supportflow.processors.feedback.join import Entry, FeedbackJoin, Joined, expired, path_of
from supportflow.processors.feedback.measure import measure
from supportflow.schemas import wire
from supportflow.schemas.errors import SchemaError
from supportflow.schemas.models import Feedback, Outcome
from supportflow.settings import Settings
from supportflow.streams import metrics
from supportflow.streams.conversations import in_partition
from supportflow.streams.handlers import Message, dead_letter
from supportflow.streams.kafka import partition_for
from supportflow.streams.metrics import (
    CSAT_RATINGS,
    DRAFTS,
    EDIT_DISTANCE,
    FEEDBACK,
    FEEDBACK_OUTCOMES,
    FEEDBACK_UNJOINED,
)
from supportflow.streams.offsets import EMBEDDED_GAP_CONFIRM_S, GAP_CONFIRM_S
from supportflow.streams.publisher import Publisher
from supportflow.streams.tansu_quirks import seed_group_offsets
from supportflow.streams.topics import TopicSpec, ensure_topics, pipeline_topics
from supportflow.streams.transport import PipelineApp

log = logging.getLogger(__name__)

TABLE_NAME = "feedback_join"
SWEEP_INTERVAL_S = 600.0
SWEEP_BATCH = 5_000
STAGE = "feedback"


def join_app_id(settings: Settings) -> str:
    return f"{settings.app_id}-feedback"


def join_topics(settings: Settings) -> list[TopicSpec]:
    """The feedback topic and the join table's changelog (outcomes and dead letters are the pipeline's).

    Not in :func:`~supportflow.streams.topics.pipeline_topics`: the pipeline's workers and their ACLs
    never touch them; the join and the ingress service's feedback routes do.
    """
    t = settings.topics
    n, rf = t.partitions, t.replication_factor
    changelog = f"{join_app_id(settings)}-{TABLE_NAME}-changelog"
    return [
        TopicSpec(
            t.full(t.feedback), n, "feedback on decided tickets, keyed by ticket id", replication_factor=rf
        ),
        TopicSpec(
            changelog, n, "Faust changelog of the feedback join", compacted=True, replication_factor=rf
        ),
    ]


def observe(joined: Joined) -> None:
    m = measure(joined)
    intent = metrics.intent_label(m.intent)
    FEEDBACK.labels(path=m.path, intent=intent, kind=str(m.kind)).inc()
    if m.satisfied is not None:
        CSAT_RATINGS.labels(path=m.path, intent=intent, satisfied=str(m.satisfied).lower()).inc()
    if m.edit_distance is not None:
        DRAFTS.labels(path=m.path, intent=intent, accepted=str(m.accepted).lower()).inc()
        EDIT_DISTANCE.labels(path=m.path).observe(m.edit_distance)


class TableStore:
    """The join's store on a Faust table: each key read and written in its feedback-topic partition."""

    def __init__(self, table: Any, topic: str, partitions: int) -> None:
        self.table, self.topic, self.partitions = table, topic, partitions
        self._cursor = 0  # where the next sweep continues

    def partition(self, key: str) -> int:
        return partition_for(key.encode(), self.partitions)

    def get(self, key: str) -> bytes | None:
        with in_partition(self.topic, self.partition(key)):
            value: bytes | None = self.table.get(key.encode())
            return value

    def put(self, key: str, value: bytes) -> None:
        with in_partition(self.topic, self.partition(key)):
            self.table[key.encode()] = value

    def sweep(self, now_ms: int, max_age_ms: int) -> tuple[int, int]:
        """Delete the entries nobody touched within ``max_age_ms`` among the next ``SWEEP_BATCH`` keys
        (a cursor walks the table over successive sweeps); returns how many, and how many pending
        feedback records (never joined) went with them."""
        window = list(islice(self.table.items(), self._cursor, self._cursor + SWEEP_BATCH))
        if not window and self._cursor:  # every key was looked at: start the round again
            self._cursor = 0
            window = list(islice(self.table.items(), SWEEP_BATCH))
        stale = [(k, v) for k, v in window if expired(v, now_ms, max_age_ms)]
        for key, _value in stale:
            with in_partition(self.topic, partition_for(key, self.partitions)):
                del self.table[key]
        self._cursor += len(window) - len(stale)  # the deleted keys were before the cursor
        return len(stale), sum(len(Entry.loads(v).pending) for _k, v in stale)


class JoinHandler:
    """One record of either topic through the join; returns a dead letter's (key, value) if it failed."""

    def __init__(self, join: FeedbackJoin, outcomes_topic: str) -> None:
        self.join, self.outcomes_topic = join, outcomes_topic

    def handle(self, msg: Message, now_ms: int) -> tuple[bytes | None, bytes] | None:
        before = (self.join.counts.duplicates, self.join.counts.pending_dropped)
        try:
            if msg.topic == self.outcomes_topic:
                outcome = wire.decode(msg.value, Outcome)
                FEEDBACK_OUTCOMES.labels(
                    path=path_of(outcome.decision), intent=metrics.intent_label(outcome.intent)
                ).inc()
                joined = self.join.add_outcome(outcome, now_ms)
            else:
                joined = self.join.add_feedback(wire.decode(msg.value, Feedback), now_ms)
        except SchemaError as exc:
            emit = dead_letter(STAGE, msg, exc)
            return emit.key, emit.value
        for pair in joined:
            observe(pair)
        duplicates, dropped = (
            self.join.counts.duplicates - before[0],
            self.join.counts.pending_dropped - before[1],
        )
        if duplicates:
            FEEDBACK_UNJOINED.labels(reason="duplicate").inc(duplicates)
        if dropped:
            FEEDBACK_UNJOINED.labels(reason="pending_dropped").inc(dropped)
        return None


def build_join_app(settings: Settings, bootstrap: str) -> PipelineApp:
    t = settings.topics
    session_s = settings.session_timeout_s
    datadir = settings.data_dir / "tables" / join_app_id(settings)
    datadir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = PipelineApp(
        join_app_id(settings), broker=f"kafka://{bootstrap}", key_serializer="raw", value_serializer="raw",
        topic_partitions=t.partitions, topic_allow_declare=False, consumer_auto_offset_reset="earliest",
        broker_session_timeout=session_s, broker_heartbeat_interval=max(1.0, session_s / 6),
        broker_commit_interval=1.0, web_enabled=False, store="memory://",
        datadir=str(datadir),
    )  # fmt: skip
    app.publisher = publisher = Publisher(bootstrap, linger_ms=2)
    table = app.Table(TABLE_NAME, default=None, partitions=t.partitions, key_type=bytes, value_type=bytes)
    store = TableStore(table, t.full(t.feedback), t.partitions)
    handler = JoinHandler(FeedbackJoin(store), t.full(t.outcomes))
    dead_letters = t.full(t.dead_letter)
    max_age_ms = int(settings.feedback.join_max_age_s * 1000)

    async def join_agent(stream: faust.StreamT) -> None:
        manual = stream.noack()  # type: ignore[attr-defined]
        async for event in manual.events():
            m = event.message
            failed = handler.handle(
                Message(m.topic, m.partition, m.offset, m.key, event.value), int(time.time() * 1000)
            )
            if failed is not None:
                await publisher.produce(dead_letters, *failed)
            app.processed(m)
            await manual.ack(event)

    source = app.topic(
        t.full(t.outcomes), t.full(t.feedback), partitions=t.partitions, key_type=bytes, value_type=bytes
    )
    app.agent(source, name="feedback-join")(join_agent)

    @app.timer(interval=SWEEP_INTERVAL_S)
    async def sweep_join() -> None:
        deleted, unjoined = store.sweep(int(time.time() * 1000), max_age_ms)
        FEEDBACK_UNJOINED.labels(reason="expired").inc(unjoined)
        if deleted:
            log.info(
                "feedback join: dropped %d entries older than %.0f s",
                deleted,
                settings.feedback.join_max_age_s,
            )

    return app


def run_feedback_join(settings: Settings, bootstrap: str, *, embedded: bool) -> None:
    """Blocks until SIGTERM/SIGINT: topics, metrics endpoint, then the join app."""
    ensure_topics(bootstrap, pipeline_topics(settings) + join_topics(settings))
    t = settings.topics
    sources = [t.full(t.outcomes), t.full(t.feedback)]
    if embedded:
        seed_group_offsets(bootstrap, join_app_id(settings), sources)
    metrics.start_metrics_server(settings.metrics_port)
    app = build_join_app(settings, bootstrap)
    app.consumer.start_unknown_at_zero = embedded
    app.consumer.fetches.confirm_s = EMBEDDED_GAP_CONFIRM_S if embedded else GAP_CONFIRM_S
    for name in ("faust.topics", "faust.transport.drivers.aiokafka", "aiokafka.producer.producer"):
        logging.getLogger(name).setLevel(logging.INFO)  # they log record values (edited text) at DEBUG
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        if app.publisher is not None:
            app.publisher.close()
