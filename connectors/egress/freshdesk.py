"""Freshdesk: a conversation request, then a ticket update (API v2).

- auto_resolved: ``POST /api/v2/tickets/{id}/reply`` (public reply), then ``PUT /api/v2/tickets/{id}``
  with status 4 (resolved) or 3 (pending) and tags.
- suggested: ``POST /api/v2/tickets/{id}/notes`` with ``private: true`` carrying the draft, then tags.
- escalated: private note with the escalation context, then ``group_id``, ``priority`` (1 low .. 4
  urgent) and tags; with a ``handoff_message``, then ``POST /api/v2/tickets/{id}/reply`` carrying it
  (step ``handoff``), once the escalation is applied.
- closed (the customer ended the conversation): private note "Customer closed the conversation (turn
  N)" (or, with a closing acknowledgement configured, a public reply with it), then status 4 (resolved)
  and tags including ``supportflow-closed``; no group or priority.

Suggested and escalated notes end with the conversation so far (:func:`.fields.conversation_section`).

Freshdesk has no combined "comment + update" call, so an outcome is two requests (three with a
handoff). Each is its own step in the idempotency store: if the update fails after the reply landed, a
retry or redelivery re-sends only the update, never the reply; a handoff is posted once the same way. Bodies are HTML (Freshdesk renders ``body`` as HTML), so text is
escaped and newlines become ``<br>``. ``tags`` on a Freshdesk update replaces the ticket's tags (v2 has
no append): the tags we set are the supportflow ones. Auth: ``{api_key}:X`` basic auth.

A conversation that did not come from Freshdesk (its reference is not a numeric ticket id) is linked to
the ticket tagged ``sf-<first 20 hex of sha256(conversation id)>`` (tags are what the ticket search can
filter on without configuring a custom field): ``GET /api/v2/search/tickets?query="tag:'sf-...'"``,
else ``POST /api/v2/tickets`` with the requester (the outcome's contact or
``SUPPORTFLOW_EGRESS__FALLBACK_REQUESTER_EMAIL``), that tag and a neutral opening description
(:mod:`.tickets`). Updates of a linked ticket keep the tag in ``tags`` so the next lookup finds it.
"""

from __future__ import annotations

import hashlib
import html
from typing import Any
from urllib.parse import quote

import httpx

from supportflow.connectors.egress.delivery import HttpCall
from supportflow.connectors.egress.fields import (
    TicketRef,
    closed_note,
    conversation_ref,
    decision_tags,
    draft_note,
    escalation_group,
    escalation_note,
    escalation_priority,
    handoff_reply,
    numeric_ticket_id,
    opening_note,
    referenced_ticket_id,
    requester_contact,
    require_answer,
    require_settings,
    tag,
)
from supportflow.connectors.egress.settings import EgressSettings
from supportflow.connectors.egress.tickets import TicketLink, oldest_ticket_id, ticket_id_of
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Decision, Outcome

STATUS = {"pending": 3, "solved": 4}  # Freshdesk: 2 open, 3 pending, 4 resolved, 5 closed
#: A conversation the customer closed is resolved, not closed: like Zendesk ``solved``, the ticket stays
#: editable and a later reply from the customer reopens it.
CLOSED_STATUS = 4
PRIORITY = {"low": 1, "normal": 2, "high": 3, "urgent": 4}


def as_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def conversation_tag(conversation_id: str) -> str:
    """The tag that marks the ticket of a conversation: short, query-safe, the same on every worker."""
    return "sf-" + hashlib.sha256(conversation_id.encode()).hexdigest()[:20]


