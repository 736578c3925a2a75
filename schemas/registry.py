"""Confluent Schema Registry wire format: records any Confluent consumer can read.

Off unless ``schema_registry.url`` is set; then :func:`configure` (called once at process start-up:
worker runtime, webhook service, egress and the CLI tools that read topics) builds one registry
client and one :class:`RegistryCodec`, and hands it to :func:`supportflow.schemas.wire.use_codec`, so
every ``wire.encode``/``wire.decode`` in the process goes through it without threading a codec through
each call site.

- Writing: confluent-kafka's ``AvroSerializer`` with the Avro schema derived from the pydantic model
  (``wire.avro_schema``), the subject ``<topic>-value`` (TopicNameStrategy) and ``auto.register.schemas``
  on. With ``outcomes_format="json"`` outcomes go through ``JSONSerializer`` with the model's JSON
  Schema (``Outcome.model_json_schema()``) instead, for consumers with a JSON converter.
- Reading: ``wire.decode`` tells the framings apart by the first byte (``0x00`` Confluent, ``SF`` own),
  so records written before a switch keep decoding. The schema id picks Avro or JSON; Avro bodies are
  resolved to the current schema, so older writer versions decode.
- Compatibility: every subject is set to ``BACKWARD`` and the current schema is checked against the
  subject's latest version before it is registered; an incompatible change fails start-up with
  :class:`IncompatibleSchemaError` instead of writing records old readers cannot follow.

A record type is written once per process with the subject of its first topic; a record that travels
on several topics (``PipelineRecord`` on every stage topic, ``Outcome`` on live and shadow outcomes) is
registered under each topic's subject at start-up. A registry gives one schema the same id in every
subject, so the bytes are what a per-topic serializer would write.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from confluent_kafka.schema_registry import (
    ConfigCompatibilityLevel,
    Schema,
    SchemaRegistryClient,
    SchemaRegistryError,
    ServerConfig,
    topic_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from pydantic import BaseModel

from supportflow.schemas import models, wire
from supportflow.schemas.errors import SchemaError, TransientError
from supportflow.settings import SchemaRegistrySettings, Settings, TopicSettings

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

#: Each registry request gives up after this long; a few retries ride out a restart of the registry.
REQUEST_TIMEOUT_S = 10
MAX_RETRIES = 2
#: The subjects' compatibility level: a new schema must read every record of the previous one.
COMPATIBILITY = ConfigCompatibilityLevel.BACKWARD
SERDE_CONF: dict[str, Any] = {"subject.name.strategy": topic_subject_name_strategy}
#: JSON records are pydantic models on both sides (dumped by one, validated by the other): a JSON Schema
#: validation on top would check the same twice, at several times the cost of the whole encode.
JSON_CONF: dict[str, Any] = {**SERDE_CONF, "validate": False}


class IncompatibleSchemaError(SchemaError):
    """The current schema cannot be registered: readers of the subject could not follow it."""


def record_topics(t: TopicSettings) -> dict[str, tuple[str, ...]]:
    """The topics each record type is written to (records on no topic keep the own header)."""
    return {
        "InboundEvent": (t.full(t.ingress),),
        "PipelineRecord": tuple(t.full(n) for n in (t.tickets, t.routed, t.retrieved, t.resolved)),
        "Outcome": (t.full(t.outcomes), t.full(t.outcomes_shadow)),
        "DeadLetter": (t.full(t.dead_letter),),
        "AuditEvent": (t.full(t.audit),),
        "Feedback": (t.full(t.feedback),),
    }


def subject(topic: str) -> str:
    """TopicNameStrategy: the value subject of ``topic``."""
    return f"{topic}-value"


def build_client(settings: SchemaRegistrySettings) -> SchemaRegistryClient:
    """A registry client with explicit timeouts; ``mock://`` URLs give confluent-kafka's in-memory mock."""
    if not settings.url:
        raise ValueError("schema_registry.url is not set")
    conf: dict[str, Any] = {
        "url": settings.url,
        "timeout": REQUEST_TIMEOUT_S,
        "max.retries": MAX_RETRIES,
        "retries.wait.ms": 200,
        "retries.max.wait.ms": 2000,
    }
    if settings.basic_auth_user_info is not None:
        conf["basic.auth.user.info"] = settings.basic_auth_user_info.get_secret_value()
    try:
        return SchemaRegistryClient.new_client(conf)
    except Exception as exc:
        # The client's own messages never quote the credentials, but an exception from deeper down
        # could: name the class only.
        raise SchemaError(
            f"schema registry client for {safe_url(settings.url)}: {type(exc).__name__}"
        ) from None


