import argparse

import pytest

from supportflow.cli.feedback import duration_s
from supportflow.processors.feedback.report import build_report, render_table
from supportflow.schemas.models import Decision, FeedbackKind
from tests.unit.processors.feedback.builders import feedback, outcome


def test_report_window_keeps_recent_outcomes_and_counts_unjoined_feedback():
    outcomes = [
        outcome("old", decided_at_ms=100),
        outcome("new", Decision.AUTO_RESOLVED, decided_at_ms=5_000),
    ]
    fbs = [
        feedback(FeedbackKind.REOPENED, ticket_id="new", fid="a", occurred_at_ms=6_000),
        feedback(FeedbackKind.CSAT, ticket_id="old", fid="b", occurred_at_ms=6_000),
        feedback(FeedbackKind.REOPENED, ticket_id="new", fid="a", occurred_at_ms=6_000),  # replayed
    ]
    doc = build_report(outcomes, fbs, since_ms=1_000).as_dict()
    assert (doc["feedback"], doc["unjoined"]) == (2, 1)
    assert doc["paths"] == {"auto": doc["paths"]["auto"]} and doc["paths"]["auto"]["reopen_rate"] == 1.0


def test_report_table_lists_paths_intents_and_corrections():
    fix = feedback(
        FeedbackKind.INTENT_CORRECTION, corrected_intent="refund_request", fid="c", occurred_at_ms=6_000
    )
    text = render_table(build_report([outcome(decided_at_ms=5_000)], [fix], since_ms=0), since_ms=0)
    assert "suggested (all)" in " ".join(text.split())
    assert "suggested/cancel_subscription -> refund_request: 1" in text


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800)])
def test_duration_units_parse_to_seconds(text, seconds):
    assert duration_s(text) == seconds


def test_duration_without_unit_is_rejected():
    with pytest.raises(argparse.ArgumentTypeError):
        duration_s("24")
