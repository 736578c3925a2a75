"""Where a shadow reads from, on the embedded broker: a new shadow group seeded at a time
(``worker --shadow --from``) and a replay's window of ingress (``shadow replay --from/--to``)."""

import time

import pytest
from confluent_kafka import TopicPartition

from supportflow.streams import kafka
from supportflow.streams.shadow import read_window, seed_group_start
from supportflow.streams.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


def _produce(bootstrap, topic, keys, timestamp_ms):
    producer = kafka.producer(bootstrap)
    for key in keys:
        producer.produce(topic, key=key.encode(), value=key.encode(), timestamp=timestamp_ms)
    assert producer.flush(10) == 0


def _committed(bootstrap, group, topic):
    consumer = kafka.consumer(bootstrap, group)
    try:
        return consumer.committed([TopicPartition(topic, p) for p in (0, 1)], timeout=10)
    finally:
        consumer.close()


def test_shadow_window_and_seeded_group_start_at_the_given_time(broker, unique):
    topic, group = unique("shadow-window"), unique("shadow-group")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 2, "test")])
    now = int(time.time() * 1000)
    early, middle, late = now - 60_000, now - 30_000, now - 10_000
    _produce(broker.bootstrap, topic, ["a1", "b1", "c1"], early)
    _produce(broker.bootstrap, topic, ["a2", "b2"], middle)
    _produce(broker.bootstrap, topic, ["a3"], late)

    # The embedded broker's offsets_for_times answers 0 for any time: read, as `worker --embedded-quirks` does.
    window = read_window(broker.bootstrap, topic, middle - 1_000, late - 1_000, time_index=False)
    seeded = seed_group_start(broker.bootstrap, group, topic, middle - 1_000, time_index=False)
    again = seed_group_start(broker.bootstrap, group, topic, now, time_index=False)
    at_end_group = unique("shadow-group")
    at_end = seed_group_start(broker.bootstrap, at_end_group, topic, now, time_index=False)
    committed = _committed(broker.bootstrap, group, topic)

    assert sorted(r.message.value for r in window) == [b"a2", b"b2"]
    assert {r.timestamp_ms for r in window} == {middle}
    assert seeded == 2 and again == 0  # a group with offsets resumes where it was
    assert sum(tp.offset for tp in committed) == 3  # each partition starts after its early records
    assert at_end == 2  # nothing written since: each partition starts at its end (6 records in all)
    assert sum(tp.offset for tp in _committed(broker.bootstrap, at_end_group, topic)) == 6
