import io
import json

import fastavro
import pytest

from supportflow.schemas import models, wire
from supportflow.schemas.errors import SchemaError
from supportflow.schemas.models import Band, Channel, Decision, Outcome, Tier


def _outcome(**kw):
    base = dict(
        ticket_id="tkt_1",
        conversation_id="conv_1",
        channel=Channel.EMAIL,
        decision=Decision.SUGGESTED,
        intent="track_order",
        confidence=0.91,
        band=Band.SUGGEST,
        tier=Tier.COMMODITY,
        trace_id="abc",
        reasons=["policy:intent_band=suggest"],
        citations=["shipping#tracking"],
        timings_ms={"route": 1.5},
    )
    base.update(kw)
    return Outcome(**base)


def test_wire_roundtrip_outcome_equal():
    o = _outcome(answer="Your order shipped.", language="de", cost_usd=0.0012)
    assert wire.decode(wire.encode(o), Outcome) == o


def test_wire_v1_outcome_decodes_with_v2_defaults():
    v1 = json.loads((wire.AVRO_DIR / "Outcome.v1.avsc").read_text())
    record = _outcome().model_dump(mode="python", exclude={"language", "cost_usd", "escalation_context"})
    record["schema_version"] = 1
    buf = io.BytesIO()
    buf.write(wire.MAGIC + bytes([1]))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(v1), record)
    decoded = wire.decode(buf.getvalue(), Outcome)
    assert decoded.schema_version == 1
    assert decoded.language == "en" and decoded.cost_usd == 0.0 and decoded.escalation_context == ""
    assert decoded.reasons == ["policy:intent_band=suggest"]


def test_wire_committed_schemas_match_models():
    for name in wire.RECORDS:
        committed = json.loads((wire.AVRO_DIR / f"{name}.v{models.SCHEMA_VERSION}.avsc").read_text())
        assert committed == wire.avro_schema(name), f"run `supportflow schemas dump` after changing {name}"


@pytest.mark.parametrize("data", [b"", b"SF", b"{json}", b"SF\x02\xff\xff", b"SF\x09abc"])
def test_wire_decode_garbage_raises_schema_error(data):
    with pytest.raises(SchemaError):
        wire.decode(data, Outcome)


def test_wire_truncated_record_raises_schema_error():
    data = wire.encode(_outcome())
    with pytest.raises(SchemaError):
        wire.decode(data[: len(data) // 2], Outcome)
