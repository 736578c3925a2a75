"""Each source's payload -> ``Feedback`` records (none when the payload carries no feedback).

- API and JSONL records (``POST /feedback``, ``supportflow feedback publish``): supportflow's own shape,
  one object per feedback (docs/learning.md).
- Zendesk webhooks: ticket event subscriptions (``zen:event-type:ticket.status_changed`` and
  ``ticket.comment_added``) and a trigger posting a Satisfaction Ratings API object
  (``{"satisfaction_rating": {...}}``).
- Freshdesk automation webhooks: the ``{"freshdesk_webhook": {...}}`` body with ticket placeholders.

An agent's public reply is reported as ``draft_edited`` with its text: whether it is the draft sent
unchanged is for the join to say, which knows the draft (:mod:`.measure`).
"""

from __future__ import annotations

import re
from typing import Any

from supportflow.processors.feedback.records import (
    FeedbackError,
    build,
    content_id,
    feedback_id,
    hash_agent,
    load_json_object,
    text_field,
    timestamp_ms,
)
from supportflow.schemas.models import Feedback, FeedbackKind

_KINDS = {k.value: k for k in FeedbackKind}
#: Statuses of a ticket nobody works on any more; leaving one for an open status is a reopen.
_DONE = frozenset({"solved", "closed", "resolved"})
_OPEN = frozenset({"new", "open", "pending", "hold"})


def api_feedback(doc: Any, *, source: str, received_at_ms: int, agent_key: bytes | None) -> Feedback:
    """One supportflow-shaped record: ``ticket_id``/``external_id``, ``kind``, optional ``score``,
    ``edited_text``, ``corrected_intent``, ``agent_id``, ``occurred_at`` and ``feedback_id``."""
    if not isinstance(doc, dict):
        raise FeedbackError(f"a feedback record must be a JSON object, got {type(doc).__name__}")
    kind = _KINDS.get(text_field(doc, "kind"))
    if kind is None:
        raise FeedbackError(f"kind must be one of {', '.join(_KINDS)}")
    score = _score(doc.get("score"), kind)
    corrected = text_field(doc, "corrected_intent")
    if kind == FeedbackKind.INTENT_CORRECTION and not corrected:
        raise FeedbackError("an intent_correction needs corrected_intent")
    fid = text_field(doc, "feedback_id") or content_id(
        source, {k: v for k, v in doc.items() if k != "source"}
    )
    return build(
        fid=fid, ticket_id=text_field(doc, "ticket_id"), external_id=text_field(doc, "external_id"),
        kind=kind, source=source, score=score, text=text_field(doc, "edited_text"),
        corrected_intent=corrected, agent_id_hash=hash_agent(text_field(doc, "agent_id"), agent_key),
        occurred_at_ms=timestamp_ms(doc.get("occurred_at"), received_at_ms), received_at_ms=received_at_ms,
    )  # fmt: skip


def _score(value: Any, kind: FeedbackKind) -> float | None:
    if value is None:
        if kind == FeedbackKind.CSAT:
            raise FeedbackError("a csat record needs a score from 1 to 5")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 5:
        raise FeedbackError("score must be a number from 1 to 5")
    return float(value)


# -------------------------------------------------------------------------------------------- Zendesk


def zendesk_feedback(body: bytes, *, received_at_ms: int, agent_key: bytes | None) -> list[Feedback]:
    doc = load_json_object(body, "the Zendesk webhook body")
    if isinstance(doc.get("satisfaction_rating"), dict):
        return [_zendesk_rating(doc, received_at_ms, agent_key)]
    event_type = text_field(doc, "type")
    if not event_type.startswith("zen:event-type:ticket."):
        raise FeedbackError(
            "not a Zendesk ticket event (type zen:event-type:ticket.*) or satisfaction_rating"
        )
    detail = doc.get("detail")
    event = doc.get("event")
    if not isinstance(detail, dict) or not isinstance(event, dict):
        raise FeedbackError("a Zendesk ticket event needs the detail and event objects")
    zendesk_id = text_field(detail, "id")
    common = {
        "ticket_id": text_field(detail, "external_id") or zendesk_id, "external_id": zendesk_id,
        "source": "zendesk", "received_at_ms": received_at_ms,
        "occurred_at_ms": timestamp_ms(doc.get("time"), received_at_ms),
        "fid": feedback_id("zendesk", text_field(doc, "id") or content_id("zendesk", doc)),
    }  # fmt: skip
    if event_type == "zen:event-type:ticket.status_changed":
        return _zendesk_status(event, detail, common, agent_key)
    if event_type == "zen:event-type:ticket.comment_added":
        return _zendesk_comment(event, common, agent_key)
    return []  # another ticket event: no feedback in it


def _zendesk_status(
    event: dict[str, Any], detail: dict[str, Any], common: dict[str, Any], agent_key: bytes | None
) -> list[Feedback]:
    previous, current = (str(event.get(k) or "").lower() for k in ("previous", "current"))
    agent = hash_agent(text_field(detail, "actor_id") or text_field(detail, "assignee_id"), agent_key)
    if previous in _DONE and current in _OPEN:
        return [build(kind=FeedbackKind.REOPENED, **common)]
    if current == "solved" and previous in _OPEN:
        return [build(kind=FeedbackKind.ESCALATION_RESOLVED, agent_id_hash=agent, **common)]
    return []


