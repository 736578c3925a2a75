"""Outcomes, feedback and the sample helpdesk payloads for the feedback tests."""

from pathlib import Path

from supportflow.schemas.models import Band, Channel, Decision, Feedback, FeedbackKind, Outcome, Tier

SAMPLES = Path(__file__).parents[4] / "tests" / "fakes" / "feedback"
KEY = b"agent-hash-key"
BAND = {
    Decision.AUTO_RESOLVED: Band.AUTO,
    Decision.SUGGESTED: Band.SUGGEST,
    Decision.ESCALATED: Band.ESCALATE,
}
DRAFT = "You can cancel any time from Settings > Subscription > Cancel."


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def outcome(ticket_id="tkt_1", decision=Decision.SUGGESTED, intent="cancel_subscription", **kw) -> Outcome:
    base = dict(
        ticket_id=ticket_id, conversation_id=kw.pop("conversation_id", f"conv-{ticket_id}"), channel=Channel.EMAIL,
        decision=decision, intent=intent, confidence=0.9, band=BAND.get(decision, Band.ESCALATE),
        tier=Tier.COMMODITY, answer=DRAFT, trace_id="trace", decided_at_ms=1_000,
    )  # fmt: skip
    base.update(kw)
    return Outcome(**base)


def feedback(kind=FeedbackKind.CSAT, ticket_id="tkt_1", fid="fb_1", **kw) -> Feedback:
    base = dict(feedback_id=fid, ticket_id=ticket_id, kind=kind, source="api", occurred_at_ms=2_000)
    if kind == FeedbackKind.CSAT:
        base["score"] = 5.0
    base.update(kw)
    return Feedback(**base)
