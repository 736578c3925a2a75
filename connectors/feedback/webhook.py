"""Feedback routes of the ingress HTTP service: Zendesk and Freshdesk webhooks, and ``POST /feedback``.

Checks, in the service's order: endpoint configured (503), credentials (401: Zendesk's signature over
timestamp + body, Freshdesk's shared token, the API key), content type (415), body size (413), then
parse and persist on the feedback topic, acknowledged by the broker before the 2xx.

A signed helpdesk payload that cannot become feedback is not the helpdesk's to fix and must not be
lost: it goes to the dead-letter topic with its original bytes (answer 202 ``dead_lettered``, so the
helpdesk does not retry it forever). A bad ``POST /feedback`` body is the client's: 400/422, nothing
persisted. A payload without feedback in it (another status change, an internal note) is ``ignored``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from supportflow.connectors.webhook import signatures
from supportflow.connectors.webhook.errors import RequestRejected
from supportflow.connectors.webhook.settings import secret_value
from supportflow.processors.feedback.parse import api_feedback, freshdesk_feedback, zendesk_feedback
from supportflow.processors.feedback.records import FeedbackError
from supportflow.schemas import wire
from supportflow.schemas.errors import TransientError
from supportflow.schemas.models import DeadLetter, Feedback
from supportflow.settings import FeedbackSettings, Settings, get_settings
from supportflow.streams import metrics

if TYPE_CHECKING:
    from supportflow.connectors.webhook.app import IngressService

ZENDESK_SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
FRESHDESK_TOKEN_HEADER = "X-Supportflow-Token"
#: Most feedback records one ``POST /feedback`` takes.
MAX_API_RECORDS = 500


@dataclass(frozen=True)
class FeedbackConfig:
    settings: FeedbackSettings
    feedback_topic: str
    dead_letter_topic: str

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackConfig:
        t = settings.topics
        return cls(settings.feedback, t.full(t.feedback), t.full(t.dead_letter))


def zendesk_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """Zendesk's ``X-Zendesk-Webhook-Signature``: base64 of HMAC-SHA256(secret, timestamp + body)."""
    return base64.b64encode(hmac.new(secret, timestamp.encode() + body, hashlib.sha256).digest()).decode()


