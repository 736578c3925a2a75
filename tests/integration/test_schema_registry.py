"""The pipeline's stages with a schema registry configured, on the embedded broker: every hop's records
cross Kafka in Confluent framing, and the outcome is read by a plain confluent-kafka AvroDeserializer,
as a third-party consumer would.

No registry server runs here: ``mock://`` is confluent-kafka's in-memory registry, one per client, so the
hops run in this process (a ``supportflow worker`` subprocess would hold a registry of its own).
"""

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from supportflow.connectors.crm import open_crm
from supportflow.evals.bench import bench_events
from supportflow.processors.audit import audit_event
from supportflow.schemas import registry, wire
from supportflow.schemas.models import Outcome
from supportflow.settings import SchemaRegistrySettings, Settings, TopicSettings
from supportflow.streams import kafka
from supportflow.streams.collect import read_messages
from supportflow.streams.handlers import Sink
from supportflow.streams.ingest import publish_events
from supportflow.streams.runtime import Runtime, SeenTickets
from supportflow.streams.topics import ensure_topics, pipeline_topics
from supportflow.streams.topology import hops, run_hop

pytestmark = pytest.mark.integration

TICKETS = 3


@pytest.fixture
def settings(unique) -> Iterator[Settings]:
    configured = Settings(
        topics=TopicSettings(prefix=unique("sr"), partitions=1),
        schema_registry=SchemaRegistrySettings(url=f"mock://{uuid.uuid4().hex}"),
    )
    yield configured
    registry.configure(Settings(schema_registry=SchemaRegistrySettings()))  # the own header again


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = kafka.producer(bootstrap)
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def test_schema_registry_pipeline_outcome_read_by_plain_avro_deserializer(broker, settings):
    bootstrap, t = broker.bootstrap, settings.topics
    ensure_topics(bootstrap, pipeline_topics(settings))
    runtime = Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)  # configures the codec
    assert isinstance(wire._codec, registry.RegistryCodec)
    events = bench_events(TICKETS)
    assert publish_events(bootstrap, t.full(t.ingress), events) == TICKETS

    seen = SeenTickets().check_and_add
    for hop in hops("fused"):
        messages = read_messages(bootstrap, t.full(getattr(t, hop.reads)))
        assert messages and all(m.value[0] == 0 for m in messages)  # Confluent framing on every hop
        emits, _ = run_hop(hop, messages, runtime, seen, audit_event)
        assert not [e for e in emits if e.sink == Sink.DEAD_LETTER]
        sink, topic = (Sink.OUTCOME, t.outcomes) if hop.decides else (Sink.NEXT, getattr(t, hop.writes))
        _produce(bootstrap, t.full(topic), [(e.key, e.value) for e in emits if e.sink == sink])

    outcomes_topic = t.full(t.outcomes)
    third_party = AvroDeserializer(registry.configure(settings).client)  # type: ignore[union-attr]
    context = SerializationContext(outcomes_topic, MessageField.VALUE)
    values = [m.value for m in read_messages(bootstrap, outcomes_topic)]
    decoded = [third_party(v, context) for v in values]
    assert len(decoded) == TICKETS
    assert {d["decision"] for d in decoded} <= {"auto_resolved", "suggested", "escalated", "closed"}
    assert [wire.decode(v, Outcome).ticket_id for v in values] == [d["ticket_id"] for d in decoded]