def safe_url(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


@dataclass
class _Writer:
    serialize: Callable[[object, SerializationContext], bytes | None]
    context: SerializationContext
    prepare: Callable[[BaseModel], object]


class RegistryCodec:
    """:class:`~supportflow.schemas.wire.Codec` writing and reading Confluent's framing."""

    def __init__(
        self,
        client: SchemaRegistryClient,
        topics: Mapping[str, Sequence[str]],
        outcomes_format: Literal["avro", "json"] = "avro",
    ) -> None:
        self.client = client
        self.outcomes_format = outcomes_format
        self._topics = {name: tuple(ts) for name, ts in topics.items() if ts}
        self._writers: dict[str, _Writer] = {}
        self._avro_readers: dict[str, AvroDeserializer] = {}
        self._json_reader = JSONDeserializer(None, schema_registry_client=client, conf=JSON_CONF)
        self._schema_types: dict[int, str] = {}
        self._lock = threading.Lock()
        #: Every schema checked and registered (:meth:`register`).
        self.registered = False

    def __repr__(self) -> str:  # the client's conf holds the credentials: never shown
        return f"RegistryCodec(outcomes_format={self.outcomes_format!r}, records={sorted(self._topics)})"

    def schema(self, name: str) -> Schema:
        """The schema record ``name`` is written with."""
        if name == "Outcome" and self.outcomes_format == "json":
            return Schema(json.dumps(models.Outcome.model_json_schema()), "JSON")
        return Schema(json.dumps(wire.avro_schema(name)), "AVRO")

    def register(self) -> dict[str, int]:
        """Check, configure and register every record's schema under its topics' subjects.

        Returns the schema id per subject. Raises :class:`IncompatibleSchemaError` for a schema its
        subject's readers could not follow, :class:`TransientError` when the registry cannot be reached.
        """
        ids: dict[str, int] = {}
        for name, topics in self._topics.items():
            schema = self.schema(name)
            for topic in topics:
                ids[subject(topic)] = self._register(subject(topic), schema)
        self.registered = True
        return ids

    def _register(self, subject_name: str, schema: Schema) -> int:
        try:
            check_backward(self.client, subject_name, schema)
            self._set_compatibility(subject_name)
            return int(self.client.register_schema(subject_name, schema))
        except SchemaError:
            raise
        except SchemaRegistryError as exc:
            if exc.http_status_code == 409:
                raise IncompatibleSchemaError(
                    f"{subject_name}: the registry refused the schema: {exc}"
                ) from exc
            raise TransientError(f"schema registry: cannot register {subject_name}: {exc}") from exc
        except Exception as exc:
            raise TransientError(
                f"schema registry: cannot register {subject_name}: {type(exc).__name__}"
            ) from exc

    def _set_compatibility(self, subject_name: str) -> None:
        try:
            self.client.set_config(subject_name, ServerConfig(compatibility=COMPATIBILITY))
        except SchemaRegistryError as exc:
            if exc.http_status_code not in (401, 403):
                raise
            # A key allowed to register but not to configure: the check above still holds the line.
            log.warning(
                "schema registry: may not set %s to %s (HTTP %d); it keeps the registry's level",
                subject_name, COMPATIBILITY.value, exc.http_status_code,
            )  # fmt: skip

    def encode(self, record: BaseModel) -> bytes:
        name = wire._model_name(type(record))
        writer = self._writer(name)
        if writer is None:
            return wire.encode_own(record)  # a record on no topic (e.g. a bare Ticket)
        try:
            data = writer.serialize(writer.prepare(record), writer.context)
        except SchemaRegistryError as exc:
            raise TransientError(f"{name}: schema registry: {exc}") from exc
        except Exception as exc:  # e.g. an int beyond Avro's 64-bit long
            raise SchemaError(f"{name}: cannot encode ({type(exc).__name__}: {exc})") from exc
        assert data is not None  # only None serializes to None
        return data

    def decode(self, data: bytes, model: type[M]) -> M:
        name = wire._model_name(model)
        if len(data) < 6 or data[0] != wire.CONFLUENT_MAGIC:
            raise SchemaError(f"{name}: not a Confluent-framed record ({len(data)} bytes)")
        schema_id = int.from_bytes(data[1:5], "big")
        kind = self._schema_type(name, schema_id)  # SchemaError (unknown id) or TransientError
        try:
            if kind == "JSON":  # the JSON reader needs the topic's subject
                topic = self._topics.get(name, ("",))[0]
                raw = self._json_reader(data, SerializationContext(topic, MessageField.VALUE))
            else:  # no context: no subject, so no per-record rule lookups (supportflow sets no rules)
                raw = self._avro_reader(name)(data, None)
            return model.model_validate(raw)
        except Exception as exc:  # fastavro and pydantic raise many types on foreign bytes
            raise SchemaError(
                f"{name} (schema id {schema_id}): cannot decode ({type(exc).__name__}: {str(exc)[:300]})"
            ) from exc

    def _schema_type(self, name: str, schema_id: int) -> str:
        known = self._schema_types.get(schema_id)
        if known is not None:
            return known
        try:
            schema = self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise SchemaError(f"{name}: unknown schema id {schema_id}") from exc
            raise TransientError(f"{name}: schema registry: {exc}") from exc
        except Exception as exc:  # unreachable registry: retry later, never dead-letter a good record
            raise TransientError(f"{name}: schema registry unreachable ({type(exc).__name__})") from exc
        kind = schema.schema_type or "AVRO"
        self._schema_types[schema_id] = kind
        return kind

    def _avro_reader(self, name: str) -> AvroDeserializer:
        reader = self._avro_readers.get(name)
        if reader is None:
            schema = json.dumps(wire.avro_schema(name))
            reader = self._avro_readers[name] = AvroDeserializer(self.client, schema, conf=SERDE_CONF)
        return reader

    def _writer(self, name: str) -> _Writer | None:
        writer = self._writers.get(name)
        if writer is not None or name not in self._topics:
            return writer
        with self._lock:
            if name not in self._writers:
                self._writers[name] = self._new_writer(name)
            return self._writers[name]

    def _new_writer(self, name: str) -> _Writer:
        context = SerializationContext(self._topics[name][0], MessageField.VALUE)
        schema = self.schema(name)
        if schema.schema_type == "JSON":
            conf = {**JSON_CONF, "auto.register.schemas": True}
            json_serializer = JSONSerializer(schema, self.client, to_dict=lambda o, _ctx: o, conf=conf)
            return _Writer(json_serializer, context, lambda r: r.model_dump(mode="json"))
        avro_serializer = AvroSerializer(
            self.client, schema, conf={**SERDE_CONF, "auto.register.schemas": True}
        )
        hint = wire._hints(name)

        def prepare(record: BaseModel) -> object:
            data = record.model_dump(mode="python")
            return hint(data) if hint is not None else data  # names union branches, as wire.encode does

        return _Writer(avro_serializer, context, prepare)


def check_backward(client: SchemaRegistryClient, subject_name: str, schema: Schema) -> None:
    """Raise :class:`IncompatibleSchemaError` unless ``schema`` reads the subject's latest version.

    The registry checks this too; checking here names the fields and works against the mock.
    """
    try:
        latest = client.get_latest_version(subject_name)
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            return  # a new subject
        raise
    previous = latest.schema
    if previous.schema_str == schema.schema_str:
        return
    old_type, new_type = previous.schema_type or "AVRO", schema.schema_type or "AVRO"
    if old_type != new_type:
        raise IncompatibleSchemaError(
            f"{subject_name}: holds {old_type} schemas; {new_type} needs another topic or compatibility NONE"
        )
    if new_type != "AVRO":
        return  # JSON Schema compatibility is the registry's to judge
    assert previous.schema_str is not None and schema.schema_str is not None
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        reader=avro.schema.parse(schema.schema_str), writer=avro.schema.parse(previous.schema_str)
    )
    if result.compatibility != SchemaCompatibilityType.compatible:
        problems = "; ".join(sorted(result.messages))
        raise IncompatibleSchemaError(
            f"{subject_name}: not {COMPATIBILITY.value}-compatible with version {latest.version}: {problems}"
        )


_configured: RegistryCodec | None = None
_configured_for: tuple[SchemaRegistrySettings, TopicSettings] | None = None


def configure(settings: Settings, *, register: bool = True) -> RegistryCodec | None:
    """Make ``wire`` use the registry ``settings`` name, once per process; None: the own header.

    ``register`` checks and registers every schema up front (processes that write); read-only tools
    pass False and only look schemas up. Idempotent for the same settings, so every start-up path may
    call it.
    """
    global _configured, _configured_for
    registry = settings.schema_registry
    if not registry.url:
        wire.use_codec(None)
        _configured = _configured_for = None
        return None
    key = (registry, settings.topics)
    codec = _configured if _configured_for == key else None
    if codec is None:
        codec = RegistryCodec(
            build_client(registry), record_topics(settings.topics), registry.outcomes_format
        )
    if register and not codec.registered:
        ids = codec.register()
        log.info("schema registry %s: %d subjects, %s", safe_url(registry.url), len(ids), COMPATIBILITY.value)
    wire.use_codec(codec)
    _configured, _configured_for = codec, key
    return codec
