"""Run the ingress service against a broker until SIGINT/SIGTERM."""

from __future__ import annotations

import logging

from aiohttp import web

from supportflow.connectors.webhook.app import ServiceConfig, build_app
from supportflow.connectors.webhook.flags import KafkaFlagStore
from supportflow.connectors.webhook.settings import WebhookSettings, secret_value
from supportflow.connectors.webhook.sink import KafkaEventSink
from supportflow.settings import Settings

log = logging.getLogger(__name__)

#: Which secret enables which endpoint; the server says at start-up which ones answer 503.
ENDPOINT_SECRETS = {
    "POST /webhooks/whatsapp": "whatsapp_app_secret",
    "GET /webhooks/whatsapp": "whatsapp_verify_token",
    "POST /webhooks/chat": "chat_hmac_secret",
    "POST /tickets": "api_key",
    "/admin/*": "admin_token",
}


def unconfigured_endpoints(webhook: WebhookSettings) -> list[str]:
    return [
        f"{endpoint} (set SUPPORTFLOW_WEBHOOK__{field.upper()})"
        for endpoint, field in ENDPOINT_SECRETS.items()
        if secret_value(getattr(webhook, field)) is None
    ]


def kafka_app(settings: Settings, webhook: WebhookSettings, bootstrap: str) -> web.Application:
    t = settings.topics
    sink = KafkaEventSink(
        bootstrap,
        delivery_timeout_s=webhook.delivery_timeout_s,
        readiness_timeout_s=webhook.readiness_timeout_s,
    )
    flags = KafkaFlagStore(bootstrap, t.full(t.control))
    config = ServiceConfig(webhook, t.full(t.ingress), settings.thresholds.max_body_bytes)
    app = build_app(config, sink, flags)

    async def start_flags(_app: web.Application) -> None:
        await flags.start()

    app.on_startup.append(start_flags)
    return app


def serve(settings: Settings, webhook: WebhookSettings, bootstrap: str, host: str, port: int) -> None:
    app = kafka_app(settings, webhook, bootstrap)
    web.run_app(
        app, host=host, port=port, print=None, access_log=logging.getLogger("supportflow.webhook.access")
    )
