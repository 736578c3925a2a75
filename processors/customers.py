"""What the stages need from a customer directory (a CRM): one lookup, by whichever identifier the
ticket carries. The CRM connectors (connectors/crm) implement it; the worker is given one."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from supportflow.schemas.models import CustomerContext


@runtime_checkable
class CustomerDirectory(Protocol):
    def find_customer(
        self, *, customer_id: str | None = None, email: str | None = None, phone: str | None = None
    ) -> CustomerContext | None:
        """The customer matching the first identifier that matches (id, then email, then phone), with
        their recent orders, newest first; None when nobody matches.

        Raises TransientError when the directory is unreachable (retry), PermanentError when it rejects us.
        """
        ...
