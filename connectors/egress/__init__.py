"""Egress: apply outcomes to the helpdesk (Zendesk, Freshdesk) or a signed webhook.

``build_dispatcher(name, settings, store)`` wires a connector to the shared delivery core;
:class:`EgressRunner` runs it against the outcomes topic. See docs/egress.md.
"""

from __future__ import annotations

import threading

from supportflow.connectors.egress.base import Connector
from supportflow.connectors.egress.delivery import (
    Deliverer,
    DeliveryInterrupted,
    DeliveryRejected,
    HttpCall,
    RetriesExhausted,
    RetryPolicy,
    idempotency_key,
    parse_retry_after,
)
from supportflow.connectors.egress.dispatch import Dispatcher, Fate, Handled
from supportflow.connectors.egress.fields import TicketRef, conversation_ref
from supportflow.connectors.egress.freshdesk import FreshdeskConnector
from supportflow.connectors.egress.runner import EgressRunner, RunnerStats
from supportflow.connectors.egress.settings import EgressSettings
from supportflow.connectors.egress.store import IdempotencyStore, store_path
from supportflow.connectors.egress.webhook import WebhookConnector, verify_signature
from supportflow.connectors.egress.zendesk import ZendeskConnector

CONNECTORS = ("zendesk", "freshdesk", "webhook")


def build_connector(
    name: str, settings: EgressSettings, ticket_ref: TicketRef = conversation_ref
) -> Connector:
    if name == "zendesk":
        return ZendeskConnector(settings, ticket_ref)
    if name == "freshdesk":
        return FreshdeskConnector(settings, ticket_ref)
    if name == "webhook":
        return WebhookConnector(settings)
    raise ValueError(f"unknown egress connector {name!r}; choose one of {', '.join(CONNECTORS)}")


def build_dispatcher(
    name: str,
    settings: EgressSettings,
    store: IdempotencyStore,
    *,
    stop: threading.Event | None = None,
    ticket_ref: TicketRef = conversation_ref,
) -> Dispatcher:
    """A ready dispatcher; ``stop`` makes retry waits interruptible (the worker exits promptly)."""
    connector = build_connector(name, settings, ticket_ref)
    policy = RetryPolicy(
        max_attempts=settings.max_attempts,
        base_delay_s=settings.backoff_base_s,
        max_delay_s=settings.backoff_max_s,
        retry_after_cap_s=settings.retry_after_cap_s,
    )
    stop = stop or threading.Event()
    deliverer = Deliverer(
        policy,
        timeout_s=settings.timeout_s,
        connect_timeout_s=settings.connect_timeout_s,
        auth=connector.auth(),
        already_applied_statuses=connector.already_applied_statuses,
        sleep=stop.wait,
        should_stop=stop.is_set,
    )
    return Dispatcher(connector, deliverer, store)


__all__ = [
    "CONNECTORS",
    "Connector",
    "Deliverer",
    "DeliveryInterrupted",
    "DeliveryRejected",
    "Dispatcher",
    "EgressRunner",
    "EgressSettings",
    "Fate",
    "FreshdeskConnector",
    "Handled",
    "HttpCall",
    "IdempotencyStore",
    "RetriesExhausted",
    "RetryPolicy",
    "RunnerStats",
    "TicketRef",
    "WebhookConnector",
    "ZendeskConnector",
    "build_connector",
    "build_dispatcher",
    "conversation_ref",
    "idempotency_key",
    "parse_retry_after",
    "store_path",
    "verify_signature",
]
