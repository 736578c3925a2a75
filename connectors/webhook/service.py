"""Run the ingress service against a broker until SIGINT/SIGTERM."""

from __future__ import annotations

import logging

from aiohttp import web

from supportflow.connectors.feedback.webhook import FeedbackConfig
from supportflow.connectors.webhook.app import ServiceConfig, build_app
from supportflow.connectors.webhook.flags import KafkaFlagStore
from supportflow.connectors.webhook.server import run
from supportflow.connectors.webhook.settings import WebhookSettings, secret_value
from supportflow.connectors.webhook.sink import KafkaEventSink
from supportflow.settings import FeedbackSettings, Settings

log = logging.getLogger(__name__)

#: Which secret enables which endpoint; the server says at start-up which ones answer 503.
ENDPOINT_SECRETS = {
    "POST /webhooks/whatsapp": "whatsapp_app_secret",
    "GET /webhooks/whatsapp": "whatsapp_verify_token",
    "POST /webhooks/chat": "chat_hmac_secret",
    "POST /tickets": "api_key",
    "/admin/*": "admin_token",
}


#: The helpdesk feedback webhooks' secrets live in ``settings.feedback`` (``POST /feedback`` uses api_key).
FEEDBACK_SECRETS = {
    "POST /webhooks/zendesk/feedback": "zendesk_webhook_secret",
    "POST /webhooks/freshdesk/feedback": "freshdesk_webhook_token",
}


def unconfigured_endpoints(webhook: WebhookSettings, feedback: FeedbackSettings | None = None) -> list[str]:
    missing = [
        f"{endpoint} (set SUPPORTFLOW_WEBHOOK__{field.upper()})"
        for endpoint, field in ENDPOINT_SECRETS.items()
        if secret_value(getattr(webhook, field)) is None
    ]
    if feedback is not None:
        missing += [
            f"{endpoint} (set SUPPORTFLOW_FEEDBACK__{field.upper()})"
            for endpoint, field in FEEDBACK_SECRETS.items()
            if secret_value(getattr(feedback, field)) is None
        ]
    return missing


def kafka_app(settings: Settings, webhook: WebhookSettings, bootstrap: str) -> web.Application:
    t = settings.topics
    sink = KafkaEventSink(
        bootstrap,
        delivery_timeout_s=webhook.delivery_timeout_s,
        readiness_timeout_s=webhook.readiness_timeout_s,
    )
    flags = KafkaFlagStore(bootstrap, t.full(t.control))
    config = ServiceConfig(
        webhook, t.full(t.ingress), settings.thresholds.max_body_bytes, FeedbackConfig.from_settings(settings)
    )
    app = build_app(config, sink, flags)

    async def start_flags(_app: web.Application) -> None:
        await flags.start()

    app.on_startup.append(start_flags)
    return app


def startup_problems(webhook: WebhookSettings) -> list[str]:
    """Configurations the service refuses to start with; each names the settings, never their values."""
    admin = secret_value(webhook.admin_token)
    if admin is None:
        return []
    return [
        f"SUPPORTFLOW_WEBHOOK__ADMIN_TOKEN equals SUPPORTFLOW_WEBHOOK__{field.upper()}; "
        "the admin token must be a secret of its own"
        for field in ("api_key", "chat_hmac_secret", "whatsapp_app_secret", "whatsapp_verify_token")
        if secret_value(getattr(webhook, field)) == admin
    ]


def serve(settings: Settings, webhook: WebhookSettings, bootstrap: str, host: str, port: int) -> None:
    if problems := startup_problems(webhook):
        raise ValueError("; ".join(problems))
    run(kafka_app(settings, webhook, bootstrap), webhook, host, port)
