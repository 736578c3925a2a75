"""Zendesk Support: one ``PUT /api/v2/tickets/{id}.json`` per outcome (Tickets API update format).

- auto_resolved: public comment with the answer, status ``solved`` (or ``pending`` to wait for the
  customer's confirmation), tags.
- suggested: internal note (``public: false``) carrying the draft, tags ``supportflow``, ``suggested``,
  the intent.
- escalated: internal note with the escalation context, ``group_id`` from the group map, ``priority``,
  tags ``supportflow``, ``escalated`` and one per reason. With a ``handoff_message``, a second update
  (step ``handoff``) posts it as a public comment once the escalation is applied.
- closed (the customer ended the conversation): internal note "Customer closed the conversation (turn
  N)" (or, with a closing acknowledgement configured, a public comment with it), status ``solved``, tag
  ``supportflow-closed``; no group or priority.

Suggested and escalated notes end with the conversation so far (:func:`.fields.conversation_section`).

Tags go in ``additional_tags``, which appends: ``tags`` on an update would replace every tag an agent
or trigger already set. One request per outcome keeps the update atomic in Zendesk (no half-applied
outcome); the escalation handoff is the exception, because an update carries exactly one ``comment``
(public or not) and the Tickets API has no list of comments on update. The handoff is its own step in
the idempotency store, so a redelivery after it landed sends nothing, and one after only the note
landed sends only the handoff. Auth: API token, ``{email}/token:{token}`` basic auth.

Duplicates: a 409 answer to a request carrying our ``Idempotency-Key`` (a request with that key is
already applied or in flight) and a replayed response (``x-idempotency-lookup: hit``) both count as
delivered, not as errors. Zendesk's own key support is documented for ticket creation; for updates the
local idempotency store (:mod:`.store`) is what prevents a second post.

A conversation that did not come from Zendesk (its reference is not a numeric ticket id) is linked to
the ticket whose ``external_id`` is the conversation id: ``GET /api/v2/tickets.json?external_id=...``
(the Tickets API's list by external id), else ``POST /api/v2/tickets.json`` with that ``external_id``
and a neutral internal opening note (:mod:`.tickets`). The update then goes to that ticket and carries
the message's own ``external_id`` (and supportflow's ticket id) in the audit ``metadata``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

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
        elif outcome.decision == Decision.CLOSED:
            # The configured acknowledgement, if any, is the customer's last word back; else a note.
            ack = outcome.answer.strip()
            ticket["comment"] = (
                {"body": ack, "public": True} if ack else {"body": closed_note(outcome), "public": False}
            )
            ticket["status"] = "solved"
        else:
            ticket["comment"] = {"body": escalation_note(outcome), "public": False}
            ticket["priority"] = escalation_priority(outcome, self._settings)
            group = escalation_group(outcome, self._settings)
            if group is not None:
                ticket["group_id"] = group
        return {"ticket": ticket}

    def ticket_link(self, outcome: Outcome) -> TicketLink | None:
        """None when the outcome refers to a Zendesk ticket; else how to find or create its ticket."""
        require_answer(outcome)
        if referenced_ticket_id(outcome, self._ticket_ref) is not None:
            return None
        conversation = outcome.conversation_id
        find_url = f"{self._base}/api/v2/tickets.json?{urlencode({'external_id': conversation})}"
        create_url = f"{self._base}/api/v2/tickets.json"
        return TicketLink(
            conversation_id=conversation,
            find=HttpCall("find", "GET", find_url),
            create=HttpCall("create", "POST", create_url, json_body=self.ticket_creation(outcome)),
            found_id=lambda answer: oldest_ticket_id(_get(answer, "tickets"), f"GET {find_url}"),
            created_id=lambda answer: ticket_id_of(_get(answer, "ticket"), f"POST {create_url}"),
        )

    def ticket_creation(self, outcome: Outcome) -> dict[str, Any]:
        """The ``{"ticket": {...}}`` body that opens a ticket for a conversation Zendesk has none for."""
        ticket: dict[str, Any] = {
            "external_id": outcome.conversation_id,
            "subject": f"{str(outcome.channel).capitalize()} conversation {outcome.conversation_id}",
            "comment": {"body": opening_note(outcome), "public": False},
            "tags": ["supportflow", tag(f"channel_{outcome.channel}")],
            "metadata": {"supportflow": {"conversation_id": outcome.conversation_id}},
        }
        contact = requester_contact(outcome, self._settings, phone=False)
        if contact is not None:  # else Zendesk makes the API user the requester
            ticket["requester"] = {"email": contact[1], "name": contact[1]}
        return {"ticket": ticket}

    def calls(self, outcome: Outcome, ticket_id: str | None = None) -> list[HttpCall]:
        """The update of ``ticket_id`` (a linked ticket), or else of the ticket the outcome refers to,
        then the public handoff of an escalation that has one."""
        require_answer(outcome)
        bodies = [("", self.ticket_update(outcome))]
        handoff = handoff_reply(outcome)
        if handoff is not None:  # after the note: a person is promised once the ticket is routed
            bodies.append(("handoff", {"ticket": {"comment": {"body": handoff, "public": True}}}))
        if ticket_id is None:
            ticket_id = numeric_ticket_id(outcome, self._ticket_ref, "zendesk")
        else:
            metadata = {"supportflow": {"external_id": outcome.external_id, "ticket_id": outcome.ticket_id}}
            for _, body in bodies:
                body["ticket"]["metadata"] = metadata
        url = f"{self._base}/api/v2/tickets/{ticket_id}.json"
        # The first step keeps the name "" so keys recorded before the handoff step existed still match.
        return [HttpCall(step=step, method="PUT", url=url, json_body=body) for step, body in bodies]


def _get(answer: Any, name: str) -> Any:
    return answer.get(name) if isinstance(answer, dict) else None
