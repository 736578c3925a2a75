"""Ingress HTTP service: signed WhatsApp and chat webhooks, the ticket API and admin flags.

``build_app`` assembles the aiohttp application around an :class:`EventSink` (the ingress topic) and a
:class:`FlagStore` (the control topic); ``supportflow serve`` runs it. Contract: docs/webhooks.md and
the OpenAPI document in :mod:`supportflow.connectors.webhook.openapi`.
"""

from supportflow.connectors.webhook.app import ServiceConfig, build_app
from supportflow.connectors.webhook.flags import FlagStore, KafkaFlagStore
from supportflow.connectors.webhook.openapi import build_openapi, write_openapi
from supportflow.connectors.webhook.settings import WebhookSettings
from supportflow.connectors.webhook.signatures import chat_signature, whatsapp_signature
from supportflow.connectors.webhook.sink import DeliveryError, EventSink, KafkaEventSink

__all__ = [
    "DeliveryError",
    "EventSink",
    "FlagStore",
    "KafkaEventSink",
    "KafkaFlagStore",
    "ServiceConfig",
    "WebhookSettings",
    "build_app",
    "build_openapi",
    "chat_signature",
    "whatsapp_signature",
    "write_openapi",
]
