"""The ingress HTTP service: authenticated webhooks and API submissions -> the ingress topic.

Order of checks on every write: rate limit (429), endpoint configured (503), bearer token (401, before
the body is read), content type (415), body size (413), HMAC signature (401; it covers the body), shape
(400/422, API only), then persist and wait for the broker's ack (503 + Retry-After when it does not come
in time). A 2xx therefore always means "on the topic".
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from pydantic import SecretStr

from supportflow.connectors.webhook import signatures
from supportflow.connectors.webhook.errors import (
    SECURITY_HEADERS,
    BodyReadTimeout,
    RequestRejected,
    client_closed_response,
    error_response,
)
from supportflow.connectors.webhook.events import ticket_events, webhook_event
from supportflow.connectors.webhook.flags import FlagStore
from supportflow.connectors.webhook.openapi import build_openapi
from supportflow.connectors.webhook.ratelimit import TokenBucketLimiter
from supportflow.connectors.webhook.settings import WebhookSettings, secret_value
from supportflow.connectors.webhook.sink import EventSink
from supportflow.schemas import wire
from supportflow.schemas.errors import TransientError
from supportflow.schemas.models import Channel, InboundEvent
from supportflow.streams.flag_registry import FlagError, coerce
from supportflow.streams.ingest import ingress_key

if TYPE_CHECKING:
    from supportflow.connectors.feedback.webhook import FeedbackConfig

log = logging.getLogger(__name__)

JSON_TYPES = frozenset({"application/json"})
JSONL_TYPES = frozenset({"application/x-ndjson", "application/jsonl"})
#: Probes are never rate limited: an orchestrator must always be able to ask.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})
ADMIN_MAX_BODY_BYTES = 16_384

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ServiceConfig:
    webhook: WebhookSettings
    ingress_topic: str
    max_body_bytes: int
    feedback: FeedbackConfig | None = None  # None: the feedback routes answer 503


def _not_configured(what: str) -> RequestRejected:
    return RequestRejected(503, "not_configured", f"{what} is not configured on this server")


def _require_json_type(request: web.Request, allowed: frozenset[str] = JSON_TYPES) -> None:
    if request.content_type not in allowed or (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
        raise RequestRejected(
            415, "unsupported_media_type",
            f"Content-Type must be one of {', '.join(sorted(allowed))} (UTF-8), got {request.content_type!r}",
        )  # fmt: skip


async def _read_body(request: web.Request, max_bytes: int) -> bytes:
    """Read at most ``max_bytes``; checks the declared length first and the real one while reading."""
    too_big = RequestRejected(413, "body_too_large", f"request body is over the {max_bytes}-byte limit")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(65_536):
        size += len(chunk)
        if size > max_bytes:  # chunked uploads declare no length
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


class IngressService:
    def __init__(
        self, config: ServiceConfig, sink: EventSink, flags: FlagStore | None,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.config = config
        self.sink = sink
        self.flags = flags
        self.clock = clock
        w = config.webhook
        self.limiter = TokenBucketLimiter(w.rate_per_s, w.rate_burst, w.rate_max_clients)
        self.replays = signatures.ReplayCache(w.replay_window_s, w.replay_cache_size, clock=clock)

    # -- plumbing ---------------------------------------------------------------------------------

    def client_ip(self, request: web.Request) -> str:
        if self.config.webhook.trust_forwarded_for:
            forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
            if forwarded:
                return forwarded
        return request.remote or "unknown"

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.path not in UNLIMITED_PATHS:
                wait_s = self.limiter.acquire(self.client_ip(request))
                if wait_s:
                    raise RequestRejected(
                        429, "rate_limited", f"too many requests from this client; retry in {wait_s}s",
                        {"Retry-After": str(wait_s)},
                    )  # fmt: skip
            response = await handler(request)
        except RequestRejected as exc:
            response = error_response(exc.status, exc.code, exc.message, exc.headers)
        except web.HTTPException as exc:  # aiohttp's own 404/405/...: same JSON shape as ours
            if exc.status < 400:
                raise
            code = (exc.reason or "error").lower().replace(" ", "_")
            headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
            response = error_response(exc.status, code, exc.reason or "error", headers)
        except (BodyReadTimeout, RequestPayloadError) as exc:  # body too slow or unreadable: answer, close
            response = _unreadable_body(exc)
        except Exception as exc:
            response = _unexpected(request, exc)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    async def persist(self, events: list[InboundEvent]) -> list[str]:
        records = [(ingress_key(e), wire.encode(e)) for e in events]
        try:
            await self.sink.send(self.config.ingress_topic, records)
        except TransientError as exc:
            log.warning("not persisted (%d events): %s", len(events), exc)
            raise RequestRejected(
                503, "broker_unavailable", f"event not persisted, retry later: {exc}",
                {"Retry-After": str(self.config.webhook.retry_after_s)},
            ) from exc  # fmt: skip
        return [e.event_id for e in events]

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def read_json_body(self, request: web.Request, jsonl: bool = False) -> bytes:
        """A JSON (or, with ``jsonl``, also a JSON Lines) body within the size limit; 415/413 otherwise."""
        _require_json_type(request, JSON_TYPES | JSONL_TYPES if jsonl else JSON_TYPES)
        return await _read_body(request, self.config.max_body_bytes)

    # -- channels ---------------------------------------------------------------------------------

    async def whatsapp_verify(self, request: web.Request) -> web.StreamResponse:
        """Meta's subscription handshake: echo ``hub.challenge`` iff the verify token matches."""
        expected = secret_value(self.config.webhook.whatsapp_verify_token)
        if expected is None:
            raise _not_configured("the WhatsApp verify token")
        q = request.query
        if q.get("hub.mode") != "subscribe" or not signatures.constant_time_equal(
            q.get("hub.verify_token", ""), expected
        ):
            raise RequestRejected(403, "verification_failed", "hub.mode or hub.verify_token is wrong")
        challenge = q.get("hub.challenge", "")
        if not challenge or len(challenge) > 256:
            raise RequestRejected(400, "invalid_challenge", "hub.challenge must be 1-256 characters")
        return web.Response(text=challenge, content_type="text/plain")

    async def _signed_json_body(
        self, request: web.Request, configured: SecretStr | None, what: str
    ) -> tuple[bytes, bytes]:
        """The signing secret and the raw JSON body; 503 when the secret is unset (never accept unsigned)."""
        secret = secret_value(configured)
        if secret is None:
            raise _not_configured(what)
        _require_json_type(request)
        return secret, await _read_body(request, self.config.max_body_bytes)

    async def whatsapp(self, request: web.Request) -> web.StreamResponse:
        secret, body = await self._signed_json_body(
            request, self.config.webhook.whatsapp_app_secret, "the WhatsApp app secret"
        )
        signatures.verify_whatsapp(secret, body, request.headers.get(signatures.WHATSAPP_SIGNATURE_HEADER))
        event = webhook_event(Channel.WHATSAPP, body, request.path, self.now_ms())
        return web.json_response({"status": "accepted", "event_ids": await self.persist([event])})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        secret, body = await self._signed_json_body(
            request, self.config.webhook.chat_hmac_secret, "the chat HMAC secret"
        )
        signature = request.headers.get(signatures.CHAT_SIGNATURE_HEADER)
        timestamp = signatures.verify_chat(
            secret, body, request.headers.get(signatures.CHAT_TIMESTAMP_HEADER), signature,
            now_s=self.clock(), window_s=self.config.webhook.replay_window_s,
        )  # fmt: skip
        assert signature is not None  # verify_chat rejects a missing one
        replay_key = signature.strip().lower()
        self.replays.claim(replay_key, timestamp)
        try:
            event_ids = await self.persist([webhook_event(Channel.CHAT, body, request.path, self.now_ms())])
        except BaseException:
            self.replays.release(replay_key)  # not persisted: the sender's retry is not a replay
            raise
        return web.json_response({"status": "accepted", "event_ids": event_ids})

    async def tickets(self, request: web.Request) -> web.StreamResponse:
        key = secret_value(self.config.webhook.api_key)
        if key is None:
            raise _not_configured("the API key")
        # The privileged key (optional) marks the events so their tickets' customer_id is trusted.
        privileged_key = secret_value(self.config.webhook.privileged_api_key)
        keys = [key] if privileged_key is None else [key, privileged_key]
        privileged = signatures.verify_bearer_any(keys, request.headers.get("Authorization")) == 1
        _require_json_type(request, JSON_TYPES | JSONL_TYPES)
        body = await _read_body(request, self.config.max_body_bytes)
        events = ticket_events(
            body, jsonl=request.content_type in JSONL_TYPES, path=request.path,
            received_at_ms=self.now_ms(), max_body_bytes=self.config.max_body_bytes, privileged=privileged,
        )  # fmt: skip
        return web.json_response({"status": "accepted", "event_ids": await self.persist(events)}, status=202)

    # -- operations -------------------------------------------------------------------------------

    async def healthz(self, _request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.StreamResponse:
        problem = await self.sink.check_ready(self.config.ingress_topic)
        if problem:
            raise RequestRejected(
                503, "not_ready", problem, {"Retry-After": str(self.config.webhook.retry_after_s)}
            )
        return web.json_response({"status": "ready"})

    async def openapi(self, _request: web.Request) -> web.StreamResponse:
        return web.json_response(text=_openapi_json())

    def _admin(self, request: web.Request) -> FlagStore:
        token = secret_value(self.config.webhook.admin_token)
        if token is None:
            raise _not_configured("the admin token")
        signatures.verify_bearer(token, request.headers.get("Authorization"))
        if self.flags is None:
            raise _not_configured("the flag store")
        return self.flags

    async def get_flags(self, request: web.Request) -> web.StreamResponse:
        flags = self._admin(request)
        try:
            return web.json_response({"flags": flags.snapshot()})
        except TransientError as exc:
            raise RequestRejected(503, "flags_unavailable", str(exc)) from exc

    async def set_flag(self, request: web.Request) -> web.StreamResponse:
        flags = self._admin(request)
        _require_json_type(request)
        body = await _read_body(request, min(self.config.max_body_bytes, ADMIN_MAX_BODY_BYTES))
        name, value = _flag_assignment(body)
        try:
            set_at = await flags.set(name, value)
        except TransientError as exc:
            raise RequestRejected(
                503, "broker_unavailable", str(exc), {"Retry-After": str(self.config.webhook.retry_after_s)}
            ) from exc
        log.info("admin set flag %s=%r from %s", name, value, self.client_ip(request))
        return web.json_response({"name": name, "value": value, "set_at_ms": set_at})


@functools.cache
def _openapi_json() -> str:
    """The document is fixed for the process: serialize it once, not per request."""
    return json.dumps(build_openapi())


def _unexpected(request: web.Request, exc: Exception) -> web.Response:
    transport = request.transport
    if isinstance(exc, ConnectionError) and (transport is None or transport.is_closing()):
        return client_closed_response()  # the client went away mid-request: nobody to answer, no fault here
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", "unexpected server error; see server logs")


def _unreadable_body(exc: Exception) -> web.Response:
    if isinstance(exc, BodyReadTimeout):
        response = error_response(408, "request_timeout", str(exc))
    else:
        response = error_response(400, "bad_request", f"malformed request body: {exc}")
    response.force_close()  # the rest of the body is unread: this connection cannot carry another request
    return response


def _flag_assignment(body: bytes) -> tuple[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(400, "invalid_json", f"body is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(doc, dict) or "name" not in doc or "value" not in doc:
        raise RequestRejected(
            422, "invalid_flag", 'body must be {"name": <flag name>, "value": <JSON value>}'
        )
    name = doc["name"]
    if not isinstance(name, str):
        raise RequestRejected(422, "invalid_flag", "name must be a string")
    try:  # known flags only, values of their type; a boolean is stored as a JSON boolean
        return name, coerce(name, doc["value"])
    except FlagError as exc:
        raise RequestRejected(422, "invalid_flag", str(exc)) from exc


def build_app(
    config: ServiceConfig, sink: EventSink, flags: FlagStore | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:  # fmt: skip
    """The aiohttp application; ``sink`` and ``flags`` are closed on application cleanup."""
    service = IngressService(config, sink, flags, clock)
    # client_max_size backs up _read_body for any handler that might call request.read().
    app = web.Application(middlewares=[service.middleware], client_max_size=config.max_body_bytes + 1)
    app.add_routes([
        web.get("/webhooks/whatsapp", service.whatsapp_verify, allow_head=False),
        web.post("/webhooks/whatsapp", service.whatsapp),
        web.post("/webhooks/chat", service.chat),
        web.post("/tickets", service.tickets),
        web.get("/healthz", service.healthz, allow_head=False),
        web.get("/readyz", service.readyz, allow_head=False),
        web.get("/openapi.json", service.openapi, allow_head=False),
        web.get("/admin/flags", service.get_flags, allow_head=False),
        web.post("/admin/flags", service.set_flag),
    ])  # fmt: skip
    # Imported here: the feedback routes build on this module's service (no import cycle at load).
    from supportflow.connectors.feedback.webhook import FeedbackEndpoints

    app.add_routes(FeedbackEndpoints(service, config.feedback).routes())

    async def close(_app: web.Application) -> None:
        await sink.close()
        if flags is not None:
            await flags.close()

    app.on_cleanup.append(close)
    return app
