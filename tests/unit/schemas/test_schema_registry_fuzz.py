"""Property tests: in Confluent framing too, ``wire.decode`` returns a record or raises SchemaError.

Against confluent-kafka's in-memory ``mock://`` registry (no registry server runs here): valid records
with random mutations behind a real schema id, arbitrary bodies behind every registered id and an
unknown one, and records decoded as the wrong type.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportflow.schemas import registry, wire
from supportflow.schemas.models import Ticket
from supportflow.schemas.registry import RegistryCodec
from supportflow.settings import SchemaRegistrySettings, Settings
from tests.unit.schemas.test_wire_fuzz import MODELS, decode_contract, records, valid

#: Records on a topic: written in Confluent framing (a bare Ticket keeps the own header).
on_topics = st.sampled_from([m for m in MODELS if m is not Ticket]).flatmap(valid)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def codec() -> Iterator[RegistryCodec]:
    url = f"mock://{uuid.uuid4().hex}"
    configured = registry.configure(Settings(schema_registry=SchemaRegistrySettings(url=url)))
    assert configured is not None
    yield configured
    registry.configure(Settings(schema_registry=SchemaRegistrySettings()))


@FUZZ
@given(record=on_topics, data=st.data())
def test_registry_mutated_record_decodes_or_schema_error(codec, record, data):
    encoded = bytearray(wire.encode(record))
    assert encoded[0] == 0
    for _ in range(data.draw(st.integers(1, 4))):
        encoded[data.draw(st.integers(5, len(encoded) - 1))] = data.draw(st.integers(0, 255))
    decode_contract(bytes(encoded[: data.draw(st.integers(5, len(encoded)))]), type(record))


@FUZZ
@given(schema_id=st.integers(0, 20), body=st.binary(max_size=200), model=st.sampled_from(MODELS))
def test_registry_any_body_behind_any_id_decodes_or_schema_error(codec, schema_id, body, model):
    decode_contract(b"\x00" + schema_id.to_bytes(4, "big") + body, model)


@FUZZ
@given(record=records, model=st.sampled_from(MODELS))
def test_registry_record_as_other_type_decodes_or_schema_error(codec, record, model):
    decode_contract(wire.encode(record), model)
