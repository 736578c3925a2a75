"""Schema v3 added the verified identity; v2 records still decode, vouching for nobody."""

import io
import json

import fastavro

from supportflow.schemas import wire
from supportflow.schemas.models import Channel, InboundEvent, PipelineRecord, Ticket

TICKET = Ticket(
    ticket_id="tkt_1", conversation_id="conv_1", channel=Channel.API, sender="daniel.okafor@example.net",
    customer_id="cus_0002", text="where is my order?", received_at_ms=1, ingested_at_ms=2, trace_id="t",
)  # fmt: skip
V3_ONLY = {"verified_email", "verified_phone", "verified_customer_id", "privileged"}


def _v2_bytes(name: str, record: dict) -> bytes:
    schema = fastavro.parse_schema(json.loads((wire.AVRO_DIR / f"{name}.v2.avsc").read_text()))
    buf = io.BytesIO()
    buf.write(wire.MAGIC + bytes([2]))
    fastavro.schemaless_writer(buf, schema, record)
    return buf.getvalue()


def _v2_dump(model) -> dict:
    data = model.model_dump(mode="python", exclude=V3_ONLY)
    data["schema_version"] = 2
    return data


def test_wire_v2_pipeline_record_decodes_with_no_verified_identity():
    record = _v2_dump(PipelineRecord(ticket=TICKET))
    record["ticket"] = _v2_dump(TICKET)
    decoded = wire.decode(_v2_bytes("PipelineRecord", record), PipelineRecord)
    t = decoded.ticket
    assert (t.customer_id, t.sender) == ("cus_0002", "daniel.okafor@example.net")
    assert (t.verified_email, t.verified_phone, t.verified_customer_id) == ("", "", "")


def test_wire_v2_inbound_event_decodes_unprivileged():
    event = InboundEvent(event_id="e", channel=Channel.API, received_at_ms=1, payload=b"{}")
    decoded = wire.decode(_v2_bytes("InboundEvent", _v2_dump(event)), InboundEvent)
    assert decoded.privileged is False and decoded.payload == b"{}"


def test_wire_v3_ticket_roundtrip_keeps_verified_identity():
    t = TICKET.model_copy(update={"verified_email": "daniel.okafor@example.net", "verified_customer_id": "c"})
    assert wire.decode(wire.encode(t), Ticket) == t
