from supportflow.processors.feedback.join import FeedbackJoin, MemoryStore
from supportflow.processors.feedback.labels import feedback_labels, merge_rows
from supportflow.schemas.models import FeedbackKind
from tests.unit.processors.feedback.builders import DRAFT, feedback, outcome


def joined_pairs(*fbs):
    join = FeedbackJoin(MemoryStore())
    join.add_outcome(outcome("t1"), 1)
    join.add_outcome(outcome("t2"), 1)
    return [pair for f in fbs for pair in join.add_feedback(f, 2)]


def test_labels_correction_wins_over_confirmation_and_unchanged_draft_confirms():
    pairs = joined_pairs(
        feedback(FeedbackKind.DRAFT_EDITED, "t1", "a", edited_text=DRAFT),
        feedback(FeedbackKind.INTENT_CORRECTION, "t1", "b", corrected_intent="pause_subscription"),
        feedback(FeedbackKind.DRAFT_SENT_UNCHANGED, "t2", "c"),
    )
    rows = feedback_labels(pairs, {"t1": "stop my plan for a month", "t2": "cancel my plan"})
    assert [(r.text, r.label, r.why) for r in rows] == [
        ("stop my plan for a month", "pause_subscription", "corrected"),
        ("cancel my plan", "cancel_subscription", "confirmed"),
    ]


def test_labels_without_ticket_text_are_skipped():
    pairs = joined_pairs(feedback(FeedbackKind.DRAFT_SENT_UNCHANGED, "t1", "a"))
    assert feedback_labels(pairs, {}) == []


def test_merge_rows_relabels_present_texts_and_appends_new_ones():
    merged = merge_rows(["a", "b"], ["x", "y"], ["b", "c"], ["z", "y"])
    assert (merged.texts, merged.labels, merged.added, merged.relabelled) == (
        ["a", "b", "c"],
        ["x", "z", "y"],
        1,
        1,
    )


def test_eval_route_train_with_feedback_writes_merged_csv(tmp_path):
    from supportflow.cli.router import _train_with_feedback
    from supportflow.evals.route import load_csv

    train, labels = tmp_path / "train.csv", tmp_path / "labels.csv"
    train.write_text("text,label\ncancel my plan,cancel_subscription\nstop for a month,cancel_subscription\n")
    labels.write_text(
        "text,label,why\nstop for a month,pause_subscription,corrected\nhi there,greeting,confirmed\n"
    )
    merged = _train_with_feedback(train, labels, tmp_path)
    assert load_csv(merged) == (
        ["cancel my plan", "stop for a month", "hi there"],
        ["cancel_subscription", "pause_subscription", "greeting"],
    )
    assert _train_with_feedback(train, None, tmp_path) == train
