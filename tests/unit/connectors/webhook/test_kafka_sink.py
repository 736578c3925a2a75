"""The real confluent-kafka sink pointed at a closed port: never a 2xx for an unpersisted event."""

from __future__ import annotations

import time

import pytest

from supportflow.connectors.webhook import (
    DeliveryError,
    KafkaEventSink,
    ServiceConfig,
    WebhookSettings,
    build_app,
    whatsapp_signature,
)
from supportflow.streams.embedded import free_port
from tests.unit.connectors.webhook.helpers import MAX_BODY, SECRETS, TOPIC, MemoryFlags, sample_bytes

pytestmark = pytest.mark.asyncio


def closed_port_sink(timeout_s: float = 0.5) -> KafkaEventSink:
    # free_port() binds and releases: nothing listens there afterwards.
    return KafkaEventSink(f"127.0.0.1:{free_port()}", delivery_timeout_s=timeout_s, readiness_timeout_s=0.5)


async def test_kafka_sink_closed_port_raises_delivery_error_within_timeout():
    sink = closed_port_sink()
    try:
        start = time.monotonic()
        with pytest.raises(DeliveryError):
            await sink.send(TOPIC, [(b"k", b"v")])
        assert time.monotonic() - start < 5  # bounded by delivery_timeout_s, not librdkafka's default 300 s
        assert await sink.check_ready(TOPIC) is not None
    finally:
        await sink.close()


async def test_webhook_with_unreachable_broker_503_retry_after(aiohttp_client):
    settings = WebhookSettings(**SECRETS, rate_per_s=0, retry_after_s=3)
    app = build_app(ServiceConfig(settings, TOPIC, MAX_BODY), closed_port_sink(), MemoryFlags())
    client = await aiohttp_client(app)
    body = sample_bytes("whatsapp", "w01_text_portuguese_order_status.json")
    signature = whatsapp_signature(SECRETS["whatsapp_app_secret"].encode(), body)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    resp = await client.post("/webhooks/whatsapp", data=body, headers=headers)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "3"
    assert (await resp.json())["error"] == "broker_unavailable"
    ready = await client.get("/readyz")
    assert ready.status == 503
