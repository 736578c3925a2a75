"""Prove the embedded-path workarounds against the real Tansu broker."""

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from supportflow.streams.tansu_quirks import FAST_GROUP_CONFIG, seed_group_offsets
from supportflow.streams.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


def _produce(bootstrap, topic, n):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, key=str(i % 101).encode(), value=f"{i}".encode())
    assert p.flush(30) == 0


def _consume_all(bootstrap, topic, group, expected, idle_s=8.0):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **FAST_GROUP_CONFIG,
        }
    )
    c.subscribe([topic])
    seen = set()
    import time

    last = time.monotonic()
    while len(seen) < expected and time.monotonic() - last < idle_s:
        batch = c.consume(1000, timeout=0.5)
        if batch:
            last = time.monotonic()
        seen.update(int(m.value()) for m in batch if not m.error())
    c.close()
    return seen


def test_seed_group_offsets_new_group_reads_every_record(broker, unique):
    topic, group = unique("quirk"), unique("group")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 4, "test")])
    _produce(broker.bootstrap, topic, 20_000)
    assert seed_group_offsets(broker.bootstrap, group, [topic]) == 4
    assert _consume_all(broker.bootstrap, topic, group, 20_000) == set(range(20_000))


def test_seed_group_offsets_committed_partitions_left_alone(broker, unique):
    topic, group = unique("quirk"), unique("group")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 2, "test")])
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    c.commit(offsets=[TopicPartition(topic, 0, 7)], asynchronous=False)
    c.close()
    assert seed_group_offsets(broker.bootstrap, group, [topic]) == 1
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    offsets = {
        tp.partition: tp.offset for tp in c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    }
    c.close()
    assert offsets == {0: 7, 1: 0}


def test_ensure_topics_explicit_partitions_not_broker_default(broker, unique):
    topic = unique("parts")
    assert ensure_topics(broker.bootstrap, [TopicSpec(topic, 3, "test")]) == [topic]
    assert ensure_topics(broker.bootstrap, [TopicSpec(topic, 3, "test")]) == []
    from confluent_kafka.admin import AdminClient

    meta = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert len(meta.topics[topic].partitions) == 3


def test_ensure_topics_partition_mismatch_raises_clear_error(broker, unique):
    from supportflow.schemas.errors import PermanentError

    topic = unique("mismatch")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 2, "test")])
    with pytest.raises(PermanentError, match="expected 5"):
        ensure_topics(broker.bootstrap, [TopicSpec(topic, 5, "test")])


def test_contiguous_reads_concurrent_producers_every_record_read_once(broker, unique):
    # Under concurrent producers Tansu can serve a later batch before an earlier one is readable; a
    # plain consumer then skips the earlier records for good. Read while three producers write.
    import threading
    import time

    from supportflow.streams.contiguous import ContiguousReads

    topic, per_producer = unique("jumps"), 15_000
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 4, "test")])

    def produce(worker: int) -> None:
        p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 2, "partitioner": "murmur2_random"})
        for i in range(per_producer):
            p.produce(topic, key=f"{worker}-{i % 97}".encode(), value=f"{worker}-{i}".encode())
            if i % 20 == 0:
                p.poll(0)
                time.sleep(0.001)
        assert p.flush(60) == 0

    reads = ContiguousReads(Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("g"),
                                      "enable.auto.commit": False, "fetch.wait.max.ms": 25}))  # fmt: skip
    reads.assign([TopicPartition(topic, p, 0) for p in range(4)])
    producers = [threading.Thread(target=produce, args=(w,)) for w in range(3)]
    for t in producers:
        t.start()
    values: list[str] = []
    deadline = time.monotonic() + 120
    while len(values) < 3 * per_producer and time.monotonic() < deadline:
        values += [m.value().decode() for m in reads.consume(500, timeout=0.2) if not m.error()]
    for t in producers:
        t.join()
    reads.close()
    expected = {f"{w}-{i}" for w in range(3) for i in range(per_producer)}
    assert len(values) == len(set(values)) == len(expected), f"{reads.jumps} jumps read again"
    assert set(values) == expected
