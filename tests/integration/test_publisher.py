"""The stage-output publisher against the real embedded broker: delivery and key placement."""

import asyncio

import pytest
from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer

from supportflow.streams.publisher import Publisher
from supportflow.streams.tansu_quirks import FAST_GROUP_CONFIG, seed_group_offsets
from supportflow.streams.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration

PARTITIONS = 4


def _java_partition(key: bytes) -> int:
    # Kafka's Java client (and aiokafka, which Faust used before) hash keys this way.
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def test_publisher_flush_records_on_broker_at_java_partition(broker, unique):
    topic, group = unique("pub"), unique("group")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, PARTITIONS, "test")])
    publisher = Publisher(broker.bootstrap)
    keys = [f"ticket-{i}".encode() for i in range(200)]

    async def run() -> None:
        for key in keys:
            await publisher.produce(topic, key, b"v:" + key)
        await publisher.flush()

    asyncio.run(run())
    assert publisher.close() == 0

    seed_group_offsets(broker.bootstrap, group, [topic])
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **FAST_GROUP_CONFIG,
        }
    )
    consumer.subscribe([topic])
    placed: dict[bytes, int] = {}
    try:
        for _ in range(60):
            for msg in consumer.consume(500, timeout=0.5):
                if not msg.error():
                    assert msg.value() == b"v:" + msg.key()
                    placed[msg.key()] = msg.partition()
            if len(placed) == len(keys):
                break
    finally:
        consumer.close()
    assert placed == {key: _java_partition(key) for key in keys}
