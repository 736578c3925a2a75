"""Conversation state in a Faust table: read before a hop's batch, changed after it, on the event loop.

The table ``conversations`` maps a conversation id (the Kafka key of all its records, so its state
sits in the partition that decides it) to the JSON of :class:`~supportflow.processors.conversation.
state.ConversationState`. It is backed by the changelog topic ``<app_id>-conversations-changelog``
(compacted on Kafka) and recovered by Faust on start and after a rebalance, before the partition's
records are processed.

A hop runs on its own thread, but a Faust table may only be changed on the event loop from inside a
stream (the changelog record goes to the partition of the event being processed). So the agent reads
the values its batch needs into a :class:`StateBook` first, the hop's thread reads and changes the
book (messages of one conversation in one batch see each other's changes), and the agent then
applies the book's operations to the table, each under the partition of the message it came from.

Stores: ``memory://`` (the default; state is rebuilt from the changelog at start) or ``rocksdb://``
for deployments whose state must not have to fit in memory (Faust's RocksDB store via ``rocksdict``).
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from faust.streams import _current_event

from supportflow.processors.conversation.state import StateBook, load_state
from supportflow.settings import Settings
from supportflow.streams.kafka import partition_for
from supportflow.streams.topology import hops

log = logging.getLogger(__name__)

TABLE_NAME = "conversations"
#: Keys visited per sweep for expired conversations (spread over time, never one long pause).
SWEEP_BATCH = 5_000
SWEEP_INTERVAL_S = 600.0
#: Faust's RocksDB defaults allow each partition 3 x 64 MiB of unflushed writes and a 2 GiB block cache,
#: so a table of 100,000 conversations (~300 MB) sat in memory anyway. Smaller buffers keep it on disk.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 8 << 20,
    "max_write_buffer_number": 2,
    "block_cache_size": 32 << 20,
    "block_cache_compressed_size": 8 << 20,
}


@dataclass(frozen=True)
class _Message:
    topic: str
    partition: int


class _PartitionEvent:
    """Stands in for the Faust event a table change belongs to: Faust reads only its topic and partition."""

    def __init__(self, topic: str, partition: int) -> None:
        self.message = _Message(topic, partition)


@contextlib.contextmanager
def in_partition(topic: str, partition: int) -> Iterator[None]:
    """Table reads and writes inside go to ``topic``'s ``partition`` (its changelog and its store)."""
    event = _PartitionEvent(topic, partition)
    token = _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _current_event.reset(token)


def conversation_table(app: Any, settings: Settings) -> ConversationTable:
    """The app's ``conversations`` table (raw bytes in and out: the value is the state's own JSON)."""
    table = app.Table(
        TABLE_NAME, default=None, partitions=settings.topics.partitions, key_type=bytes, value_type=bytes,
        help="Conversation state by conversation id.", options=dict(ROCKSDB_OPTIONS) if settings.conversation.on_disk else None,
    )  # fmt: skip
    c, t = settings.conversation, settings.topics
    writers = [h for h in hops(settings.topology) if h.keeps_conversations]
    conversations = ConversationTable(
        table, t.full(t.routed), c.max_age_s, c.burst_window_s, merge=len(writers) > 1
    )

    @app.timer(interval=SWEEP_INTERVAL_S)
    async def sweep_conversations() -> None:
        changelog = table.changelog_topic.get_topic_name()
        active = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog}
        deleted = conversations.sweep(active)
        if deleted:
            log.info("deleted %d conversations idle for over %.0f s", deleted, c.max_age_s)

    return conversations


class ConversationTable:
    """The Faust table and the two moves around a batch: :meth:`book` before, :meth:`commit` after."""

    def __init__(
        self, table: Any, source_topic: str, max_age_s: float, burst_window_s: float = 0.0, merge: bool = True
    ) -> None:
        self.table = table
        #: More than one hop writes the table: operations are merged into its current values.
        self.merge = merge
        #: The topic whose partitions the table follows (the deciding hop's input).
        self.source_topic = source_topic
        self._cursor = 0  # where the next sweep continues
        self.max_age_ms = int(max_age_s * 1000)
        self.burst_window_ms = int(burst_window_s * 1000)

    def book(self, keys: dict[bytes, tuple[str, int]]) -> StateBook:
        """Values for ``keys`` (key -> the topic and partition of a message carrying it)."""
        values: dict[bytes, bytes | None] = {}
        for key, (topic, partition) in keys.items():
            with in_partition(topic, partition):
                values[key] = self.table.get(key)
        return StateBook(values, burst_window_ms=self.burst_window_ms)

    def commit(self, book: StateBook, keys: dict[bytes, tuple[str, int]]) -> None:
        """Write what ``book`` changed to the table.

        With one writing hop (the fused topology) nothing changed the values since the batch read
        them, so each changed key's final value is written once: one changelog record per
        conversation per batch. With several (per-stage: converse and gate in different hops), each
        operation is applied again to the value as it is now, in order, so they merge."""
        if not self.merge:
            for key in dict.fromkeys(k for k, _ in book.ops):
                topic, partition = keys[key]
                with in_partition(topic, partition):
                    self.table[key] = book.values[key]
            return
        for key, op in book.ops:
            topic, partition = keys[key]
            with in_partition(topic, partition):
                self.table[key] = op(self.table.get(key))

    def sweep(self, active_partitions: set[int], now_ms: int | None = None) -> int:
        """Delete conversations whose senders all wrote nothing within the age limit, in the partitions
        this worker decides (``active_partitions``: no other worker writes those keys meanwhile).
        Deleting writes a tombstone to the changelog, so compaction drops them on Kafka too. Returns
        how many were deleted; at most ``SWEEP_BATCH`` keys are looked at per call."""
        if not self.max_age_ms or not active_partitions:
            return 0
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        expired: list[tuple[bytes, int]] = []
        window = list(islice(self.table.items(), self._cursor, self._cursor + SWEEP_BATCH))
        if not window and self._cursor:  # every key was looked at: start the round again
            self._cursor = 0
            window = list(islice(self.table.items(), SWEEP_BATCH))
        for key, raw in window:
            partition = partition_for(key, self.table.partitions)
            if partition in active_partitions and idle_ms(raw, now_ms) > self.max_age_ms:
                expired.append((key, partition))
        for key, partition in expired:
            with in_partition(self.source_topic, partition):
                del self.table[key]
        self._cursor += len(window) - len(expired)  # the deleted keys were before the cursor
        return len(expired)


def idle_ms(raw: bytes | None, now_ms: int) -> int:
    """How long no sender of the conversation wrote (by when supportflow last changed their thread)."""
    newest = max((t.updated_at_ms for t in load_state(raw).senders.values()), default=0)
    return now_ms - newest
