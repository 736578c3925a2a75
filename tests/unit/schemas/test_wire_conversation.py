"""Schema v5 added the conversation fields: ``turn``, ``transcript`` and ``handoff_message`` on outcomes,
``thread`` on pipeline records and the ``closed`` decision. v4 records still decode, as first messages."""

import io
import json

import fastavro

from supportflow.schemas import wire
from supportflow.schemas.models import (
    Author,
    Band,
    Channel,
    Decision,
    Outcome,
    PipelineRecord,
    Thread,
    Ticket,
    Tier,
    TranscriptEntry,
)

TICKET = Ticket(
    ticket_id="tkt_2", conversation_id="conv_1", channel=Channel.CHAT, sender="maya.thompson@example.com",
    text="that didn't help", received_at_ms=1, ingested_at_ms=2, trace_id="t", external_id="m-2",
)  # fmt: skip
TRANSCRIPT = [
    TranscriptEntry(author=Author.CUSTOMER, text="where is my order?", at_ms=1, ticket_id="tkt_1"),
    TranscriptEntry(author=Author.ASSISTANT, text="It ships in 2 days.", at_ms=2, ticket_id="tkt_1"),
]
OUTCOME = Outcome(
    ticket_id="tkt_2", conversation_id="conv_1", channel=Channel.CHAT, decision=Decision.CLOSED,
    intent="track_order", confidence=0.9, band=Band.SUGGEST, tier=Tier.COMMODITY, trace_id="t",
    external_id="m-2", turn=2, transcript=TRANSCRIPT, handoff_message="",
)  # fmt: skip


def _v4_bytes(name: str, record: dict) -> bytes:
    schema = fastavro.parse_schema(json.loads((wire.AVRO_DIR / f"{name}.v4.avsc").read_text()))
    buf = io.BytesIO()
    buf.write(wire.MAGIC + bytes([4]))
    fastavro.schemaless_writer(buf, schema, record)
    return buf.getvalue()


def test_wire_v4_outcome_decodes_as_first_turn_without_transcript():
    data = OUTCOME.model_dump(mode="python", exclude={"turn", "transcript", "handoff_message"})
    data.update(schema_version=4, decision="escalated")
    decoded = wire.decode(_v4_bytes("Outcome", data), Outcome)
    assert (decoded.turn, decoded.transcript, decoded.handoff_message) == (1, [], "")
    assert decoded.external_id == "m-2"


def test_wire_v4_pipeline_record_decodes_without_thread():
    record = PipelineRecord(ticket=TICKET).model_dump(mode="python", exclude={"thread"})
    record["schema_version"] = 4
    record["ticket"]["schema_version"] = 4
    decoded = wire.decode(_v4_bytes("PipelineRecord", record), PipelineRecord)
    assert decoded.thread is None and decoded.ticket.text == "that didn't help"


def test_wire_v5_outcome_roundtrip_keeps_turn_transcript_and_closed():
    decoded = wire.decode(wire.encode(OUTCOME), Outcome)
    assert decoded.decision is Decision.CLOSED
    assert decoded.turn == 2
    assert [(e.author, e.text) for e in decoded.transcript] == [
        (Author.CUSTOMER, "where is my order?"), (Author.ASSISTANT, "It ships in 2 days."),
    ]  # fmt: skip


def test_wire_v5_pipeline_record_roundtrip_keeps_thread():
    thread = Thread(turn=3, transcript=TRANSCRIPT, intent_in_focus="track_order", order_in_focus="NW-100201",
                    signals=["conversation:not_helped"], burst=["tkt_1"])  # fmt: skip
    decoded = wire.decode(wire.encode(PipelineRecord(ticket=TICKET, thread=thread)), PipelineRecord)
    assert decoded.thread == thread
