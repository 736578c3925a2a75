"""What the pipeline needs from a CRM: one lookup, by whichever identifier the ticket carries."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from supportflow.schemas.models import CustomerContext

# The resolver only needs recent history; older orders bloat every record downstream.
MAX_ORDERS = 10


@runtime_checkable
class CrmConnector(Protocol):
    def find_customer(
        self, *, customer_id: str | None = None, email: str | None = None, phone: str | None = None
    ) -> CustomerContext | None:
        """The customer matching the first identifier that matches (id, then email, then phone), with
        at most MAX_ORDERS orders, newest first; None when nobody matches.

        Raises TransientError when the CRM is unreachable (retry), PermanentError when it rejects us.
        """
        ...

    def close(self) -> None: ...
