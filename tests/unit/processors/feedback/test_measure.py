import pytest

from supportflow.processors.feedback.join import FeedbackJoin, MemoryStore
from supportflow.processors.feedback.measure import FeedbackStats, edit_distance
from supportflow.schemas.models import Decision, FeedbackKind
from tests.unit.processors.feedback.builders import DRAFT, feedback, outcome


def stats_of(outcomes, feedbacks) -> FeedbackStats:
    join, stats = FeedbackJoin(MemoryStore()), FeedbackStats()
    for o in outcomes:
        stats.add_outcome(o)
        for j in join.add_outcome(o, 1):
            stats.add(j)
    for f in feedbacks:
        for j in join.add_feedback(f, 2):
            stats.add(j)
    return stats


def test_edit_distance_equal_texts_is_zero_and_disjoint_is_one():
    assert edit_distance("abc", "abc") == 0.0
    assert edit_distance("abc", "xyz") == 1.0


def test_measure_draft_sent_verbatim_as_edit_counts_as_accepted():
    stats = stats_of([outcome()], [feedback(FeedbackKind.DRAFT_EDITED, edited_text=DRAFT)])
    cell = stats.by_path()["suggested"].as_dict()
    assert (cell["draft_acceptance"], cell["edit_distance"]) == (1.0, 0.0)


def test_measure_rewritten_draft_is_edited_with_distance():
    rewritten = feedback(FeedbackKind.DRAFT_EDITED, edited_text="Please call us to cancel your plan.")
    cell = stats_of([outcome()], [rewritten]).by_path()["suggested"].as_dict()
    assert cell["draft_acceptance"] == 0.0 and cell["edit_distance"] > 0.3


def test_measure_reopen_rate_of_auto_answers_by_outcomes():
    outcomes = [outcome(f"t{i}", Decision.AUTO_RESOLVED) for i in range(4)]
    cell = stats_of(outcomes, [feedback(FeedbackKind.REOPENED, ticket_id="t0")]).by_path()["auto"].as_dict()
    assert (cell["outcomes"], cell["reopened"], cell["reopen_rate"]) == (4, 1, 0.25)


@pytest.mark.parametrize(("score", "satisfied"), [(5.0, 1.0), (4.0, 1.0), (3.0, 0.0), (1.0, 0.0)])
def test_measure_csat_satisfied_share_is_four_or_five(score, satisfied):
    cell = stats_of([outcome()], [feedback(score=score)]).by_path()["suggested"].as_dict()
    assert cell["csat"] == satisfied


def test_measure_intent_correction_counted_with_target_intent():
    fix = feedback(FeedbackKind.INTENT_CORRECTION, corrected_intent="refund_request")
    row = stats_of([outcome()], [fix]).as_dict()["by_intent"][0]
    assert (row["intent"], row["corrections"], row["corrected_to"]) == (
        "cancel_subscription",
        1,
        {"refund_request": 1},
    )