def _zendesk_comment(
    event: dict[str, Any], common: dict[str, Any], agent_key: bytes | None
) -> list[Feedback]:
    comment = event.get("comment")
    if not isinstance(comment, dict):
        raise FeedbackError("a Zendesk comment_added event needs event.comment")
    author = comment.get("author")
    if not isinstance(author, dict):
        author = {}
    if comment.get("is_public") is not True or author.get("is_staff") is not True:
        return []  # an internal note or the customer's own message: not an answer to a draft
    body = text_field(comment, "body")
    agent = hash_agent(text_field(author, "id"), agent_key)
    return [build(kind=FeedbackKind.DRAFT_EDITED, text=body, agent_id_hash=agent, **common)]


def _zendesk_rating(doc: dict[str, Any], received_at_ms: int, agent_key: bytes | None) -> Feedback:
    rating: dict[str, Any] = doc["satisfaction_rating"]
    # Good/bad on the 1-5 scale every other source uses, so one CSAT means one thing.
    # The API says "good"/"bad"; a trigger's {{satisfaction.current_rating}} says e.g. "Good, I'm satisfied".
    said = text_field(rating, "score").lower()
    score = 5.0 if said.startswith("good") else 1.0 if said.startswith("bad") else None
    if score is None:
        raise FeedbackError(
            "satisfaction_rating.score must be good or bad (offered/unoffered carry no rating)"
        )
    zendesk_id = text_field(rating, "ticket_id")
    rating_id = text_field(rating, "id") or content_id("zendesk", rating)
    return build(
        fid=feedback_id("zendesk", "rating", rating_id, str(score)), kind=FeedbackKind.CSAT, score=score,
        ticket_id=text_field(doc, "external_id") or zendesk_id, external_id=zendesk_id, source="zendesk",
        agent_id_hash=hash_agent(text_field(rating, "assignee_id"), agent_key),
        occurred_at_ms=timestamp_ms(rating.get("updated_at") or rating.get("created_at"), received_at_ms),
        received_at_ms=received_at_ms,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------- Freshdesk

#: ``{{triggered_event}}`` renders as e.g. ``{status:{from:Resolved,to:Open}}`` or ``{reply_sent:sent}``.
_STATUS_CHANGE = re.compile(r"status\s*:\s*\{\s*from\s*:\s*([\w ]+?)\s*,\s*to\s*:\s*([\w ]+?)\s*\}", re.I)
#: Freshdesk's classic survey ratings (103 extremely happy .. -103 extremely unhappy) on a 1-5 scale.
_LINK_TAG = re.compile(r"sf-[0-9a-f]{20}")
_FRESHDESK_RATINGS = {103: 5.0, 102: 5.0, 101: 4.0, 100: 3.0, -101: 2.0, -102: 1.0, -103: 1.0}


def freshdesk_feedback(body: bytes, *, received_at_ms: int, agent_key: bytes | None) -> list[Feedback]:
    doc = load_json_object(body, "the Freshdesk webhook body")
    hook = doc.get("freshdesk_webhook")
    if not isinstance(hook, dict):
        raise FeedbackError('a Freshdesk automation webhook body is {"freshdesk_webhook": {...}}')
    freshdesk_id = text_field(hook, "ticket_id")
    if not freshdesk_id:
        raise FeedbackError("freshdesk_webhook.ticket_id is required")
    event = text_field(hook, "triggered_event")
    common = {
        "ticket_id": _conversation_tag(text_field(hook, "ticket_tags")) or freshdesk_id,
        "external_id": freshdesk_id, "source": "freshdesk", "received_at_ms": received_at_ms,
        "occurred_at_ms": timestamp_ms(hook.get("ticket_updated_at"), received_at_ms),
        "agent_id_hash": hash_agent(text_field(hook, "ticket_agent_email"), agent_key),
    }  # fmt: skip
    fid = content_id("freshdesk", hook)
    rating = text_field(hook, "ticket_satisfaction_rating")
    if rating:
        score = (
            _FRESHDESK_RATINGS.get(int(rating)) if rating.isascii() and rating.lstrip("-").isdigit() else None
        )
        if score is None:
            raise FeedbackError("ticket_satisfaction_rating must be a survey rating code (103 .. -103)")
        return [build(fid=fid, kind=FeedbackKind.CSAT, score=score, **common)]
    if change := _STATUS_CHANGE.search(event):
        previous, current = change.group(1).lower(), change.group(2).lower()
        if previous in _DONE and current in _OPEN:
            return [build(fid=fid, kind=FeedbackKind.REOPENED, **common)]
        if current == "resolved":
            return [build(fid=fid, kind=FeedbackKind.ESCALATION_RESOLVED, **common)]
        return []
    if "reply_sent" in event and (reply := text_field(hook, "ticket_latest_public_comment")):
        return [build(fid=fid, kind=FeedbackKind.DRAFT_EDITED, text=reply, **common)]
    return []


def _conversation_tag(tags: str) -> str:
    """The ``sf-<hash>`` tag egress puts on a Freshdesk ticket it created for a conversation: the join
    knows each outcome under that tag too, so feedback on such a ticket finds its outcome."""
    for tag in (t.strip() for t in tags.split(",")):
        if _LINK_TAG.fullmatch(tag):
            return tag
    return ""
