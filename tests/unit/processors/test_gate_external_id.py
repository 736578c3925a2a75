"""Every outcome the gate builds names the source message: the ticket's external_id."""

import pytest

from supportflow.processors.gate import GatePolicy, gate
from supportflow.schemas.models import Band, Decision
from tests.unit.helpers import record, ticket

POLICY = GatePolicy(groundedness_floor=0.92, retrieval_min_score=0.45)
MESSAGE_ID = "CAF7x9q2@mail.example.com"


@pytest.mark.parametrize(
    ("rec", "decision"),
    [
        (record(), Decision.AUTO_RESOLVED),
        (record(groundedness=0.5), Decision.SUGGESTED),
        (record(band=Band.SUGGEST), Decision.SUGGESTED),
        (record(band=Band.ESCALATE, reasons=("rule:legal",)), Decision.ESCALATED),
    ],
)
def test_gate_every_decision_carries_the_ticket_external_id(rec, decision):
    rec = rec.model_copy(update={"ticket": ticket(external_id=MESSAGE_ID)})
    out = gate(rec, POLICY, lambda cid: True, now_ms=1_250)
    assert out.decision == decision
    assert out.external_id == MESSAGE_ID


def test_gate_ticket_without_external_id_outcome_external_id_empty():
    assert gate(record(), POLICY, lambda cid: True, now_ms=1_250).external_id == ""
