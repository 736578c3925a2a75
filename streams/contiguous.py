"""Gapless reads for confluent-kafka consumers: a jump in offsets is read again before it is believed.

librdkafka moves a partition's position past whatever offsets a fetch jumps over. On Kafka that is
right (the log below the high watermark never changes; a jump is a transaction marker or a
compacted record), but the embedded broker, under concurrent producers, can serve a later batch
before an earlier one is readable (docs/embedded-broker.md), and a plain consumer skips those
records for good: an outcome never reaches the helpdesk, a flag change is never applied, a
benchmark counts a decided ticket as lost. :class:`ContiguousReads` applies the worker's rule
(:class:`~supportflow.streams.offsets.FetchTracker`) to such a consumer: records from a jump on are
held back, the partition is paused, and read again from the first missing offset a moment later;
only the same jump seen twice counts as a gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from confluent_kafka import Consumer, Message, TopicPartition

# The embedded broker's delay on every broker: these readers never consume transactional topics, so on
# Kafka a confirming re-read costs nothing in practice.
from supportflow.streams.offsets import EMBEDDED_GAP_CONFIRM_S, FetchTracker

Key = tuple[str, int]


class ContiguousReads:
    """Wraps a consumer: use its ``assign``/``subscribe``/``poll``/``consume`` instead of the consumer's."""

    def __init__(self, consumer: Consumer, confirm_s: float = EMBEDDED_GAP_CONFIRM_S) -> None:
        self.consumer = consumer
        self._fetches: FetchTracker[Key] = FetchTracker(confirm_s)
        self._reseek_at: dict[Key, tuple[float, int]] = {}
        self._buffer: list[Message] = []
        self.jumps = 0

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self.consumer.assign(list(partitions))
        for tp in partitions:
            self._fetches.seeking((tp.topic, tp.partition), tp.offset if tp.offset >= 0 else None)

    def subscribe(
        self, topics: list[str], on_revoke: Callable[[Consumer, list[TopicPartition]], None] | None = None
    ) -> None:
        def assigned(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            committed = consumer.committed(partitions, timeout=10) if partitions else []
            for tp in committed:
                self._fetches.seeking((tp.topic, tp.partition), tp.offset if tp.offset >= 0 else None)

        def revoked(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            gone = {(tp.topic, tp.partition) for tp in partitions}
            for key in gone:
                self._fetches.forget(key)
                self._reseek_at.pop(key, None)
            self._buffer = [m for m in self._buffer if (m.topic(), m.partition()) not in gone]
            if on_revoke is not None:
                on_revoke(consumer, partitions)

        self.consumer.subscribe(topics, on_assign=assigned, on_revoke=revoked)

    @property
    def rereading(self) -> bool:
        """A jumped-over range waits to be read again: the consumer's positions are not yet the truth."""
        return bool(self._reseek_at)

    def poll(self, timeout: float) -> Message | None:
        if not self._buffer:
            self._buffer = self.consume(100, timeout)
        return self._buffer.pop(0) if self._buffer else None

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        """Like ``Consumer.consume``; each partition's records come without unconfirmed jumps."""
        self._reseek_due()
        messages = self.consumer.consume(num_messages, timeout=timeout)
        offsets: dict[Key, list[int]] = {}
        for m in messages:
            if m.error() is None:
                offsets.setdefault((m.topic() or "", m.partition() or 0), []).append(m.offset() or 0)
        verdict = self._fetches.fetched(self._fetches.snapshot(), offsets)
        now = time.monotonic()
        for key, (offset, delay_s) in verdict.reseek.items():
            self.jumps += 1
            self.consumer.pause([TopicPartition(*key)])
            self._reseek_at[key] = (now + delay_s, offset)
        kept: list[Message] = []
        seen: dict[Key, int] = {}
        for m in messages:
            key = (m.topic() or "", m.partition() or 0)
            if m.error() is not None:
                if key not in self._reseek_at:  # an end-of-partition event means nothing while re-reading
                    kept.append(m)
                continue
            index = seen[key] = seen.get(key, -1) + 1
            if key in verdict.waiting or index >= verdict.keep.get(key, len(offsets[key])):
                continue
            kept.append(m)
        return kept

    def _reseek_due(self) -> None:
        now = time.monotonic()
        for key, (at, offset) in list(self._reseek_at.items()):
            if now < at:
                continue
            del self._reseek_at[key]
            self._fetches.seeking(key, offset)
            tp = TopicPartition(key[0], key[1], offset)
            self.consumer.seek(tp)
            self.consumer.resume([tp])

    def close(self) -> None:
        self.consumer.close()
