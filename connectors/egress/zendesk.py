"""Zendesk Support: one ``PUT /api/v2/tickets/{id}.json`` per outcome (Tickets API update format).

- auto_resolved: public comment with the answer, status ``solved`` (or ``pending`` to wait for the
  customer's confirmation), tags.
- suggested: internal note (``public: false``) carrying the draft, tags ``supportflow``, ``suggested``,
  the intent.
- escalated: internal note with the escalation context, ``group_id`` from the group map, ``priority``,
  tags ``supportflow``, ``escalated`` and one per reason.

Tags go in ``additional_tags``, which appends: ``tags`` on an update would replace every tag an agent
or trigger already set. One request per outcome keeps the update atomic in Zendesk (no half-applied
outcome). Auth: API token, ``{email}/token:{token}`` basic auth.

Duplicates: a 409 answer to a request carrying our ``Idempotency-Key`` (a request with that key is
already applied or in flight) and a replayed response (``x-idempotency-lookup: hit``) both count as
delivered, not as errors. Zendesk's own key support is documented for ticket creation; for updates the
local idempotency store (:mod:`.store`) is what prevents a second post.
"""

from __future__ import annotations

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


class ZendeskConnector:
    name = "zendesk"
    already_applied_statuses = frozenset({409})

    def __init__(self, settings: EgressSettings, ticket_ref: TicketRef = conversation_ref) -> None:
        require_settings(settings, self.name, "base_url", "email", "api_token")
        self._settings = settings
        self._base = settings.base_url.rstrip("/")
        self._ticket_ref = ticket_ref

    def auth(self) -> httpx.Auth:
        token = self._settings.api_token
        assert token is not None  # checked in __init__
        return httpx.BasicAuth(f"{self._settings.email}/token", token.get_secret_value())

    def ticket_update(self, outcome: Outcome) -> dict[str, Any]:
        """The ``{"ticket": {...}}`` body for ``outcome`` (public so tests and docs can show it)."""
        ticket: dict[str, Any] = {"additional_tags": decision_tags(outcome)}
        if outcome.decision == Decision.AUTO_RESOLVED:
            ticket["comment"] = {"body": outcome.answer, "public": True}
            ticket["status"] = self._settings.auto_resolved_status
        elif outcome.decision == Decision.SUGGESTED:
            ticket["comment"] = {"body": draft_note(outcome), "public": False}
        else:
            ticket["comment"] = {"body": escalation_note(outcome), "public": False}
            ticket["priority"] = escalation_priority(outcome, self._settings)
            group = escalation_group(outcome, self._settings)
            if group is not None:
                ticket["group_id"] = group
        return {"ticket": ticket}

    def calls(self, outcome: Outcome) -> list[HttpCall]:
        if outcome.decision == Decision.AUTO_RESOLVED and not outcome.answer.strip():
            raise PermanentError(f"auto_resolved ticket {outcome.ticket_id} has no answer to post")
        ticket_id = numeric_ticket_id(outcome, self._ticket_ref, "zendesk")
        url = f"{self._base}/api/v2/tickets/{ticket_id}.json"
        return [HttpCall(step="", method="PUT", url=url, json_body=self.ticket_update(outcome))]
