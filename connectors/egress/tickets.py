"""Finding or creating the helpdesk ticket of a conversation that did not come from the helpdesk.

An email, chat, WhatsApp or API conversation has no helpdesk ticket id. Its first outcome creates one,
and the ticket carries the conversation id (Zendesk ``external_id``, Freshdesk tag ``sf-<hash>``), so
every later message of the conversation, a retry and a redelivery all find that ticket instead of
creating another:

1. the local idempotency store's link (conversation -> helpdesk ticket id), recorded after a lookup or
   a creation, so a worker asks the helpdesk once per conversation;
2. else the helpdesk lookup by the conversation id (the connector's ``find`` request);
3. else the creation (``create``), whose ``Idempotency-Key`` depends on the conversation only: a
   creation re-sent after a crash is answered with the first one's replay by a helpdesk that dedupes.

The created ticket holds a neutral opening note, not the outcome: the outcome's reply or note is posted
afterwards by the usual update steps, whose keys are in the store, so it is posted once even when a
crash falls between the creation and the store's link.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from supportflow.connectors.egress.delivery import Deliverer, HttpCall, idempotency_key
from supportflow.connectors.egress.store import IdempotencyStore
from supportflow.schemas.errors import PermanentError, SupportflowError


@dataclass(frozen=True)
class TicketLink:
    """How one helpdesk finds, or else creates, the ticket that carries ``conversation_id``."""

    conversation_id: str
    find: HttpCall
    create: HttpCall
    found_id: Callable[[Any], str | None]  # the lookup's JSON answer -> the ticket id, None if absent
    created_id: Callable[[Any], str]  # the creation's JSON answer -> the new ticket id


class TicketRequestFailed(Exception):
    """A lookup or creation failed; ``error`` says why and ``call`` which request (for the dead letter)."""

    def __init__(self, error: SupportflowError, call: HttpCall) -> None:
        super().__init__(str(error))
        self.error = error
        self.call = call


@dataclass(frozen=True)
class Resolved:
    ticket_id: str
    requests_sent: int = 0
    already_applied: int = 0


def resolve_ticket(
    link: TicketLink, connector: str, deliverer: Deliverer, store: IdempotencyStore
) -> Resolved:
    """The helpdesk ticket id for ``link``; raises :class:`TicketRequestFailed` when a request fails."""
    known = store.linked_ticket(connector, link.conversation_id)
    if known is not None:
        return Resolved(known)
    sent = applied = 0
    ticket_id: str | None = None
    for step, call in (("find", link.find), ("create", link.create)):
        key = idempotency_key(connector, link.conversation_id, "ticket", step)
        try:
            result = deliverer.send(call, key)
            answer = _json(result.body, call)
            ticket_id = link.found_id(answer) if step == "find" else link.created_id(answer)
        except SupportflowError as exc:  # DeliveryInterrupted passes through: the worker is stopping
            raise TicketRequestFailed(exc, call) from exc
        sent += result.attempts
        applied += result.already_applied
        if ticket_id is not None:
            break
    assert ticket_id is not None  # created_id returns a str or raises
    store.link_ticket(connector, link.conversation_id, ticket_id)
    return Resolved(ticket_id, sent, applied)


def _json(body: bytes, call: HttpCall) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PermanentError(f"{call.method} {call.url}: the answer is not JSON") from exc


def ticket_id_of(record: Any, call: str) -> str:
    """The numeric ``id`` of one ticket in a helpdesk answer; anything else is a permanent error."""
    ticket_id = record.get("id") if isinstance(record, dict) else None
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int | str) or not str(ticket_id).isdigit():
        raise PermanentError(f"{call}: the answer carries no ticket id")
    return str(ticket_id)


def oldest_ticket_id(records: Any, call: str) -> str | None:
    """The lowest id among the tickets a lookup returned (the first one created), None when none."""
    if not isinstance(records, list):
        raise PermanentError(f"{call}: the answer carries no ticket list")
    ids = [ticket_id_of(r, call) for r in records]
    return min(ids, key=int) if ids else None
