from supportflow.processors.feedback.join import (
    MAX_PENDING,
    FeedbackJoin,
    MemoryStore,
    expired,
    freshdesk_link_tag,
)
from supportflow.schemas.models import Decision, FeedbackKind
from tests.unit.processors.feedback.builders import feedback, outcome


def test_join_feedback_after_outcome_joins_at_once():
    join = FeedbackJoin(MemoryStore())
    join.add_outcome(outcome(), now_ms=1)
    [joined] = join.add_feedback(feedback(), now_ms=2)
    assert (joined.decided.path, joined.decided.intent, joined.feedback.feedback_id) == (
        "suggested",
        "cancel_subscription",
        "fb_1",
    )


def test_join_feedback_before_outcome_is_pending_then_joined():
    join = FeedbackJoin(MemoryStore())
    assert join.add_feedback(feedback(), now_ms=1) == []
    [joined] = join.add_outcome(outcome(), now_ms=2)
    assert joined.feedback.feedback_id == "fb_1"


def test_join_replayed_feedback_id_counted_once():
    join = FeedbackJoin(MemoryStore())
    join.add_outcome(outcome(), now_ms=1)
    assert len(join.add_feedback(feedback(), now_ms=2)) == 1
    assert join.add_feedback(feedback(), now_ms=3) == []
    assert join.counts.duplicates == 1


def test_join_replayed_pending_feedback_counted_once_when_outcome_comes():
    join = FeedbackJoin(MemoryStore())
    join.add_feedback(feedback(), now_ms=1)
    join.add_feedback(feedback(), now_ms=2)
    assert len(join.add_outcome(outcome(), now_ms=3)) == 1


def test_join_feedback_by_external_id_finds_conversation_outcome():
    join = FeedbackJoin(MemoryStore())
    join.add_outcome(outcome(conversation_id="35436", decision=Decision.AUTO_RESOLVED), now_ms=1)
    [joined] = join.add_feedback(
        feedback(FeedbackKind.REOPENED, ticket_id="35436", external_id="35436"), now_ms=2
    )
    assert joined.decided.path == "auto"


def test_join_freshdesk_link_tag_finds_outcome():
    join = FeedbackJoin(MemoryStore())
    join.add_outcome(outcome(conversation_id="chat-9"), now_ms=1)
    assert join.add_feedback(feedback(ticket_id=freshdesk_link_tag("chat-9"), external_id="4211"), now_ms=2)


def test_join_pending_is_bounded_per_ticket():
    store = MemoryStore()
    join = FeedbackJoin(store)
    for i in range(MAX_PENDING + 5):
        join.add_feedback(feedback(fid=f"fb_{i}"), now_ms=i)
    assert len(join.add_outcome(outcome(), now_ms=100)) == MAX_PENDING
    assert join.counts.pending_dropped == 5


def test_expired_entry_older_than_max_age_is_expired():
    store = MemoryStore()
    FeedbackJoin(store).add_outcome(outcome(), now_ms=1_000)
    assert expired(store["tkt_1"], now_ms=5_000, max_age_ms=3_000)
    assert not expired(store["tkt_1"], now_ms=2_000, max_age_ms=3_000)
