import pytest

from supportflow.evals.shadow import (
    compare,
    feedback_by_ticket,
    judge,
    outcomes_by_ticket,
    render,
    write_plots,
)
from supportflow.schemas import wire
from supportflow.schemas.models import Band, Channel, Decision, Feedback, FeedbackKind, Outcome, Tier

AUTO, SUGGESTED, ESCALATED = Decision.AUTO_RESOLVED, Decision.SUGGESTED, Decision.ESCALATED


def outcome(ticket_id, decision, intent="track_order", at_ms=1_000, policy="policy@live"):
    return Outcome(
        ticket_id=ticket_id, conversation_id=f"c-{ticket_id}", channel=Channel.API, decision=decision,
        intent=intent, confidence=0.9, band=Band.AUTO, tier=Tier.COMMODITY, trace_id="t", decided_at_ms=at_ms,
        router_version="router@abc", policy_version=policy,
    )  # fmt: skip


def feedback(ticket_id, kind, *, score=None, corrected="", fid=None):
    return Feedback(
        feedback_id=fid or f"{ticket_id}-{kind}", ticket_id=ticket_id, kind=kind, score=score,
        corrected_intent=corrected, source="api", occurred_at_ms=1,
    )  # fmt: skip


def test_compare_one_changed_decision_counts_agreement_rates_and_transition():
    live = {"a": outcome("a", AUTO), "b": outcome("b", SUGGESTED, "get_refund"), "c": outcome("c", AUTO)}
    shadow = {
        "a": outcome("a", SUGGESTED),
        "b": outcome("b", SUGGESTED, "get_refund"),
        "d": outcome("d", AUTO),
    }
    report = compare(live, shadow, {})
    assert (report.joined, report.live_only, report.shadow_only) == (2, 1, 1)
    assert report.decision_agreement == 0.5 and report.intent_agreement == 1.0
    assert (report.live_auto_rate, report.shadow_auto_rate, report.auto_rate_change) == (0.5, 0.0, -0.5)
    assert report.transitions == {"auto_resolved -> suggested": 1}
    assert vars(report.by_intent["track_order"]) == {
        "tickets": 1,
        "changed": 1,
        "live_auto": 1,
        "shadow_auto": 0,
    }
    assert report.verdicts == {}
    assert report.changed == [{"ticket_id": "a", "intent": "track_order", "shadow_intent": "track_order",
                               "live": "auto_resolved", "shadow": "suggested", "verdict": "no feedback"}]  # fmt: skip


def test_compare_nothing_joined_reports_zero_without_dividing():
    report = compare({"a": outcome("a", AUTO)}, {}, {})
    assert report.joined == 0 and report.live_only == 1 and report.decision_agreement == 0.0


def test_compare_feedback_on_changed_tickets_counts_each_verdict():
    live = {t: outcome(t, AUTO) for t in "abcd"}
    shadow = {t: outcome(t, SUGGESTED) for t in "abcd"}
    given = {
        "a": [feedback("a", FeedbackKind.REOPENED)],  # the auto answer did not hold: shadow right
        "b": [feedback("b", FeedbackKind.CSAT, score=5)],  # the auto answer pleased: live right
        "c": [feedback("c", FeedbackKind.ESCALATION_RESOLVED)],  # says nothing about sending alone
    }
    report = compare(live, shadow, given)
    assert report.verdicts == {"live": 1, "shadow": 1, "undecided": 1}
    assert [c["verdict"] for c in report.changed] == ["shadow", "live", "undecided", "no feedback"]


@pytest.mark.parametrize(
    ("kind", "score", "right"),
    [
        (FeedbackKind.DRAFT_SENT_UNCHANGED, None, "shadow"),
        (FeedbackKind.DRAFT_EDITED, None, "live"),
        (FeedbackKind.DRAFT_DISCARDED, None, "live"),
        (FeedbackKind.CSAT, 1.0, "live"),
        (FeedbackKind.CSAT, 3.0, None),
    ],
)
def test_judge_live_held_shadow_auto_follows_feedback(kind, score, right):
    live, shadow = outcome("a", SUGGESTED), outcome("a", AUTO)
    assert judge(live, shadow, [feedback("a", kind, score=score)]) == right


def test_judge_intent_correction_names_the_side_with_the_corrected_intent():
    live, shadow = outcome("a", SUGGESTED, "get_refund"), outcome("a", SUGGESTED, "track_refund")
    assert (
        judge(live, shadow, [feedback("a", FeedbackKind.INTENT_CORRECTION, corrected="track_refund")])
        == "shadow"
    )
    assert judge(live, shadow, [feedback("a", FeedbackKind.INTENT_CORRECTION, corrected="complaint")]) is None


def test_judge_both_held_decision_feedback_tells_nothing():
    live, shadow = outcome("a", SUGGESTED), outcome("a", ESCALATED)
    assert judge(live, shadow, [feedback("a", FeedbackKind.REOPENED)]) is None


def test_outcomes_by_ticket_first_or_latest_since_and_undecodable_skipped():
    values = [wire.encode(outcome("a", AUTO, at_ms=10)), b"junk", wire.encode(outcome("a", SUGGESTED, at_ms=20)),
              wire.encode(outcome("b", AUTO, at_ms=5))]  # fmt: skip
    assert outcomes_by_ticket(values)["a"].decision is AUTO
    latest = outcomes_by_ticket(values, since_ms=10, keep="latest")
    assert set(latest) == {"a"} and latest["a"].decision is SUGGESTED


def test_feedback_by_ticket_replayed_feedback_counted_once():
    f = feedback("a", FeedbackKind.REOPENED, fid="f1")
    grouped = feedback_by_ticket([wire.encode(f), wire.encode(f), b"junk"])
    assert list(grouped) == ["a"] and len(grouped["a"]) == 1


def test_render_changed_decision_lists_transition_intent_and_feedback_state():
    report = compare({"a": outcome("a", AUTO)}, {"a": outcome("a", SUGGESTED, policy="cautious@1")}, {})
    text = render(report)
    assert "automatic rate: live 100.0% -> shadow 0.0% (-100.0 points)" in text
    assert "auto_resolved -> suggested" in text and "track_order" in text
    assert (
        "  a                         track_order             auto_resolved -> suggested  [no feedback]"
        in text
    )
    assert "router@abc + cautious@1 (1)" in text and "no feedback on the changed tickets yet" in text


def test_render_nothing_joined_only_the_counts():
    assert (
        render(compare({"a": outcome("a", AUTO)}, {}, {}))
        == "tickets decided by both: 0 (live only 1, shadow only 0)"
    )


def test_write_plots_writes_both_charts(tmp_path):
    report = compare({"a": outcome("a", AUTO)}, {"a": outcome("a", SUGGESTED)}, {})
    paths = write_plots(report, tmp_path / "plots")
    assert [p.name for p in paths] == ["auto_rate_by_intent.png", "transitions.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
