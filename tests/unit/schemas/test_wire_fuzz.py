"""Property tests: ``wire.decode`` on hostile bytes returns a record or raises SchemaError, never anything else.

Every stage decodes what it consumes and dead-letters on SchemaError; any other exception type would
escape that contract (and, in the normalize stage, crash into the generic handler). Inputs: arbitrary
bytes, arbitrary Avro bodies behind a valid header (every version byte), valid records of every type
with random mutations, and valid records decoded as the wrong type.
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from supportflow.schemas import models, wire
from supportflow.schemas.errors import SchemaError

MODELS: list[type[BaseModel]] = list(wire.RECORDS.values())
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

AVRO_LONG = st.integers(-(2**63), 2**63 - 1)


def valid(annotation: Any) -> st.SearchStrategy[Any]:
    """Values the model accepts AND Avro can carry, following the type mapping in ``wire._avro_type``.

    ``st.from_type`` alone would draw unbounded Python ints, which Avro's 64-bit long cannot encode.
    """
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in get_args(annotation) if a is not type(None)]
        return st.none() | valid(inner)
    if origin is list:
        return st.lists(valid(get_args(annotation)[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=12), valid(get_args(annotation)[1]), max_size=3)
    if annotation is int:
        return AVRO_LONG
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = {name: valid(info.annotation) for name, info in annotation.model_fields.items()}
        return st.builds(annotation, **fields)
    return st.from_type(annotation)


records = st.sampled_from(MODELS).flatmap(valid)
header_versions = st.sampled_from([0, 1, models.SCHEMA_VERSION, models.SCHEMA_VERSION + 1, 255])


def decode_contract(data: bytes, model: type[BaseModel]) -> BaseModel | None:
    """Decode ``data``; SchemaError is the documented failure, any other exception fails the test."""
    try:
        return wire.decode(data, model)
    except SchemaError:
        return None


def _mutate(data: bytes, draw: Any) -> bytes:
    """One random edit: flip a byte, truncate, insert, delete a slice, or rewrite the version byte."""
    buf = bytearray(data)
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "version"]))
    at = draw(st.integers(0, max(0, len(buf) - 1)))
    if kind == "flip" and buf:
        buf[at] ^= draw(st.integers(1, 255))
    elif kind == "truncate":
        del buf[at:]
    elif kind == "insert":
        buf[at:at] = draw(st.binary(min_size=1, max_size=16))
    elif kind == "delete":
        del buf[at : at + draw(st.integers(1, 16))]
    elif kind == "version" and len(buf) > 2:
        buf[2] = draw(st.integers(0, 255))
    return bytes(buf)


@FUZZ
@given(st.sampled_from(MODELS), st.binary(max_size=512))
def test_wire_decode_arbitrary_bytes_raises_only_schema_error(model, data):
    decode_contract(data, model)


@FUZZ
@given(st.sampled_from(MODELS), header_versions, st.binary(max_size=512))
def test_wire_decode_arbitrary_body_behind_valid_header_raises_only_schema_error(model, version, body):
    decode_contract(wire.MAGIC + bytes([version]) + body, model)


@FUZZ
@given(records, st.data())
def test_wire_decode_mutated_valid_record_raises_only_schema_error(record, data):
    encoded = wire.encode(record)
    for _ in range(data.draw(st.integers(1, 4))):
        encoded = _mutate(encoded, data.draw)
    decode_contract(encoded, type(record))


@FUZZ
@given(records, st.sampled_from(MODELS))
def test_wire_decode_record_as_another_type_raises_only_schema_error(record, model):
    decode_contract(wire.encode(record), model)


@FUZZ
@given(records)
def test_wire_generated_valid_records_roundtrip_byte_identical(record):
    encoded = wire.encode(record)
    decoded = decode_contract(encoded, type(record))
    assert decoded is not None
    assert wire.encode(decoded) == encoded  # bytes, not ==: NaN floats compare unequal to themselves


# A length or count prefix claiming ~2**62 bytes/items must fail fast, not allocate or loop.
HUGE_VARINT = b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f"


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_wire_decode_huge_length_prefix_raises_schema_error(model):
    with pytest.raises(SchemaError):
        wire.decode(wire.MAGIC + bytes([models.SCHEMA_VERSION]) + HUGE_VARINT * 4, model)
