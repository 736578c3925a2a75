"""What an egress connector is: a pure mapping from an outcome to the HTTP requests that apply it.

Connectors build requests; they never send them. Sending, retrying, idempotency and dead-lettering
live once in :mod:`.delivery` and :mod:`.dispatch`, so the three connectors differ only in wire format.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from supportflow.connectors.egress.delivery import HttpCall
from supportflow.connectors.egress.tickets import TicketLink
from supportflow.schemas.models import Outcome


class Connector(Protocol):
    #: Short name: the CLI sub-command, the dead-letter stage ``egress:<name>``, the store file name.
    name: str
    #: Non-2xx statuses that mean the helpdesk already applied this exact request.
    already_applied_statuses: frozenset[int]

    def auth(self) -> httpx.Auth | None: ...

    def ticket_link(self, outcome: Outcome) -> TicketLink | None:
        """How to find or create the helpdesk ticket of ``outcome``'s conversation when the outcome
        refers to none (:mod:`.tickets`); None when it does, or when the target has no tickets."""
        ...

    def calls(self, outcome: Outcome, ticket_id: str | None = None) -> list[HttpCall]:
        """The requests, in order, that apply ``outcome`` (to ``ticket_id`` when a link resolved one);
        each has a step name unique in the list.

        Raises :class:`~supportflow.schemas.errors.PermanentError` when the outcome cannot be applied
        (e.g. an auto-resolution without an answer): it is dead-lettered without any request.
        """
        ...
