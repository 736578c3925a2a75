import orjson
import pytest

from supportflow.processors.feedback.parse import api_feedback, freshdesk_feedback, zendesk_feedback
from supportflow.processors.feedback.records import FeedbackError, hash_agent
from supportflow.schemas.models import FeedbackKind
from tests.unit.processors.feedback.builders import KEY, sample


def zendesk(name):
    return zendesk_feedback(sample(name), received_at_ms=5, agent_key=KEY)


def freshdesk(body):
    return freshdesk_feedback(body, received_at_ms=5, agent_key=KEY)


def test_zendesk_status_solved_to_open_is_reopened_on_conversation_id():
    [fb] = zendesk("zendesk_status_reopened.json")
    assert (fb.kind, fb.ticket_id, fb.external_id, fb.source) == (
        FeedbackKind.REOPENED,
        "conv-zd-1",
        "35436",
        "zendesk",
    )
    assert fb.occurred_at_ms == 1_796_552_102_000


def test_zendesk_public_agent_comment_is_redacted_draft_edit_with_hashed_agent():
    [fb] = zendesk("zendesk_comment_added.json")
    assert fb.kind == FeedbackKind.DRAFT_EDITED
    assert "jane.doe@example.com" not in fb.edited_text and "[EMAIL]" in fb.edited_text
    assert fb.agent_id_hash == hash_agent("20978392", KEY) and "20978392" not in fb.agent_id_hash


def test_zendesk_customer_comment_carries_no_feedback():
    doc = orjson.loads(sample("zendesk_comment_added.json"))
    doc["event"]["comment"]["author"]["is_staff"] = False
    assert zendesk_feedback(orjson.dumps(doc), received_at_ms=5, agent_key=KEY) == []


def test_zendesk_bad_satisfaction_rating_is_csat_one():
    [fb] = zendesk("zendesk_satisfaction_rating.json")
    assert (fb.kind, fb.score, fb.ticket_id, fb.external_id) == (FeedbackKind.CSAT, 1.0, "conv-zd-1", "35436")


def test_zendesk_redelivered_event_keeps_its_feedback_id():
    assert (
        zendesk("zendesk_comment_added.json")[0].feedback_id
        == zendesk("zendesk_comment_added.json")[0].feedback_id
    )


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"type": "zen:event-type:user.created"}'])
def test_zendesk_malformed_body_raises_feedback_error(body):
    with pytest.raises(FeedbackError):
        zendesk_feedback(body, received_at_ms=5, agent_key=KEY)


def test_freshdesk_reply_sent_is_draft_edit_linked_by_sf_tag():
    [fb] = freshdesk(sample("freshdesk_reply_sent.json"))
    assert (fb.kind, fb.ticket_id, fb.external_id) == (
        FeedbackKind.DRAFT_EDITED,
        "sf-5e0a1b2c3d4e5f6a7b8c",
        "4211",
    )
    assert fb.edited_text.startswith("You can cancel") and fb.agent_id_hash


def test_freshdesk_extremely_happy_rating_is_csat_five():
    [fb] = freshdesk(sample("freshdesk_csat.json"))
    assert (fb.kind, fb.score) == (FeedbackKind.CSAT, 5.0)


def test_freshdesk_resolved_to_open_is_reopened_on_freshdesk_id():
    [fb] = freshdesk(sample("freshdesk_reopened.json"))
    assert (fb.kind, fb.ticket_id) == (FeedbackKind.REOPENED, "4212")


def test_freshdesk_body_without_wrapper_raises_feedback_error():
    with pytest.raises(FeedbackError, match="freshdesk_webhook"):
        freshdesk(b'{"ticket_id": "1"}')


def test_api_record_without_kind_raises_feedback_error():
    with pytest.raises(FeedbackError, match="kind"):
        api_feedback({"ticket_id": "t1"}, source="api", received_at_ms=5, agent_key=KEY)


def test_api_csat_without_score_raises_feedback_error():
    with pytest.raises(FeedbackError, match="score"):
        api_feedback({"ticket_id": "t1", "kind": "csat"}, source="api", received_at_ms=5, agent_key=KEY)


def test_api_record_without_id_gets_content_id_same_on_republish():
    doc = {
        "ticket_id": "t1",
        "kind": "csat",
        "score": 4,
        "agent_id": "a-1",
        "occurred_at": "2026-12-06T10:00:00Z",
    }
    first = api_feedback(doc, source="file", received_at_ms=5, agent_key=KEY)
    again = api_feedback(dict(doc), source="file", received_at_ms=9, agent_key=KEY)
    assert first.feedback_id == again.feedback_id and first.occurred_at_ms == 1_796_551_200_000


def test_hash_agent_without_key_drops_the_id():
    assert hash_agent("agent@example.com", None) == ""


def test_zendesk_trigger_rating_text_good_is_csat_five():
    body = (
        b'{"external_id": "c1", "satisfaction_rating": {"ticket_id": "7", "score": "Good, I\'m satisfied"}}'
    )
    [fb] = zendesk_feedback(body, received_at_ms=5, agent_key=KEY)
    assert (fb.score, fb.ticket_id, fb.external_id) == (5.0, "c1", "7")
