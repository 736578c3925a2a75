"""The gate re-checks identity: a CRM record that does not match the ticket's verified sender never auto-sends."""

from supportflow.processors.gate import GatePolicy, gate
from supportflow.processors.identity import GATE_IDENTITY
from supportflow.schemas.models import CustomerContext, Decision
from tests.unit.helpers import record, ticket

POLICY = GatePolicy(groundedness_floor=0.92, retrieval_min_score=0.45)
DANIEL = CustomerContext(customer_id="cus_0002", name="Daniel Okafor", email="daniel.okafor@example.net")


def _gate(rec):
    return gate(rec, POLICY, lambda cid: True, now_ms=1_250)


def test_gate_customer_not_matching_verified_sender_drafts():
    # e.g. routed by a worker from before identity binding, which trusted the claimed customer_id.
    t = ticket(sender="mallory@evil.example", customer_id="cus_0002", verified_email="mallory@evil.example")
    out = _gate(record().model_copy(update={"ticket": t, "customer": DANIEL}))
    assert out.decision == Decision.SUGGESTED and GATE_IDENTITY in out.reasons


def test_gate_customer_matching_verified_sender_auto_resolves():
    t = ticket(sender="daniel.okafor@example.net", verified_email="daniel.okafor@example.net")
    out = _gate(record().model_copy(update={"ticket": t, "customer": DANIEL}))
    assert out.decision == Decision.AUTO_RESOLVED and out.customer_id == "cus_0002"


def test_gate_unbound_claimed_customer_id_not_in_outcome():
    t = ticket(sender="mallory@evil.example", customer_id="cus_0002", verified_email="mallory@evil.example")
    out = _gate(record().model_copy(update={"ticket": t}))
    assert out.customer_id is None