class FreshdeskConnector:
    name = "freshdesk"
    already_applied_statuses: frozenset[int] = frozenset()

    def __init__(self, settings: EgressSettings, ticket_ref: TicketRef = conversation_ref) -> None:
        require_settings(settings, self.name, "base_url", "api_token")
        self._settings = settings
        self._base = settings.base_url.rstrip("/")
        self._ticket_ref = ticket_ref

    def auth(self) -> httpx.Auth:
        key = self._settings.api_token
        assert key is not None  # checked in __init__
        return httpx.BasicAuth(key.get_secret_value(), "X")

    def ticket_link(self, outcome: Outcome) -> TicketLink | None:
        """None when the outcome refers to a Freshdesk ticket; else how to find or create its ticket."""
        require_answer(outcome)
        if referenced_ticket_id(outcome, self._ticket_ref) is not None:
            return None
        query = quote(f"\"tag:'{conversation_tag(outcome.conversation_id)}'\"", safe="")
        find_url = f"{self._base}/api/v2/search/tickets?query={query}"
        create_url = f"{self._base}/api/v2/tickets"
        return TicketLink(
            conversation_id=outcome.conversation_id,
            find=HttpCall("find", "GET", find_url),
            create=HttpCall("create", "POST", create_url, json_body=self.ticket_creation(outcome)),
            found_id=lambda answer: oldest_ticket_id(
                answer.get("results") if isinstance(answer, dict) else None, f"GET {find_url}"
            ),
            created_id=lambda answer: ticket_id_of(answer, f"POST {create_url}"),
        )

    def ticket_creation(self, outcome: Outcome) -> dict[str, Any]:
        """The body that opens a ticket for a conversation Freshdesk has none for."""
        contact = requester_contact(outcome, self._settings)
        if contact is None:
            raise InvalidInputError(
                f"freshdesk: conversation {outcome.conversation_id} of ticket {outcome.ticket_id} has no "
                "requester contact; set SUPPORTFLOW_EGRESS__FALLBACK_REQUESTER_EMAIL"
            )
        kind, value = contact
        return {
            kind: value,
            **({"name": value} if kind == "phone" else {}),  # Freshdesk needs a name with a bare phone
            "subject": f"{str(outcome.channel).capitalize()} conversation {outcome.conversation_id}",
            "description": as_html(opening_note(outcome)),
            "status": 2,  # open
            "priority": PRIORITY["low"],
            "tags": [
                "supportflow",
                conversation_tag(outcome.conversation_id),
                tag(f"channel_{outcome.channel}"),
            ],
        }

    def calls(self, outcome: Outcome, ticket_id: str | None = None) -> list[HttpCall]:
        """Reply or note, then update, on ``ticket_id`` (a linked ticket) or the referenced ticket."""
        require_answer(outcome)
        update: dict[str, Any] = {"tags": decision_tags(outcome)}
        if ticket_id is None:
            ticket_id = numeric_ticket_id(outcome, self._ticket_ref, "freshdesk")
        else:  # tags replace: keep the one the lookup finds the ticket by
            update["tags"].append(conversation_tag(outcome.conversation_id))
        base = f"{self._base}/api/v2/tickets/{ticket_id}"
        if outcome.decision == Decision.AUTO_RESOLVED:
            first = _reply("reply", base, outcome.answer)
            update["status"] = STATUS[self._settings.auto_resolved_status]
        elif outcome.decision == Decision.SUGGESTED:
            first = _note(base, draft_note(outcome))
        elif outcome.decision == Decision.CLOSED:
            # The configured acknowledgement, if any, is the customer's last word back; else a note.
            ack = outcome.answer.strip()
            first = _reply("reply", base, outcome.answer) if ack else _note(base, closed_note(outcome))
            update["status"] = CLOSED_STATUS
        else:
            first = _note(base, escalation_note(outcome))
            update["priority"] = PRIORITY[escalation_priority(outcome, self._settings)]
            group = escalation_group(outcome, self._settings)
            if group is not None:
                update["group_id"] = group
        calls = [first, HttpCall("update", "PUT", base, json_body=update)]
        handoff = handoff_reply(outcome)
        if handoff is not None:  # last: a person is promised once the ticket is routed
            calls.append(_reply("handoff", base, handoff))
        return calls


def _reply(step: str, base: str, text: str) -> HttpCall:
    """A public reply to the customer on the ticket at ``base``."""
    return HttpCall(step, "POST", f"{base}/reply", json_body={"body": as_html(text)})


def _note(base: str, text: str) -> HttpCall:
    """A private note for the agents on the ticket at ``base``."""
    return HttpCall("note", "POST", f"{base}/notes", json_body={"body": as_html(text), "private": True})
