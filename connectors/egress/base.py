"""What an egress connector is: a pure mapping from an outcome to the HTTP requests that apply it.

Connectors build requests; they never send them. Sending, retrying, idempotency and dead-lettering
live once in :mod:`.delivery` and :mod:`.dispatch`, so the three connectors differ only in wire format.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from supportflow.connectors.egress.delivery import HttpCall
from supportflow.schemas.models import Outcome


class Connector(Protocol):
    #: Short name: the CLI sub-command, the dead-letter stage ``egress:<name>``, the store file name.
    name: str
    #: Non-2xx statuses that mean the helpdesk already applied this exact request.
    already_applied_statuses: frozenset[int]

    def auth(self) -> httpx.Auth | None: ...

    def calls(self, outcome: Outcome) -> list[HttpCall]:
        """The requests, in order, that apply ``outcome``; each has a step name unique in the list.

        Raises :class:`~supportflow.schemas.errors.PermanentError` when the outcome cannot be applied
        (e.g. no helpdesk ticket id): it is dead-lettered without any request.
        """
        ...
