"""The service says at start-up which endpoints answer 503 for want of their secret, feedback ones too."""

from __future__ import annotations

from pydantic import SecretStr

from supportflow.connectors.webhook.service import unconfigured_endpoints
from supportflow.settings import FeedbackSettings, WebhookSettings


def test_unconfigured_endpoints_feedback_secrets_missing_are_named_with_their_setting() -> None:
    missing = unconfigured_endpoints(WebhookSettings(), FeedbackSettings())
    assert "POST /webhooks/zendesk/feedback (set SUPPORTFLOW_FEEDBACK__ZENDESK_WEBHOOK_SECRET)" in missing
    assert "POST /webhooks/freshdesk/feedback (set SUPPORTFLOW_FEEDBACK__FRESHDESK_WEBHOOK_TOKEN)" in missing


def test_unconfigured_endpoints_feedback_secrets_set_are_not_listed() -> None:
    feedback = FeedbackSettings(
        zendesk_webhook_secret=SecretStr("zd-secret"), freshdesk_webhook_token=SecretStr("fd-token")
    )
    missing = unconfigured_endpoints(WebhookSettings(api_key=SecretStr("key")), feedback)
    assert not any("feedback" in m for m in missing) and not any("/tickets" in m for m in missing)
    assert all("zd-secret" not in m and "fd-token" not in m for m in missing)
