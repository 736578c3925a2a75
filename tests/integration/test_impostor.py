"""Impostor tickets on the real pipeline (embedded broker, a worker process): no account data leaves.

Before identity binding, an API ticket from mallory@evil.example naming ``customer_id: cus_0002`` was
auto-resolved with Daniel Okafor's name, order number, carrier and tracking number. Here every
impostor variant must get no auto-resolution and no trace of Daniel's account in its outcome, while
the same question from Daniel's own address does get his order (so the scan is not vacuous).
"""

from __future__ import annotations

import json
import time

import pytest

from supportflow.processors.channels import TICKET_CONTENT_TYPE, parse_event
from supportflow.schemas.models import Channel, Decision, InboundEvent
from supportflow.streams.harness import run_events
from tests.unit.processors.test_route_identity import DANIEL_FACTS, WHERE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMPOSTORS = {
    "impostor-email": {"email": "mallory@evil.example", "customer_id": "cus_0002"},
    "lookalike-domain": {"email": "daniel.okafor@example.net.evil.example", "customer_id": "cus_0002"},
    "customer-id-only": {"customer_id": "cus_0002"},
    "other-phone": {"phone": "+1 512 555 0140", "customer_id": "cus_0002"},
    "victims-phone": {"email": "mallory@evil.example", "phone": "(212) 555-0102"},
}
CONTROL = {"email": "daniel.okafor@example.net", "customer_id": "cus_0002"}


def _event(name: str, sender: dict[str, str]) -> InboundEvent:
    body = {"ticket_id": f"impostor-{name}", "name": "Daniel Okafor", "text": WHERE, **sender}
    return InboundEvent(
        event_id=f"evt_impostor_{name}", channel=Channel.API, received_at_ms=int(time.time() * 1000),
        payload=json.dumps(body).encode(), content_type=TICKET_CONTENT_TYPE, source="test_impostor",
    )  # fmt: skip


@pytest.fixture(scope="module")
def outcomes():
    events = {name: _event(name, sender) for name, sender in {**IMPOSTORS, "control": CONTROL}.items()}
    ids = {name: parse_event(e, 0)[0].ticket_id for name, e in events.items()}
    expected, collected, _ = run_events(list(events.values()), timeout_s=240, quiet=True)
    assert collected.total == expected, f"{collected.total} of {expected} decided"
    return {name: collected.outcomes[tid] for name, tid in ids.items()}


@pytest.mark.parametrize("name", sorted(IMPOSTORS))
def test_pipeline_impostor_ticket_not_auto_resolved_no_account_data(outcomes, name):
    o = outcomes[name]
    assert o.decision != Decision.AUTO_RESOLVED, o.reasons
    assert o.customer_id is None
    assert {"identity:mismatch", "identity:unverified"} & set(o.reasons), o.reasons
    text = f"{o.answer}\n{o.escalation_context}"
    assert [fact for fact in DANIEL_FACTS if fact in text] == [], text


def test_pipeline_verified_sender_gets_own_order(outcomes):
    o = outcomes["control"]
    assert o.customer_id == "cus_0002" and "NW-100231" in o.answer, (o.decision, o.answer)
