"""supportflow audit's text: the router and policy versions a ticket was decided with; promotions."""

from __future__ import annotations

from supportflow.cli.audit import journey_lines
from supportflow.cli.shadow import promotion_event
from supportflow.schemas.models import AuditEvent, Channel, Decision


def test_journey_lines_ticket_shows_router_and_policy_versions() -> None:
    event = AuditEvent(
        ticket_id="tkt_1", trace_id="t", conversation_id="c", channel=Channel.EMAIL, decided_at_ms=1,
        decision=Decision.SUGGESTED, intent="track_order", confidence=0.8, router_model="e5-lr+ngram-abc",
        router_version="router@1234567890ab", policy_version="policy@ba0987654321",
    )  # fmt: skip
    lines = journey_lines(event)
    assert "  decided with: router router@1234567890ab, policy policy@ba0987654321" in lines
    assert "  routed: track_order @ 0.80 by e5-lr+ngram-abc" in lines


def test_journey_lines_promotion_shows_what_was_promoted_and_why_not_a_route() -> None:
    event = promotion_event("cand@aaa", "pol@bbb", "router@old", "policy@old", "fewer wrong refunds")
    lines = journey_lines(event)
    assert "  decided with: router cand@aaa, policy pol@bbb" in lines
    assert any(
        "promotion:router:router@old->cand@aaa" in line and "fewer wrong refunds" in line for line in lines
    )
    assert not any(line.startswith("  routed:") for line in lines)