def verify_zendesk(
    secret: bytes, body: bytes, timestamp: str | None, signature: str | None, *, now_s: float, window_s: int
) -> int:
    """Check signature and freshness; returns the signed time in epoch seconds."""
    if not timestamp or not signature:
        raise RequestRejected(
            401,
            "missing_signature",
            f"{ZENDESK_TIMESTAMP_HEADER} and {ZENDESK_SIGNATURE_HEADER} are required",
        )
    if not signatures.constant_time_equal(signature.strip(), zendesk_signature(secret, timestamp, body)):
        raise RequestRejected(401, "invalid_signature", f"{ZENDESK_SIGNATURE_HEADER} does not match")
    try:
        signed_s = int(datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00")).timestamp())
    except ValueError as exc:
        raise RequestRejected(
            401, "invalid_timestamp", f"{ZENDESK_TIMESTAMP_HEADER} is not ISO 8601"
        ) from exc
    if abs(now_s - signed_s) > window_s:
        raise RequestRejected(
            401, "stale_timestamp", f"{ZENDESK_TIMESTAMP_HEADER} is outside the replay window"
        )
    return signed_s


class FeedbackEndpoints:
    """The three feedback routes, on the ingress service's plumbing (limits, body reading, sink)."""

    def __init__(self, service: IngressService, config: FeedbackConfig | None) -> None:
        self.service = service
        # The service's own config may not name one (``supportflow serve``): the process settings do.
        self.config = config or FeedbackConfig.from_settings(get_settings())

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/webhooks/zendesk/feedback", self.zendesk),
            web.post("/webhooks/freshdesk/feedback", self.freshdesk),
            web.post("/feedback", self.api),
        ]

    def _config(self, secret_name: str, secret: bytes | None) -> tuple[FeedbackConfig, bytes]:
        if secret is None:
            raise RequestRejected(503, "not_configured", f"{secret_name} is not configured on this server")
        return self.config, secret

    def _agent_key(self) -> bytes | None:
        return secret_value(self.config.settings.agent_id_key)

    async def zendesk(self, request: web.Request) -> web.StreamResponse:
        secret_setting = self.config.settings.zendesk_webhook_secret
        config, secret = self._config("the Zendesk webhook secret", secret_value(secret_setting))
        body = await self.service.read_json_body(request)
        signature = request.headers.get(ZENDESK_SIGNATURE_HEADER)
        signed_s = verify_zendesk(
            secret, body, request.headers.get(ZENDESK_TIMESTAMP_HEADER), signature,
            now_s=self.service.clock(), window_s=self.service.config.webhook.replay_window_s,
        )  # fmt: skip
        assert signature is not None
        replay_key = "zendesk:" + signature.strip()
        self.service.replays.claim(replay_key, signed_s)
        try:
            return await self._helpdesk(request, config, body, "zendesk")
        except BaseException:
            self.service.replays.release(replay_key)  # not persisted: Zendesk's retry is not a replay
            raise

    async def freshdesk(self, request: web.Request) -> web.StreamResponse:
        token_setting = self.config.settings.freshdesk_webhook_token
        config, token = self._config("the Freshdesk webhook token", secret_value(token_setting))
        given = request.headers.get(FRESHDESK_TOKEN_HEADER, "")
        if not given or not signatures.constant_time_equal(given.strip(), token):
            raise RequestRejected(401, "invalid_credentials", f"{FRESHDESK_TOKEN_HEADER} is missing or wrong")
        body = await self.service.read_json_body(request)
        return await self._helpdesk(request, config, body, "freshdesk")

    async def _helpdesk(
        self, request: web.Request, config: FeedbackConfig, body: bytes, source: str
    ) -> web.StreamResponse:
        parse = zendesk_feedback if source == "zendesk" else freshdesk_feedback
        received = self.service.now_ms()
        try:
            records = parse(body, received_at_ms=received, agent_key=self._agent_key())
        except FeedbackError as exc:
            letter = dead_letter(body, exc, source=source, origin=f"http:{request.path}", now_ms=received)
            await self._send(config.dead_letter_topic, [(letter.key or b"", wire.encode(letter))])
            metrics.observe_dead_letter("feedback", type(exc).__name__)
            return web.json_response(
                {"status": "dead_lettered", "feedback_ids": [], "reason": str(exc)}, status=202
            )
        return await self._persist(config, records)

    async def api(self, request: web.Request) -> web.StreamResponse:
        key = secret_value(self.service.config.webhook.api_key)
        config, key = self._config("the API key", key)
        signatures.verify_bearer(key, request.headers.get("Authorization"))
        body = await self.service.read_json_body(request, jsonl=True)
        received = self.service.now_ms()
        try:
            docs = _documents(body, jsonl=request.content_type != "application/json")
            records = [
                api_feedback(d, source="api", received_at_ms=received, agent_key=self._agent_key())
                for d in docs
            ]
        except FeedbackError as exc:
            raise RequestRejected(422, "invalid_feedback", str(exc)) from exc
        return await self._persist(config, records, status=202)

    async def _persist(
        self, config: FeedbackConfig, records: list[Feedback], status: int = 200
    ) -> web.StreamResponse:
        if not records:
            return web.json_response({"status": "ignored", "feedback_ids": []})
        await self._send(config.feedback_topic, [(f.ticket_id.encode(), wire.encode(f)) for f in records])
        return web.json_response(
            {"status": "accepted", "feedback_ids": [f.feedback_id for f in records]}, status=status
        )

    async def _send(self, topic: str, records: list[tuple[bytes, bytes]]) -> None:
        try:
            await self.service.sink.send(topic, records)
        except TransientError as exc:
            raise RequestRejected(
                503, "broker_unavailable", f"feedback not persisted, retry later: {exc}",
                {"Retry-After": str(self.service.config.webhook.retry_after_s)},
            ) from exc  # fmt: skip


def _documents(body: bytes, *, jsonl: bool) -> list[object]:
    try:
        if jsonl:
            docs = [orjson.loads(line) for line in body.splitlines() if line.strip()]
        else:
            doc = orjson.loads(body)
            docs = doc if isinstance(doc, list) else [doc]
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(400, "invalid_json", f"body is not valid UTF-8 JSON: {exc}") from exc
    if not docs or len(docs) > MAX_API_RECORDS:
        raise FeedbackError(f"send 1 to {MAX_API_RECORDS} feedback records per request")
    return docs


def dead_letter(
    original: bytes, exc: Exception, *, source: str, origin: str, now_ms: int | None = None
) -> DeadLetter:
    """A dead letter for feedback that never reached a topic (``origin`` says where it came from)."""
    return DeadLetter(
        stage="feedback", error_class=type(exc).__name__, error_message=str(exc)[:2000], original=original,
        topic=origin, partition=-1, offset=-1, key=None, failed_at_ms=now_ms or int(time.time() * 1000),
        channel=source, source=origin,
    )  # fmt: skip
