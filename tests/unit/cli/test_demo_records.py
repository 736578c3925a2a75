"""``supportflow demo --json`` records name each outcome's source message (external_id)."""

from __future__ import annotations

from supportflow.cli.demo import demo_summary
from supportflow.schemas.models import Author, Band, Channel, Decision, Outcome, Tier, TranscriptEntry
from supportflow.streams.collect import Collected


def test_demo_summary_records_include_external_id():
    outcome = Outcome(
        ticket_id="tkt_1", conversation_id="conv_1", channel=Channel.CHAT, decision=Decision.SUGGESTED,
        intent="track_order", confidence=0.9, band=Band.SUGGEST, tier=Tier.COMMODITY, trace_id="t",
        external_id="msg_77",
    )  # fmt: skip
    summary = demo_summary(1, Collected(outcomes={"tkt_1": outcome}), 0.5)
    assert [r["external_id"] for r in summary["records"]] == ["msg_77"]


def test_demo_summary_records_include_turn_and_transcript():
    outcome = Outcome(
        ticket_id="tkt_2", conversation_id="conv_1", channel=Channel.CHAT, decision=Decision.ESCALATED,
        intent="track_order", confidence=0.9, band=Band.ESCALATE, tier=Tier.COMMODITY, trace_id="t",
        turn=2, transcript=[TranscriptEntry(author=Author.CUSTOMER, text="where is it?", at_ms=5)],
        handoff_message="A member of our team will reply shortly.",
    )  # fmt: skip
    (record,) = demo_summary(1, Collected(outcomes={"tkt_2": outcome}), 0.5)["records"]
    assert record["turn"] == 2
    assert record["transcript"] == [{"author": "customer", "text": "where is it?", "at_ms": 5}]
    assert record["handoff_message"].startswith("A member")


def test_demo_excerpt_long_answer_cut_at_a_word_with_an_ellipsis():
    from supportflow.cli.demo import _excerpt

    text = "The payment authorization is released immediately.\nYour bank shows it within days."
    cut = _excerpt(text, 45)
    assert cut == "The payment authorization is released…"
    assert _excerpt(text, 500) == text
