"""The stage-output publisher against the real embedded broker: delivery and key placement."""

import asyncio
import subprocess
import sys

import pytest
from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer

from supportflow.evals.bench import bench_events
from supportflow.processors.channels import parse_event
from supportflow.settings import get_settings
from supportflow.streams.collect import OutcomeReader
from supportflow.streams.embedded import EmbeddedBroker
from supportflow.streams.ingest import publish_events
from supportflow.streams.publisher import Publisher
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.tansu_quirks import FAST_GROUP_CONFIG, seed_group_offsets
from supportflow.streams.topics import TopicSpec, ensure_topics, pipeline_topics

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


# A worker whose publisher cannot deliver (it points at a closed port, records time out after 1 s).
_BROKEN_WORKER = """
import sys
from supportflow.streams import publisher
real_init = publisher.Publisher.__init__
def unreachable(self, bootstrap, **kwargs):
    real_init(self, "127.0.0.1:1", config={"message.timeout.ms": 1000})
publisher.Publisher.__init__ = unreachable
from supportflow.connectors.crm import open_crm
from supportflow.settings import get_settings
from supportflow.streams.worker import run_worker
run_worker(get_settings(), sys.argv[1], crm=open_crm(get_settings()), embedded=True, kb_in_memory=True)
"""


@pytest.mark.slow
def test_worker_outputs_undeliverable_crashes_uncommitted_then_next_worker_decides_all(tmp_path):
    settings = get_settings()
    t = settings.topics
    events = bench_events(20)
    expected = {ticket.ticket_id for e in events for ticket in parse_event(e, e.received_at_ms)}
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, pipeline_topics(settings))
        reader = OutcomeReader(broker.bootstrap, t.full(t.outcomes), t.full(t.dead_letter))
        log = tmp_path / "broken.log"
        with log.open("w") as out:
            broken = subprocess.Popen(
                [sys.executable, "-c", _BROKEN_WORKER, broker.bootstrap], stdout=out, stderr=subprocess.STDOUT
            )
            publish_events(broker.bootstrap, t.full(t.ingress), events)
            try:
                code = broken.wait(timeout=180)
            finally:
                broken.kill()
        assert code != 0
        assert "PublishError" in log.read_text()

        worker = WorkerProcess(broker.bootstrap, embedded=True, log_path=tmp_path / "worker.log")
        try:
            collected = reader.wait_for(len(expected), timeout_s=180)
        finally:
            stop_all([worker])
            reader.close()
    assert set(collected.outcomes) == expected  # nothing was committed past the lost outputs
