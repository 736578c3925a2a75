"""In-process parts for the ingress service: a recording sink and flag store with the real interfaces."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supportflow.connectors.feedback.webhook import FeedbackConfig
from supportflow.connectors.webhook import ServiceConfig, WebhookSettings, build_app
from supportflow.data import data_path
from supportflow.schemas.errors import TransientError
from supportflow.settings import FeedbackSettings

SECRETS = {
    "whatsapp_app_secret": "wa-app-secret",
    "whatsapp_verify_token": "wa-verify-token",
    "chat_hmac_secret": "chat-secret",
    "api_key": "api-key-123",
    "admin_token": "admin-token-456",
}
FEEDBACK_SECRETS = {"zendesk_webhook_secret": "zd-signing-secret", "freshdesk_webhook_token": "fd-token"}
FEEDBACK = FeedbackConfig(FeedbackSettings(**FEEDBACK_SECRETS), "test.feedback", "test.deadletter")
TOPIC = "test.ingress.raw"
MAX_BODY = 4096


class RecordingSink:
    """Keeps what a broker would have acknowledged; ``fail`` makes every send behave like a broker outage."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []
        self.fail = False
        self.closed = False

    async def send(self, topic: str, records: Any) -> None:
        if self.fail:
            raise TransientError("broker did not acknowledge within 0.1s")
        self.records.extend((topic, key, value) for key, value in records)

    async def check_ready(self, topic: str) -> str | None:
        return "broker unreachable" if self.fail else None

    async def close(self) -> None:
        self.closed = True


class MemoryFlags:
    def __init__(self) -> None:
        self.flags: dict[str, Any] = {"auto_resolve": True}

    def snapshot(self) -> dict[str, Any]:
        return dict(self.flags)

    async def set(self, name: str, value: Any) -> int:
        self.flags[name] = value
        return 1_795_000_000_000

    async def close(self) -> None:
        pass


def sample_bytes(*parts: str) -> bytes:
    return Path(data_path("samples", *parts)).read_bytes()


def make_app(
    sink: RecordingSink, flags: MemoryFlags | None = None, clock: Callable[[], float] | None = None,
    max_body_bytes: int = MAX_BODY, **overrides: Any,
):  # fmt: skip
    """The app with every secret configured and rate limiting off unless overridden."""
    settings = WebhookSettings(**{**SECRETS, "rate_per_s": 0, **overrides})
    config = ServiceConfig(settings, TOPIC, max_body_bytes, feedback=FEEDBACK)
    kwargs = {"clock": clock} if clock else {}
    return build_app(config, sink, flags or MemoryFlags(), **kwargs)


def compact(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()
