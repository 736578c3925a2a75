"""The accounting invariant: every expected ticket ends as one outcome or one dead letter, by name."""

import json

from supportflow.processors.channels import TICKET_CONTENT_TYPE, expected_fates
from supportflow.processors.normalize import normalize
from supportflow.schemas import wire
from supportflow.schemas.models import Band, Channel, DeadLetter, Decision, InboundEvent, Outcome, Tier
from supportflow.streams.collect import Collected


def _event(event_id: str, body: object) -> InboundEvent:
    return InboundEvent(
        event_id=event_id, channel="api", received_at_ms=0, payload=json.dumps(body).encode(),
        content_type=TICKET_CONTENT_TYPE, source="test",
    )  # fmt: skip


def _letter(original: bytes, stage: str) -> DeadLetter:
    return DeadLetter(stage=stage, error_class="SchemaError", error_message="bad", original=original,
                      topic="t", partition=0, offset=0, failed_at_ms=0)  # fmt: skip


def _outcome(ticket_id: str) -> Outcome:
    return Outcome(ticket_id=ticket_id, conversation_id="c", channel=Channel.API, decision=Decision.ESCALATED,
                   intent="oos", confidence=0.0, band=Band.ESCALATE, tier=Tier.COMMODITY, trace_id="t")  # fmt: skip


GOOD = _event("e-good", {"ticket_id": "a", "email": "a@example.com", "text": "where is my order?"})
TWIN = _event("e-twin", {"ticket_id": "a", "email": "a@example.com", "text": "where is my order?"})
BAD = _event("e-bad", [1, 2, 3])


def test_expected_fates_redelivery_once_bad_array_one_letter():
    plan = expected_fates([GOOD, TWIN, BAD])
    assert len(plan.ticket_ids) == 1 and plan.dead_letter_events == {"e-bad"} and plan.total == 2


def test_collected_missing_names_tickets_and_events_without_a_fate():
    plan = expected_fates([GOOD, BAD])
    assert Collected().missing(plan.ticket_ids, plan.dead_letter_events) == [
        *(f"ticket:{t}" for t in plan.ticket_ids), "event:e-bad",
    ]  # fmt: skip


def test_collected_missing_outcome_or_later_stage_letter_accounts_for_a_ticket():
    plan = expected_fates([GOOD, BAD])
    [ticket_id] = plan.ticket_ids
    decided = Collected(outcomes={ticket_id: _outcome(ticket_id)})
    decided.dead_letters.append(_letter(wire.encode(BAD), "normalize"))
    assert decided.missing(plan.ticket_ids, plan.dead_letter_events) == []
    [record] = normalize(wire.encode(GOOD), 10**6)
    lettered = Collected(
        dead_letters=[_letter(wire.encode(record), "route"), _letter(wire.encode(BAD), "normalize")]
    )
    assert lettered.missing(plan.ticket_ids, plan.dead_letter_events) == []
