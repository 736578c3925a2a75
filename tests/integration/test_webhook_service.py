"""The ingress service on real loopback HTTP against the real embedded broker (Tansu)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web
from confluent_kafka import Consumer, TopicPartition

from supportflow.connectors.webhook import (
    KafkaEventSink,
    KafkaFlagStore,
    ServiceConfig,
    WebhookSettings,
    build_app,
    whatsapp_signature,
)
from supportflow.connectors.webhook.server import IngressRunner
from supportflow.data import data_path
from supportflow.schemas import wire
from supportflow.schemas.models import Channel, InboundEvent
from supportflow.streams.embedded import free_port
from supportflow.streams.ingest import ingress_key
from supportflow.streams.topics import TopicSpec, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

APP_SECRET = "integration-app-secret"
ADMIN = "integration-admin-token"
PARTITIONS = 2


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 15.0) -> list[tuple[bytes, bytes]]:
    """Every record from offset 0 of each partition (explicit offsets: Tansu's 'earliest' is unreliable)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "webhook-it", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    records: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                records.append((msg.key(), msg.value()))
    finally:
        consumer.close()
    return records


async def start_service(broker, unique, **overrides) -> tuple[web.AppRunner, str, str]:
    ingress, control = unique("ingress"), unique("control")
    ensure_topics(
        broker.bootstrap, [TopicSpec(ingress, PARTITIONS, "ingress"), TopicSpec(control, 1, "control")]
    )
    settings = WebhookSettings(whatsapp_app_secret=APP_SECRET, admin_token=ADMIN, rate_per_s=0, **overrides)
    sink = KafkaEventSink(broker.bootstrap, delivery_timeout_s=10)
    flags = KafkaFlagStore(broker.bootstrap, control)
    await flags.start()
    runner = IngressRunner(build_app(ServiceConfig(settings, ingress, 256_000), sink, flags), settings)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}", ingress


async def test_signed_whatsapp_webhook_lands_on_topic_with_raw_body(broker, unique):
    runner, base, topic = await start_service(broker, unique)
    body = data_path("samples", "whatsapp", "w13_two_customers_one_webhook.json").read_bytes()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": whatsapp_signature(APP_SECRET.encode(), body),
    }
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
            async with http.get(f"{base}/readyz") as ready:
                assert ready.status == 200, await ready.text()
            async with http.post(f"{base}/webhooks/whatsapp", data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                event_ids = (await resp.json())["event_ids"]
            async with http.post(f"{base}/webhooks/whatsapp", data=body + b" ", headers=headers) as forged:
                assert forged.status == 401
    finally:
        await runner.cleanup()

    records = await asyncio.to_thread(read_all, broker.bootstrap, topic, 1)
    assert len(records) == 1  # the forged request never reached the topic
    key, value = records[0]
    event = wire.decode(value, InboundEvent)
    assert event.payload == body
    assert event.channel == Channel.WHATSAPP
    assert event.source == "/webhooks/whatsapp"
    assert [event.event_id] == event_ids
    assert key == ingress_key(event)


async def test_admin_flag_set_reaches_control_topic_and_reads_back(broker, unique):
    runner, base, _topic = await start_service(broker, unique)
    auth = {"Authorization": f"Bearer {ADMIN}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
            async with http.post(
                f"{base}/admin/flags", json={"name": "auto_resolve", "value": False}, headers=auth
            ) as r:
                assert r.status == 200, await r.text()
            flags = None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                async with http.get(f"{base}/admin/flags", headers=auth) as r:
                    flags = (await r.json())["flags"]
                if flags.get("auto_resolve") is False:
                    break
                await asyncio.sleep(0.1)
            assert flags == {"auto_resolve": False}
    finally:
        await runner.cleanup()


async def test_readyz_503_when_ingress_topic_missing(broker, unique):
    settings = WebhookSettings(rate_per_s=0)
    sink = KafkaEventSink(broker.bootstrap, delivery_timeout_s=2)
    runner = web.AppRunner(build_app(ServiceConfig(settings, unique("never-created"), 256_000), sink))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as resp:
            assert resp.status == 503
            assert "does not exist" in (await resp.json())["message"]
    finally:
        await runner.cleanup()


async def _trickle_headers(port: int, give_up_s: float) -> bytes:
    """A slowloris client: one header byte every 0.1 s until the server hangs up; what it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.ensure_future(reader.read())
    try:
        for byte in b"POST /tickets HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
            if answer.done():
                break
            writer.write(bytes([byte]))
            await asyncio.wait([answer], timeout=0.1)
        return await asyncio.wait_for(answer, give_up_s)
    finally:
        writer.close()


async def test_ingress_runner_slow_clients_closed_while_signed_webhook_lands(broker, unique):
    runner, base, topic = await start_service(broker, unique, header_timeout_s=1.0)
    port = int(base.rsplit(":", 1)[1])
    body = data_path("samples", "whatsapp", "w01_text_portuguese_order_status.json").read_bytes()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": whatsapp_signature(APP_SECRET.encode(), body),
    }
    try:
        slow = [asyncio.ensure_future(_trickle_headers(port, give_up_s=5.0)) for _ in range(50)]
        await asyncio.sleep(0.3)
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
            http.post(f"{base}/webhooks/whatsapp", data=body, headers=headers) as resp,
        ):
            assert resp.status == 200, await resp.text()
        answers = await asyncio.gather(*slow)
    finally:
        await runner.cleanup()
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers)
    records = await asyncio.to_thread(read_all, broker.bootstrap, topic, 1)
    assert [wire.decode(value, InboundEvent).payload for _key, value in records] == [body]


@pytest.mark.slow
async def test_ingress_runner_burst_of_2000_tickets_none_lost(broker, unique):
    api_key = "integration-api-key"
    runner, base, topic = await start_service(broker, unique, api_key=api_key)
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    n = 2000

    async def submit(http: aiohttp.ClientSession, i: int) -> tuple[int, list[str]]:
        ticket = {"channel": "api", "text": f"where is order {i}?", "email": f"c{i}@example.com"}
        async with http.post(f"{base}/tickets", json=ticket, headers=auth) as resp:
            return resp.status, (await resp.json()).get("event_ids", [])

    started = time.monotonic()
    try:
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as http:
            answers = await asyncio.gather(*(submit(http, i) for i in range(n)))
    finally:
        await runner.cleanup()
    elapsed = time.monotonic() - started
    assert [status for status, _ids in answers if status != 202] == []
    accepted = {event_id for _status, ids in answers for event_id in ids}
    records = await asyncio.to_thread(read_all, broker.bootstrap, topic, n, 60.0)
    on_topic = {wire.decode(value, InboundEvent).event_id for _key, value in records}
    print(f"\n{n} tickets: {len(accepted)} accepted in {elapsed:.1f} s, {len(on_topic)} on the topic")
    assert len(accepted) == n and on_topic == accepted
