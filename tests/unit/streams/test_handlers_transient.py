"""A transient failure while reading a record (the schema registry unreachable) is not the record's fault:
it is raised for the worker to redeliver, never dead-lettered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from supportflow.connectors.egress.dispatch import Dispatcher
from supportflow.schemas import registry, wire
from supportflow.schemas.errors import SchemaError, TransientError
from supportflow.schemas.models import PipelineRecord
from supportflow.settings import SchemaRegistrySettings, Settings
from supportflow.streams.handlers import Message, normalize_records

MESSAGE = Message("supportflow.ingress.raw", 0, 7, b"k", b"event bytes")


def _unreachable_registry(raw: bytes) -> list[PipelineRecord]:
    raise TransientError("schema registry unreachable")


def _malformed(raw: bytes) -> list[PipelineRecord]:
    raise SchemaError("not a supportflow record")


def test_normalize_records_transient_error_is_raised_not_dead_lettered() -> None:
    with pytest.raises(TransientError):
        normalize_records([MESSAGE], _unreachable_registry)


def test_normalize_records_malformed_event_is_dead_lettered_with_its_bytes() -> None:
    out, dead = normalize_records([MESSAGE], _malformed)
    assert out == [] and len(dead) == 1


@pytest.fixture
def unreachable_registry() -> Iterator[None]:
    """wire reads through a registry client whose server does not answer (nothing listens on port 9)."""
    client = registry.build_client(SchemaRegistrySettings(url="http://127.0.0.1:9"))
    wire.use_codec(registry.RegistryCodec(client, registry.record_topics(Settings().topics)))
    yield
    wire.use_codec(None)


def test_dispatcher_registry_unreachable_reading_the_outcome_is_raised(unreachable_registry: None) -> None:
    confluent_framed = Message("supportflow.outcomes", 0, 3, b"k", b"\x00\x00\x00\x00\x07\x02")
    dispatcher = Dispatcher.__new__(Dispatcher)  # decoding fails before the connector is used
    dispatcher.stage = "egress:test"
    with pytest.raises(TransientError):
        dispatcher.handle(confluent_framed)
