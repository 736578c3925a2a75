"""Avro wire format for the pipeline's records.

A message value is ``MAGIC (2 bytes) + schema version (1 byte) + Avro schemaless body``. The reader
decodes with the writer's schema for that version (kept frozen in ``schemas/avro/<name>.v<N>.avsc``)
and resolves it to the current schema, so records written by older workers still decode during a
rolling deploy. Avro schemas are derived from the pydantic models, one source of truth.

With a schema registry configured (:mod:`supportflow.schemas.registry`, set once per process by
``registry.configure``), :func:`encode` and :func:`decode` delegate to that process-wide codec, which
writes Confluent's framing (``0x00`` + 4-byte schema id); :func:`decode` tells the framings apart by
the first byte, so records in either header keep decoding.
"""

from __future__ import annotations

import io
import json
import types
import typing
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar, get_args, get_origin

import fastavro
from pydantic import BaseModel

from supportflow.schemas import models
from supportflow.schemas._union_hints import Hint, compile_hints
from supportflow.schemas.errors import SchemaError

MAGIC = b"SF"
AVRO_DIR = Path(__file__).parent / "avro"
NAMESPACE = "io.supportflow"

#: Records with a public wire contract and their Avro names.
RECORDS: dict[str, type[BaseModel]] = {
    "InboundEvent": models.InboundEvent,
    "Ticket": models.Ticket,
    "PipelineRecord": models.PipelineRecord,
    "Outcome": models.Outcome,
    "DeadLetter": models.DeadLetter,
    "AuditEvent": models.AuditEvent,
    "Feedback": models.Feedback,
}

M = TypeVar("M", bound=BaseModel)
N = TypeVar("N", bound=BaseModel)

#: First byte of a record in Confluent Schema Registry framing.
CONFLUENT_MAGIC = 0
_CONFLUENT_PREFIX = bytes([CONFLUENT_MAGIC])


class Codec(Protocol):
    """Writes records in another framing and reads that framing back (the schema registry's)."""

    def encode(self, record: BaseModel) -> bytes: ...
    def decode(self, data: bytes, model: type[N]) -> N: ...


#: The process-wide codec (``registry.configure``); None: supportflow's own header only.
_codec: Codec | None = None


def use_codec(codec: Codec | None) -> None:
    """Route :func:`encode` and Confluent-framed :func:`decode` through ``codec`` (None: own header)."""
    global _codec
    _codec = codec


def _avro_type(annotation: Any, named: set[str]) -> Any:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {annotation}")
        return ["null", _avro_type(args[0], named)]
    if origin is list:
        return {"type": "array", "items": _avro_type(get_args(annotation)[0], named)}
    if origin is dict:
        return {"type": "map", "values": _avro_type(get_args(annotation)[1], named)}
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return "string"  # strings, not Avro enums: adding a symbol must not break old readers
        if issubclass(annotation, BaseModel):
            return _record_schema(annotation, named)
        primitive = {str: "string", int: "long", float: "double", bool: "boolean", bytes: "bytes"}
        if annotation in primitive:
            return primitive[annotation]
    raise TypeError(f"no Avro mapping for {annotation!r}")


def _default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _record_schema(model: type[BaseModel], named: set[str]) -> Any:
    name = model.__name__
    if name in named:
        return f"{NAMESPACE}.{name}"
    named.add(name)
    fields = []
    for field_name, info in model.model_fields.items():
        field: dict[str, Any] = {"name": field_name, "type": _avro_type(info.annotation, named)}
        if info.description:
            field["doc"] = info.description
        if not info.is_required():
            field["default"] = _default(info.get_default(call_default_factory=True))
        fields.append(field)
    return {"type": "record", "name": name, "namespace": NAMESPACE, "fields": fields}


def avro_schema(name: str) -> dict[str, Any]:
    """The current Avro schema of record ``name``, derived from its pydantic model."""
    schema: dict[str, Any] = _record_schema(RECORDS[name], set())
    return schema


@cache
def _parsed_current(name: str) -> Any:
    return fastavro.parse_schema(avro_schema(name))


@cache
def _hints(name: str) -> Hint | None:
    return compile_hints(avro_schema(name))


@cache
def _parsed_writer(name: str, version: int) -> Any:
    if version == models.SCHEMA_VERSION:
        return _parsed_current(name)
    path = AVRO_DIR / f"{name}.v{version}.avsc"
    if not path.exists():
        raise SchemaError(f"{name}: unknown schema version {version}")
    return fastavro.parse_schema(json.loads(path.read_text()))


def _model_name(model: type[BaseModel]) -> str:
    for name, cls in RECORDS.items():
        if cls is model:
            return name
    raise KeyError(model.__name__)


def encode(record: BaseModel) -> bytes:
    if _codec is not None:
        return _codec.encode(record)
    return encode_own(record)


def encode_own(record: BaseModel) -> bytes:
    """``record`` in supportflow's own header, whatever codec is configured."""
    name = _model_name(type(record))
    data = record.model_dump(mode="python")
    hint = _hints(name)
    if hint is not None:
        data = hint(data)  # names each union's branch, so the writer skips its search (_union_hints)
    buf = io.BytesIO()
    buf.write(MAGIC + bytes([models.SCHEMA_VERSION]))
    try:
        fastavro.schemaless_writer(buf, _parsed_current(name), data)
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. an int beyond Avro's 64-bit long
        raise SchemaError(f"{name}: cannot encode ({type(exc).__name__}: {exc})") from exc
    return buf.getvalue()


def decode(data: bytes, model: type[M]) -> M:
    """Decode a wire value into ``model``; raises :class:`SchemaError` on anything malformed."""
    name = _model_name(model)
    if data[:1] == _CONFLUENT_PREFIX:
        if _codec is None:
            raise SchemaError(f"{name}: Confluent-framed record, but no schema registry is configured")
        return _codec.decode(data, model)
    if len(data) < 3 or data[:2] != MAGIC:
        raise SchemaError(f"{name}: not a supportflow Avro record (bad magic bytes)")
    version = data[2]
    try:
        writer = _parsed_writer(name, version)
        raw = fastavro.schemaless_reader(io.BytesIO(data[3:]), writer, _parsed_current(name))
        return model.model_validate(raw)
    except SchemaError:
        raise
    except Exception as exc:  # fastavro raises many types on truncated or foreign bytes
        raise SchemaError(f"{name} v{version}: cannot decode ({type(exc).__name__}: {exc})") from exc


def dump_schemas(directory: Path = AVRO_DIR) -> list[Path]:
    """Write the current schemas as ``<name>.v<SCHEMA_VERSION>.avsc`` (for consumers in other languages)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in RECORDS:
        path = directory / f"{name}.v{models.SCHEMA_VERSION}.avsc"
        path.write_text(json.dumps(avro_schema(name), indent=2) + "\n")
        written.append(path)
    return written
