"""Schema v4 added ``external_id`` to tickets and outcomes; v3 records still decode, with it empty."""

import io
import json

import fastavro

from supportflow.schemas import wire
from supportflow.schemas.models import (
    Band,
    Channel,
    Decision,
    Outcome,
    PipelineRecord,
    Ticket,
    Tier,
)

TICKET = Ticket(
    ticket_id="tkt_1", conversation_id="conv_1", channel=Channel.EMAIL, sender="maya.thompson@example.com",
    text="where is my order?", received_at_ms=1, ingested_at_ms=2, trace_id="t",
    verified_email="maya.thompson@example.com", external_id="CAF1x2@mail.example.com",
)  # fmt: skip
OUTCOME = Outcome(
    ticket_id="tkt_1", conversation_id="conv_1", channel=Channel.EMAIL, decision=Decision.SUGGESTED,
    intent="track_order", confidence=0.9, band=Band.SUGGEST, tier=Tier.COMMODITY, trace_id="t",
    escalation_context="", external_id="CAF1x2@mail.example.com",
)  # fmt: skip


def _v3_bytes(name: str, record: dict) -> bytes:
    schema = fastavro.parse_schema(json.loads((wire.AVRO_DIR / f"{name}.v3.avsc").read_text()))
    buf = io.BytesIO()
    buf.write(wire.MAGIC + bytes([3]))
    fastavro.schemaless_writer(buf, schema, record)
    return buf.getvalue()


def _v3_dump(model) -> dict:
    data = model.model_dump(mode="python", exclude={"external_id"})
    data["schema_version"] = 3
    return data


def test_wire_v3_outcome_decodes_with_empty_external_id():
    decoded = wire.decode(_v3_bytes("Outcome", _v3_dump(OUTCOME)), Outcome)
    assert decoded.schema_version == 3
    assert decoded.external_id == ""
    assert (decoded.ticket_id, decoded.intent) == ("tkt_1", "track_order")


def test_wire_v3_ticket_decodes_with_empty_external_id():
    decoded = wire.decode(_v3_bytes("Ticket", _v3_dump(TICKET)), Ticket)
    assert decoded.external_id == ""
    assert decoded.verified_email == "maya.thompson@example.com"


def test_wire_v3_pipeline_record_decodes_with_empty_external_id():
    record = _v3_dump(PipelineRecord(ticket=TICKET))
    record["ticket"] = _v3_dump(TICKET)
    decoded = wire.decode(_v3_bytes("PipelineRecord", record), PipelineRecord)
    assert decoded.ticket.external_id == "" and decoded.ticket.text == "where is my order?"


def test_wire_v4_ticket_and_outcome_roundtrip_keep_external_id():
    assert wire.decode(wire.encode(TICKET), Ticket) == TICKET
    assert wire.decode(wire.encode(OUTCOME), Outcome) == OUTCOME
