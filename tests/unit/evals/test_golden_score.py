"""Scoring functions on synthetic outcomes (no broker)."""

from supportflow.evals.golden import GoldenCase, GoldenTicket
from supportflow.evals.golden_score import (
    bad_answer_reasons,
    case_results,
    contains_fact,
    percentiles,
    score,
)
from supportflow.schemas.models import Band, Channel, Decision, Outcome, Tier


def case(cid, band=Band.AUTO, intent="track_refund", facts=(), articles=("track-your-refund",),
         channel=Channel.API, tags=()):  # fmt: skip
    return GoldenCase(id=cid, channel=channel, ticket=GoldenTicket(text="t", customer_id="cus_0002"),
                      expected_intent=intent, expected_band=band, expected_articles=list(articles),
                      required_facts=list(facts), tags=list(tags))  # fmt: skip


def outcome(decision, intent="track_refund", answer="", citations=(), groundedness=0.0, latency=100.0,
            timings=None):  # fmt: skip
    band = {Decision.AUTO_RESOLVED: Band.AUTO, Decision.SUGGESTED: Band.SUGGEST,
            Decision.ESCALATED: Band.ESCALATE}[decision]  # fmt: skip
    return Outcome(ticket_id="tkt", conversation_id="c", channel=Channel.API, decision=decision, intent=intent,
                   confidence=0.9, band=band, tier=Tier.COMMODITY, answer=answer, citations=list(citations),
                   groundedness=groundedness, trace_id="t", latency_ms=latency,
                   timings_ms=timings or {"route": 5.0, "gate": 1.0})  # fmt: skip


def test_contains_fact_ignores_case_dash_style_and_spacing():
    assert contains_fact("Card refunds take 5–10  Business days.", "5-10 business days")
    assert not contains_fact("Card refunds take 5-7 business days.", "5-10 business days")


def test_bad_answer_reasons_correct_auto_answer_is_not_bad():
    good = outcome(Decision.AUTO_RESOLVED, answer="It takes 5-10 business days.",
                   citations=["track-your-refund#refund-issued"], groundedness=1.0)  # fmt: skip
    assert bad_answer_reasons(case("a", facts=["5-10 business days"]), good) == []


def test_bad_answer_reasons_wrong_band_missing_fact_and_wrong_article_all_reported():
    sent = outcome(
        Decision.AUTO_RESOLVED, answer="Soon.", citations=["returns-policy#window", "track-your-refund#x"]
    )
    reasons = bad_answer_reasons(case("a", band=Band.ESCALATE, facts=["5-10 business days"]), sent)
    assert reasons == [
        "band:expected_escalate",
        "missing_fact:5-10 business days",
        "wrong_article:returns-policy",
    ]


def test_bad_answer_reasons_drafts_and_escalations_are_never_bad_answers():
    draft = outcome(Decision.SUGGESTED, answer="Soon.", citations=["returns-policy#1"])
    assert bad_answer_reasons(case("a", band=Band.ESCALATE, facts=["x"]), draft) == []


def test_percentiles_interpolate_and_empty_sample_is_zero():
    assert percentiles(range(1, 101)) == {"p50": 50.5, "p95": 95.0, "p99": 99.0}
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0}


def test_score_rates_precision_recall_and_missing_outcomes():
    cases = [
        case("auto-ok", facts=["5-10 business days"]),
        case("auto-bad", facts=["5-10 business days"]),
        case("esc-hit", band=Band.ESCALATE, intent="complaint", channel=Channel.EMAIL),
        case("esc-miss", band=Band.ESCALATE, intent="complaint", channel=Channel.EMAIL),
        case("sug-overesc", band=Band.SUGGEST, intent="get_refund"),
        case("lost", band=Band.ESCALATE, intent="complaint"),
    ]
    outcomes = {
        "auto-ok": outcome(
            Decision.AUTO_RESOLVED,
            answer="5-10 business days",
            groundedness=1.0,
            citations=["track-your-refund#a"],
            latency=100,
        ),
        "auto-bad": outcome(
            Decision.AUTO_RESOLVED,
            answer="a week",
            groundedness=0.9,
            citations=["track-your-refund#a"],
            latency=200,
        ),
        "esc-hit": outcome(Decision.ESCALATED, intent="complaint", latency=300),
        "esc-miss": outcome(Decision.SUGGESTED, intent="review", latency=400),
        "sug-overesc": outcome(Decision.ESCALATED, intent="get_refund", latency=500),
    }
    m = score(case_results(cases, outcomes), groundedness_floor=0.92)
    assert (m["cases"], m["outcomes"], m["missing"], m["missing_cases"]) == (6, 5, 1, ["lost"])
    assert m["deflection_rate"] == round(2 / 6, 4)
    assert m["escalation_rate"] == round(2 / 6, 4)
    assert m["bad_answer_rate"] == 0.5 and m["bad_answer_kinds"] == {"missing_fact": 1}
    assert m["groundedness"] == 0.95 and m["groundedness_share_at_floor"] == 0.5
    assert m["escalation_precision"] == 0.5
    assert m["escalation_recall"] == round(1 / 3, 4)
    assert m["intent_accuracy"] == round(4 / 6, 4)
    assert m["p50_latency_ms"] == 300.0
    assert m["stage_latency_ms"]["route"]["p95"] == 5.0
    assert m["band_confusion"]["escalate"] == {"escalated": 1, "suggested": 1, "missing": 1}
    assert m["per_channel"]["email"]["escalation_recall"] == 0.5
    assert m["per_intent"]["track_refund"]["bad_answers"] == 1


def test_score_no_auto_answers_gives_zero_rates_not_errors():
    m = score(case_results([case("a")], {"a": outcome(Decision.SUGGESTED)}), groundedness_floor=0.92)
    assert m["bad_answer_rate"] == 0.0 and m["groundedness"] == 0.0 and m["escalation_precision"] == 0.0
