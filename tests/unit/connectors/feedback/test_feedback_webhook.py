"""Feedback routes of the ingress service over real loopback HTTP, an in-process sink for the broker."""

from __future__ import annotations

import time

import orjson
import pytest

from supportflow.connectors.feedback.webhook import FRESHDESK_TOKEN_HEADER, zendesk_signature
from supportflow.schemas import wire
from supportflow.schemas.models import DeadLetter, Feedback, FeedbackKind
from tests.unit.connectors.webhook.helpers import FEEDBACK, FEEDBACK_SECRETS, SECRETS, RecordingSink, make_app
from tests.unit.processors.feedback.builders import sample

pytestmark = pytest.mark.asyncio

ZD_SECRET = FEEDBACK_SECRETS["zendesk_webhook_secret"].encode()
JSON = {"Content-Type": "application/json"}


def zendesk_headers(body: bytes, stamp: str | None = None, secret: bytes = ZD_SECRET) -> dict[str, str]:
    stamp = stamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        **JSON,
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Signature": zendesk_signature(secret, stamp, body),
    }


@pytest.fixture
def client(aiohttp_client):
    """A test client on a real loopback server; its sink is ``client.sink``."""
    sink = RecordingSink()

    async def start():
        http = await aiohttp_client(make_app(sink))
        http.sink = sink
        return http

    return start


def on_topic(sink: RecordingSink, topic: str = FEEDBACK.feedback_topic) -> list[Feedback]:
    return [wire.decode(value, Feedback) for t, _key, value in sink.records if t == topic]


async def test_zendesk_feedback_signed_status_change_lands_as_reopened(client):
    client = await client()
    body = sample("zendesk_status_reopened.json")
    response = await client.post("/webhooks/zendesk/feedback", data=body, headers=zendesk_headers(body))
    assert response.status == 200 and (await response.json())["status"] == "accepted"
    [fb] = on_topic(client.sink)
    assert (fb.kind, fb.ticket_id) == (FeedbackKind.REOPENED, "conv-zd-1")
    assert client.sink.records[0][1] == b"conv-zd-1"  # keyed by ticket id


async def test_zendesk_feedback_wrong_signature_is_401_and_nothing_sent(client):
    client = await client()
    body = sample("zendesk_status_reopened.json")
    response = await client.post(
        "/webhooks/zendesk/feedback", data=body, headers=zendesk_headers(body, secret=b"x")
    )
    assert response.status == 401 and client.sink.records == []


async def test_zendesk_feedback_stale_timestamp_is_401(client):
    client = await client()
    body = sample("zendesk_status_reopened.json")
    headers = zendesk_headers(body, stamp="2020-01-01T00:00:00Z")
    assert (await client.post("/webhooks/zendesk/feedback", data=body, headers=headers)).status == 401


async def test_zendesk_feedback_replayed_request_is_401(client):
    client = await client()
    body = sample("zendesk_satisfaction_rating.json")
    headers = zendesk_headers(body)
    assert (await client.post("/webhooks/zendesk/feedback", data=body, headers=headers)).status == 200
    assert (await client.post("/webhooks/zendesk/feedback", data=body, headers=headers)).status == 401


async def test_zendesk_feedback_signed_unusable_body_is_dead_lettered_with_original_bytes(client):
    client = await client()
    body = b'{"type": "zen:event-type:ticket.status_changed", "detail": "broken"}'
    response = await client.post("/webhooks/zendesk/feedback", data=body, headers=zendesk_headers(body))
    assert response.status == 202 and (await response.json())["status"] == "dead_lettered"
    [(topic, _key, value)] = client.sink.records
    letter = wire.decode(value, DeadLetter)
    assert (topic, letter.original, letter.stage) == (FEEDBACK.dead_letter_topic, body, "feedback")


async def test_freshdesk_feedback_csat_with_token_lands_as_csat(client):
    client = await client()
    body = sample("freshdesk_csat.json")
    headers = {**JSON, FRESHDESK_TOKEN_HEADER: FEEDBACK_SECRETS["freshdesk_webhook_token"]}
    assert (await client.post("/webhooks/freshdesk/feedback", data=body, headers=headers)).status == 200
    [fb] = on_topic(client.sink)
    assert (fb.kind, fb.score, fb.source) == (FeedbackKind.CSAT, 5.0, "freshdesk")


async def test_freshdesk_feedback_without_token_is_401(client):
    client = await client()
    body = sample("freshdesk_csat.json")
    assert (await client.post("/webhooks/freshdesk/feedback", data=body, headers=JSON)).status == 401


async def test_api_feedback_jsonl_records_accepted_with_ids(client):
    client = await client()
    lines = [{"ticket_id": "t1", "kind": "csat", "score": 5}, {"ticket_id": "t2", "kind": "draft_discarded"}]
    body = b"".join(orjson.dumps(doc) + b"\n" for doc in lines)
    headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {SECRETS['api_key']}"}
    response = await client.post("/feedback", data=body, headers=headers)
    assert response.status == 202 and len((await response.json())["feedback_ids"]) == 2
    assert [f.ticket_id for f in on_topic(client.sink)] == ["t1", "t2"]


async def test_api_feedback_invalid_record_is_422_and_nothing_sent(client):
    client = await client()
    headers = {**JSON, "Authorization": f"Bearer {SECRETS['api_key']}"}
    response = await client.post("/feedback", json={"ticket_id": "t1", "kind": "csat"}, headers=headers)
    assert response.status == 422 and client.sink.records == []


async def test_zendesk_feedback_unconfigured_secret_is_503(aiohttp_client):
    from supportflow.connectors.feedback.webhook import FeedbackConfig
    from supportflow.connectors.webhook import ServiceConfig, WebhookSettings, build_app
    from supportflow.settings import FeedbackSettings

    config = ServiceConfig(
        WebhookSettings(rate_per_s=0), "t", 4096, FeedbackConfig(FeedbackSettings(), "f", "d")
    )
    http = await aiohttp_client(build_app(config, RecordingSink()))
    body = sample("zendesk_status_reopened.json")
    assert (
        await http.post("/webhooks/zendesk/feedback", data=body, headers=zendesk_headers(body))
    ).status == 503
