"""Confluent framing through confluent-kafka's own serializers, against its in-memory ``mock://`` registry.

No registry server runs here: ``mock://`` is confluent-kafka's MockSchemaRegistryClient, one store per
client instance, so every test configures its own.
"""

import json
import logging
import uuid

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from pydantic import SecretStr, ValidationError

from supportflow.connectors.egress import Fate
from supportflow.schemas import registry, wire
from supportflow.schemas.errors import SchemaError, TransientError
from supportflow.schemas.models import DeadLetter, Outcome, PipelineRecord, Ticket
from supportflow.settings import SchemaRegistrySettings, Settings
from supportflow.streams.handlers import Message, decode_records
from tests.fakes.crm_server import FakeCrmServer
from tests.unit.connectors.egress.builders import dispatcher, message, outcome
from tests.unit.helpers import record

OUTCOMES = "supportflow.outcomes"


def _settings(**kw) -> Settings:
    return Settings(schema_registry=SchemaRegistrySettings(url=f"mock://{uuid.uuid4().hex}", **kw))


@pytest.fixture
def configure():
    """Configure the process-wide codec for one test; the own header again afterwards."""
    yield lambda **kw: registry.configure(_settings(**kw))
    registry.configure(Settings(schema_registry=SchemaRegistrySettings()))
    assert wire._codec is None


def _context(topic: str = OUTCOMES) -> SerializationContext:
    return SerializationContext(topic, MessageField.VALUE)


def test_schema_registry_outcome_round_trip_confluent_framing_under_topic_subject(configure):
    codec = configure()
    o = outcome()
    data = wire.encode(o)
    assert data[0] == 0
    schema_id = int.from_bytes(data[1:5], "big")
    registered = codec.client.lookup_schema(f"{OUTCOMES}-value", codec.schema("Outcome"))
    assert registered.schema_id == schema_id
    assert wire.decode(data, Outcome) == o


def test_schema_registry_outcome_read_by_plain_avro_deserializer(configure):
    """What a third-party consumer does: the writer schema from the registry, no supportflow code."""
    codec = configure()
    o = outcome()
    raw = AvroDeserializer(codec.client)(wire.encode(o), _context())
    assert (raw["ticket_id"], raw["decision"], raw["answer"]) == (o.ticket_id, str(o.decision), o.answer)


def test_registry_reader_own_header_record_still_decodes(configure):
    configure()
    o = outcome()
    own = wire.encode_own(o)
    assert own[:2] == wire.MAGIC
    assert wire.decode(own, Outcome) == o


def test_registry_confluent_record_without_registry_is_schema_error():
    data = b"\x00\x00\x00\x00\x01" + wire.encode_own(outcome())[3:]
    with pytest.raises(SchemaError, match="no schema registry is configured"):
        wire.decode(data, Outcome)


def test_registry_unknown_schema_id_is_schema_error(configure):
    configure()
    with pytest.raises(SchemaError, match="unknown schema id 99999") as caught:
        wire.decode(b"\x00" + (99999).to_bytes(4, "big") + b"\x02\x04", Outcome)
    assert not isinstance(caught.value, TransientError)


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x00\x00", b"\x00\x00\x00\x00\x06"])
def test_registry_frame_shorter_than_header_is_schema_error(configure, data):
    configure()
    with pytest.raises(SchemaError):
        wire.decode(data, Outcome)


