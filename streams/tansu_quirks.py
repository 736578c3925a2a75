"""Workarounds for Tansu 0.6.0 defects (docs/embedded-broker.md), applied on the embedded path only.

- ListOffsets "earliest" is sometimes wrong, so a new consumer group with ``auto.offset.reset=earliest``
  can silently skip records. :func:`seed_group_offsets` commits offset 0 for every partition the group
  has no committed offset for, so the group starts from the true beginning. (Memory storage never
  deletes records, so 0 is the log start.) Real Kafka never gets this: retention moves the log start.
- ListOffsets "latest" is wrong too, so "read to the end" uses the high watermark that Fetch responses
  carry (:func:`high_watermarks` via a consumer's cached watermarks), never ListOffsets.
- JoinGroup is held ~session.timeout/2: short session timeouts keep the first message fast.
- KIP-848 ``group.protocol=consumer`` is unsupported: only the classic protocol is used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from supportflow.schemas.errors import TransientError
from supportflow.streams import kafka

log = logging.getLogger(__name__)

#: Consumer settings that keep group joins fast on Tansu (and are harmless elsewhere).
FAST_GROUP_CONFIG = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def _partitions(consumer: Consumer, topics: Iterable[str], timeout_s: float) -> list[TopicPartition]:
    meta = consumer.list_topics(timeout=timeout_s)
    tps = []
    for topic in topics:
        info = meta.topics.get(topic)
        if info is None or info.error is not None:
            raise TransientError(f"topic {topic} not found on the broker")
        tps += [TopicPartition(topic, p) for p in sorted(info.partitions)]
    return tps


def seed_group_offsets(bootstrap: str, group_id: str, topics: Iterable[str], timeout_s: float = 10.0) -> int:
    """Commit offset 0 for each partition of ``topics`` that ``group_id`` has not committed yet.

    Returns how many partitions were seeded. Idempotent: committed partitions are left alone.
    """
    consumer = kafka.consumer(bootstrap, group_id)
    try:
        tps = _partitions(consumer, topics, timeout_s)
        committed = consumer.committed(tps, timeout=timeout_s)
        fresh = [TopicPartition(tp.topic, tp.partition, 0) for tp in committed if tp.offset < 0]
        if fresh:
            consumer.commit(offsets=fresh, asynchronous=False)
            log.info("seeded %d partitions of group %s at offset 0", len(fresh), group_id)
        return len(fresh)
    except KafkaException as exc:
        raise TransientError(f"cannot seed offsets for group {group_id}: {exc}") from exc
    finally:
        consumer.close()
