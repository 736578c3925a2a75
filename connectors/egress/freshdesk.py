"""Freshdesk: a conversation request, then a ticket update (API v2).

- auto_resolved: ``POST /api/v2/tickets/{id}/reply`` (public reply), then ``PUT /api/v2/tickets/{id}``
  with status 4 (resolved) or 3 (pending) and tags.
- suggested: ``POST /api/v2/tickets/{id}/notes`` with ``private: true`` carrying the draft, then tags.
- escalated: private note with the escalation context, then ``group_id``, ``priority`` (1 low .. 4
  urgent) and tags.

Freshdesk has no combined "comment + update" call, so an outcome is two requests. Each is its own step
in the idempotency store: if the update fails after the reply landed, a retry or redelivery re-sends
only the update, never the reply. Bodies are HTML (Freshdesk renders ``body`` as HTML), so text is
escaped and newlines become ``<br>``. ``tags`` on a Freshdesk update replaces the ticket's tags (v2 has
no append): the tags we set are the supportflow ones. Auth: ``{api_key}:X`` basic auth.
"""

from __future__ import annotations

import html
from typing import Any

import httpx

from supportflow.connectors.egress.delivery import HttpCall
from supportflow.connectors.egress.fields import (
    TicketRef,
    conversation_ref,
    decision_tags,
    draft_note,
    escalation_group,
    escalation_note,
    escalation_priority,
    numeric_ticket_id,
    require_settings,
)
from supportflow.connectors.egress.settings import EgressSettings
from supportflow.schemas.errors import PermanentError
from supportflow.schemas.models import Decision, Outcome

STATUS = {"pending": 3, "solved": 4}  # Freshdesk: 2 open, 3 pending, 4 resolved, 5 closed
PRIORITY = {"low": 1, "normal": 2, "high": 3, "urgent": 4}


def as_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


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

    def calls(self, outcome: Outcome) -> list[HttpCall]:
        ticket_id = numeric_ticket_id(outcome, self._ticket_ref, "freshdesk")
        base = f"{self._base}/api/v2/tickets/{ticket_id}"
        update: dict[str, Any] = {"tags": decision_tags(outcome)}
        if outcome.decision == Decision.AUTO_RESOLVED:
            if not outcome.answer.strip():
                raise PermanentError(f"auto_resolved ticket {outcome.ticket_id} has no answer to post")
            first = HttpCall("reply", "POST", f"{base}/reply", json_body={"body": as_html(outcome.answer)})
            update["status"] = STATUS[self._settings.auto_resolved_status]
        elif outcome.decision == Decision.SUGGESTED:
            note = {"body": as_html(draft_note(outcome)), "private": True}
            first = HttpCall("note", "POST", f"{base}/notes", json_body=note)
        else:
            note = {"body": as_html(escalation_note(outcome)), "private": True}
            first = HttpCall("note", "POST", f"{base}/notes", json_body=note)
            update["priority"] = PRIORITY[escalation_priority(outcome, self._settings)]
            group = escalation_group(outcome, self._settings)
            if group is not None:
                update["group_id"] = group
        return [first, HttpCall("update", "PUT", base, json_body=update)]