def test_registry_truncated_body_is_schema_error(configure):
    configure()
    data = wire.encode(outcome())
    with pytest.raises(SchemaError, match="cannot decode"):
        wire.decode(data[: len(data) // 2], Outcome)


def test_registry_record_of_another_subject_is_schema_error(configure):
    configure()
    with pytest.raises(SchemaError, match="PipelineRecord"):
        wire.decode(wire.encode(outcome()), PipelineRecord)


def test_registry_undecodable_stage_record_becomes_dead_letter_with_original(configure):
    configure()
    bad = b"\x00" + (99999).to_bytes(4, "big") + b"\x02"
    good = wire.encode(record())
    records, dead = decode_records("route", [Message("t", 0, 1, b"k", good), Message("t", 0, 2, b"k", bad)])
    assert [r.ticket.ticket_id for r in records] == [record().ticket.ticket_id]
    (letter,) = [wire.decode(d.value, DeadLetter) for d in dead]
    assert (letter.stage, letter.error_class, letter.original) == ("route", "SchemaError", bad)


def test_registry_pipeline_record_registered_under_every_stage_topic(configure):
    codec = configure()
    subjects = set(codec.client.get_subjects())
    stage_topics = ("tickets.normalized", "tickets.routed", "tickets.retrieved", "tickets.resolved")
    assert {f"supportflow.{t}-value" for t in stage_topics} <= subjects
    rec = record()
    assert wire.encode(rec)[0] == 0
    assert wire.decode(wire.encode(rec), PipelineRecord) == rec


def test_registry_record_without_topic_keeps_own_header(configure):
    configure()
    ticket = record().ticket
    assert wire.encode(ticket)[:2] == wire.MAGIC
    assert wire.decode(wire.encode(ticket), Ticket) == ticket


def _outcome_schema_with(field: dict) -> Schema:
    schema = wire.avro_schema("Outcome")
    schema["fields"].append(field)
    return Schema(json.dumps(schema), "AVRO")


def test_registry_incompatible_schema_change_rejected_under_backward(configure):
    codec = configure()
    required = _outcome_schema_with({"name": "priority", "type": "string"})  # no default: old records lack it
    with pytest.raises(registry.IncompatibleSchemaError, match="priority"):
        codec._register(f"{OUTCOMES}-value", required)
    assert len(codec.client.get_versions(f"{OUTCOMES}-value")) == 1


def test_registry_compatible_schema_change_registers_new_version(configure):
    codec = configure()
    optional = _outcome_schema_with({"name": "priority", "type": "string", "default": ""})
    codec._register(f"{OUTCOMES}-value", optional)
    assert len(codec.client.get_versions(f"{OUTCOMES}-value")) == 2


def test_registry_switching_outcomes_to_json_on_avro_subject_rejected(configure):
    codec = configure()
    json_schema = Schema(json.dumps(Outcome.model_json_schema()), "JSON")
    with pytest.raises(registry.IncompatibleSchemaError, match="AVRO"):
        codec._register(f"{OUTCOMES}-value", json_schema)


def test_registry_json_outcomes_round_trip(configure):
    codec = configure(outcomes_format="json")
    o = outcome()
    data = wire.encode(o)
    assert data[0] == 0 and data[5:6] == b"{"
    assert json.loads(data[5:])["ticket_id"] == o.ticket_id
    assert (
        JSONDeserializer(None, schema_registry_client=codec.client)(data, _context())["ticket_id"]
        == o.ticket_id
    )
    assert wire.decode(data, Outcome) == o


def test_registry_json_outcome_applied_by_egress_dispatcher(configure):
    configure(outcomes_format="json")
    with FakeCrmServer() as server:
        d = dispatcher("webhook", server)
        handled = d.handle(message(outcome()))
        d.deliverer.close()
        assert handled.fate == Fate.DELIVERED
        assert len(server.recorded("webhook")) == 1


def test_registry_json_outcomes_other_records_stay_avro(configure):
    codec = configure(outcomes_format="json")
    data = wire.encode(record())
    assert codec.client.get_schema(int.from_bytes(data[1:5], "big")).schema_type == "AVRO"


def test_registry_configure_without_url_keeps_own_header(configure):
    assert registry.configure(Settings(schema_registry=SchemaRegistrySettings())) is None
    assert wire.encode(outcome())[:2] == wire.MAGIC


def test_registry_configure_same_settings_reuses_client(configure):
    settings = _settings()
    first = registry.configure(settings)
    assert registry.configure(settings) is first


def test_registry_basic_auth_secret_not_in_repr_errors_or_logs(configure, caplog):
    secret = "s3cret-pw"
    registry_settings = SchemaRegistrySettings(
        url="http://127.0.0.1:9", basic_auth_user_info=SecretStr(f"sf:{secret}")
    )
    settings = Settings(schema_registry=registry_settings)
    assert secret not in repr(settings) and secret not in str(settings.model_dump())
    # nothing listens on port 9
    with caplog.at_level(logging.DEBUG), pytest.raises(TransientError) as caught:
        registry.configure(settings)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert secret not in caplog.text


def test_registry_url_with_credentials_rejected_without_echo():
    with pytest.raises(ValidationError) as caught:
        SchemaRegistrySettings(url="https://sf:s3cret-pw@registry.example:8081")
    assert "basic_auth_user_info" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


def test_registry_safe_url_drops_user_info():
    assert registry.safe_url("https://sf:pw@registry.example:8081/ctx") == "https://registry.example:8081/ctx"


def test_registry_codec_repr_hides_client_config(configure):
    codec = configure(basic_auth_user_info=SecretStr("sf:hidden-pw"))
    assert "hidden-pw" not in repr(codec)


def test_registry_unreachable_on_lookup_is_transient_not_dead_letter():
    client = registry.build_client(SchemaRegistrySettings(url="http://127.0.0.1:9"))  # nothing listens
    codec = registry.RegistryCodec(client, registry.record_topics(Settings().topics))
    with pytest.raises(TransientError, match="unreachable") as caught:
        codec.decode(b"\x00\x00\x00\x00\x07\x02", Outcome)
    assert not isinstance(caught.value, SchemaError)


def test_registry_configure_read_only_registers_nothing_until_a_writer_configures(configure):
    settings = _settings()
    reader = registry.configure(settings, register=False)
    assert reader is not None and reader.client.get_subjects() == []
    assert registry.configure(settings) is reader
    assert f"{OUTCOMES}-value" in reader.client.get_subjects()
