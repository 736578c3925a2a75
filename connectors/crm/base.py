"""A CRM connector: the stages' :class:`~supportflow.processors.customers.CustomerDirectory`, plus
closing its connection."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from supportflow.processors.customers import CustomerDirectory

# The resolver only needs recent history; older orders bloat every record downstream.
MAX_ORDERS = 10


@runtime_checkable
class CrmConnector(CustomerDirectory, Protocol):
    """``find_customer`` returns at most MAX_ORDERS orders."""

    def close(self) -> None: ...
