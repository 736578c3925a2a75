"""The ingress service over real loopback HTTP, with an in-process sink standing in for the broker."""

from __future__ import annotations

import time

import pytest

from supportflow.connectors.webhook import chat_signature, whatsapp_signature
from supportflow.connectors.webhook.events import event_id_for
from supportflow.schemas import wire
from supportflow.schemas.models import Channel, InboundEvent
from supportflow.streams.ingest import ingress_key
from tests.unit.connectors.webhook.helpers import MAX_BODY, SECRETS, TOPIC, MemoryFlags, compact, sample_bytes

pytestmark = pytest.mark.asyncio

WA_SECRET = SECRETS["whatsapp_app_secret"].encode()
CHAT_SECRET = SECRETS["chat_hmac_secret"].encode()
JSON = {"Content-Type": "application/json"}


def wa_headers(body: bytes, secret: bytes = WA_SECRET) -> dict[str, str]:
    return {**JSON, "X-Hub-Signature-256": whatsapp_signature(secret, body)}


def chat_headers(body: bytes, ts: int | None = None, secret: bytes = CHAT_SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        **JSON,
        "X-Supportflow-Timestamp": stamp,
        "X-Supportflow-Signature": chat_signature(secret, stamp, body),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def decoded(sink) -> list[InboundEvent]:
    return [wire.decode(value, InboundEvent) for _topic, _key, value in sink.records]


# -- WhatsApp ----------------------------------------------------------------------------------------


async def test_whatsapp_signed_webhook_persisted_with_raw_body(client_for, sink):
    client = await client_for(sink)
    body = sample_bytes("whatsapp", "w01_text_portuguese_order_status.json")  # pretty-printed, UTF-8
    resp = await client.post("/webhooks/whatsapp", data=body, headers=wa_headers(body))
    assert resp.status == 200, await resp.text()
    doc = await resp.json()
    [(topic, key, _value)] = sink.records
    [event] = decoded(sink)
    assert topic == TOPIC
    assert event.payload == body  # byte for byte, whitespace included
    assert (event.channel, event.source) == (Channel.WHATSAPP, "/webhooks/whatsapp")
    assert doc == {"status": "accepted", "event_ids": [event_id_for(Channel.WHATSAPP, body)]}
    assert event.event_id == doc["event_ids"][0]
    assert key == ingress_key(event) and key.startswith(b"conv_")  # conversation key, not the event id


async def test_whatsapp_redelivery_same_event_id(client_for, sink):
    client = await client_for(sink)
    body = sample_bytes("whatsapp", "w02_two_messages_exchange.json")
    for _ in range(2):
        assert (await client.post("/webhooks/whatsapp", data=body, headers=wa_headers(body))).status == 200
    first, second = decoded(sink)
    assert first.event_id == second.event_id


@pytest.mark.parametrize(
    ("make_headers", "code"),
    [
        (lambda body: JSON, "missing_signature"),
        (lambda body: wa_headers(body + b"tampered"), "invalid_signature"),  # forged: signed other bytes
        (lambda body: wa_headers(body, b"wrong-secret"), "invalid_signature"),
        (lambda body: {**JSON, "X-Hub-Signature-256": "sha256=" + "0" * 64}, "invalid_signature"),
    ],
    ids=["missing", "forged", "wrong-secret", "zeros"],
)
async def test_whatsapp_unsigned_or_forged_rejected_401(client_for, sink, make_headers, code):
    client = await client_for(sink)
    body = sample_bytes("whatsapp", "w01_text_portuguese_order_status.json")
    resp = await client.post("/webhooks/whatsapp", data=body, headers=make_headers(body))
    assert resp.status == 401
    assert (await resp.json())["error"] == code
    assert sink.records == []


async def test_whatsapp_without_app_secret_503_not_configured(client_for, sink):
    client = await client_for(sink, whatsapp_app_secret="")
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    resp = await client.post("/webhooks/whatsapp", data=body, headers=wa_headers(body, b""))
    assert resp.status == 503
    assert (await resp.json())["error"] == "not_configured"
    assert sink.records == []


async def test_whatsapp_verify_handshake_echoes_challenge(client_for, sink):
    client = await client_for(sink)
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": SECRETS["whatsapp_verify_token"],
        "hub.challenge": "1158201444",
    }
    resp = await client.get("/webhooks/whatsapp", params=params)
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    assert await resp.text() == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {
            "hub.mode": "unsubscribe",
            "hub.verify_token": SECRETS["whatsapp_verify_token"],
            "hub.challenge": "1",
        },
        {"hub.challenge": "1"},
    ],
    ids=["wrong-token", "wrong-mode", "no-params"],
)
async def test_whatsapp_verify_handshake_wrong_token_403(client_for, sink, params):
    client = await client_for(sink)
    resp = await client.get("/webhooks/whatsapp", params=params)
    assert resp.status == 403
    assert (await resp.json())["error"] == "verification_failed"


async def test_whatsapp_verify_without_token_configured_503(client_for, sink):
    client = await client_for(sink, whatsapp_verify_token=None)
    resp = await client.get(
        "/webhooks/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    )
    assert resp.status == 503


# -- chat --------------------------------------------------------------------------------------------


async def test_chat_signed_webhook_persisted(client_for, sink):
    client = await client_for(sink)
    body = sample_bytes("chat", "c01_order_status.json")
    resp = await client.post("/webhooks/chat", data=body, headers=chat_headers(body))
    assert resp.status == 200, await resp.text()
    [event] = decoded(sink)
    assert (event.channel, event.payload, event.source) == (Channel.CHAT, body, "/webhooks/chat")


async def test_chat_replayed_signature_rejected(client_for, sink):
    client = await client_for(sink)
    body = sample_bytes("chat", "c01_order_status.json")
    headers = chat_headers(body)
    assert (await client.post("/webhooks/chat", data=body, headers=headers)).status == 200
    replay = await client.post("/webhooks/chat", data=body, headers=headers)
    assert replay.status == 401
    assert (await replay.json())["error"] == "replayed_request"
    assert len(sink.records) == 1


async def test_chat_stale_timestamp_rejected(client_for, sink):
    client = await client_for(sink)
    body = sample_bytes("chat", "c01_order_status.json")
    resp = await client.post("/webhooks/chat", data=body, headers=chat_headers(body, int(time.time()) - 301))
    assert resp.status == 401
    assert (await resp.json())["error"] == "stale_timestamp"
    assert sink.records == []


async def test_chat_signature_over_other_timestamp_rejected(client_for, sink):
    client = await client_for(sink)
    body = sample_bytes("chat", "c01_order_status.json")
    headers = chat_headers(body)
    # The sender refreshed the timestamp without re-signing.
    headers["X-Supportflow-Timestamp"] = str(int(headers["X-Supportflow-Timestamp"]) + 1)
    resp = await client.post("/webhooks/chat", data=body, headers=headers)
    assert (resp.status, (await resp.json())["error"]) == (401, "invalid_signature")


async def test_chat_retry_after_broker_failure_not_called_replay(client_for, sink):
    client = await client_for(sink)
    body = sample_bytes("chat", "c01_order_status.json")
    headers = chat_headers(body)
    sink.fail = True
    assert (await client.post("/webhooks/chat", data=body, headers=headers)).status == 503
    sink.fail = False
    assert (await client.post("/webhooks/chat", data=body, headers=headers)).status == 200


# -- limits ------------------------------------------------------------------------------------------


async def test_body_over_limit_413(client_for, sink):
    client = await client_for(sink)
    body = compact({"object": "whatsapp_business_account", "pad": "x" * MAX_BODY})
    resp = await client.post("/webhooks/whatsapp", data=body, headers=wa_headers(body))
    assert resp.status == 413
    assert (await resp.json())["error"] == "body_too_large"
    assert sink.records == []


async def test_chunked_body_over_limit_413(client_for, sink):
    """No Content-Length: the limit is enforced while reading."""
    client = await client_for(sink)
    body = b"{" + b" " * (MAX_BODY * 2) + b"}"

    async def chunks():
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    resp = await client.post("/webhooks/whatsapp", data=chunks(), headers=wa_headers(body))
    assert resp.status == 413


async def test_rate_limit_429_with_retry_after(client_for, sink):
    client = await client_for(sink, rate_per_s=0.5, rate_burst=3)
    statuses = [(await client.get("/openapi.json")).status for _ in range(3)]
    limited = await client.get("/openapi.json")
    assert statuses == [200, 200, 200]
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await limited.json())["error"] == "rate_limited"
    assert (await client.get("/healthz")).status == 200  # probes are never throttled


async def test_wrong_content_type_415(client_for, sink):
    client = await client_for(sink)
    body = b'{"object":"whatsapp_business_account"}'
    headers = {**wa_headers(body), "Content-Type": "text/plain"}
    resp = await client.post("/webhooks/whatsapp", data=body, headers=headers)
    assert resp.status == 415
    headers["Content-Type"] = "application/json; charset=latin-1"
    assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 415


async def test_broker_not_acking_503_with_retry_after(client_for, sink):
    client = await client_for(sink, retry_after_s=7)
    sink.fail = True
    body = sample_bytes("whatsapp", "w01_text_portuguese_order_status.json")
    resp = await client.post("/webhooks/whatsapp", data=body, headers=wa_headers(body))
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "7"
    assert (await resp.json())["error"] == "broker_unavailable"


# -- ticket API --------------------------------------------------------------------------------------


async def test_tickets_json_with_api_key_accepted_202(client_for, sink):
    client = await client_for(sink)
    body = compact({"ticket_id": "t-1", "email": "ana@example.com", "text": "Where is my order NW-1?"})
    resp = await client.post("/tickets", data=body, headers={**JSON, **bearer(SECRETS["api_key"])})
    assert resp.status == 202, await resp.text()
    [event] = decoded(sink)
    assert (event.channel, event.payload, event.content_type) == (
        Channel.API,
        body,
        "application/vnd.supportflow.ticket+json",
    )


async def test_tickets_jsonl_one_event_per_line(client_for, sink):
    client = await client_for(sink)
    lines = sample_bytes("api", "tickets.jsonl").splitlines()[:3]
    body = b"\n".join(lines) + b"\n\n"
    headers = {"Content-Type": "application/x-ndjson", **bearer(SECRETS["api_key"])}
    resp = await client.post("/tickets", data=body, headers=headers)
    assert resp.status == 202, await resp.text()
    events = decoded(sink)
    assert [e.payload for e in events] == lines
    assert [e.source for e in events] == ["/tickets:1", "/tickets:2", "/tickets:3"]
    assert len((await resp.json())["event_ids"]) == 3


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "missing_credentials"),
        ("nope", "invalid_credentials"),
        (SECRETS["admin_token"], "invalid_credentials"),
    ],
)
async def test_tickets_without_valid_api_key_401(client_for, sink, token, code):
    client = await client_for(sink)
    headers = {**JSON, **(bearer(token) if token else {})}
    resp = await client.post("/tickets", data=b'{"text":"hi","email":"a@b.co"}', headers=headers)
    assert resp.status == 401
    assert (await resp.json())["error"] == code
    assert sink.records == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'{"text": "caf\xe9"}', 400, "invalid_json"),  # Latin-1 byte, not UTF-8
        (b'{"email": "a@b.co"}', 422, "invalid_ticket"),  # no text
        (b'{"text": "hello"}', 422, "invalid_ticket"),  # nobody to answer
        (b"[]", 422, "invalid_ticket"),
    ],
)
async def test_tickets_bad_body_rejected_before_persisting(client_for, sink, body, status, code):
    client = await client_for(sink)
    resp = await client.post("/tickets", data=body, headers={**JSON, **bearer(SECRETS["api_key"])})
    assert resp.status == status
    assert (await resp.json())["error"] == code
    assert sink.records == []


async def test_tickets_jsonl_bad_line_rejects_whole_batch(client_for, sink):
    client = await client_for(sink)
    body = b'{"text":"hi","email":"a@b.co"}\n{"text":\n'
    resp = await client.post(
        "/tickets", data=body, headers={"Content-Type": "application/jsonl", **bearer(SECRETS["api_key"])}
    )
    assert resp.status == 400
    assert "line 2" in (await resp.json())["message"]
    assert sink.records == []


# -- admin -------------------------------------------------------------------------------------------


async def test_admin_flags_get_and_set_with_admin_token(client_for, sink):
    flags = MemoryFlags()
    client = await client_for(sink, flags)
    auth = bearer(SECRETS["admin_token"])
    resp = await client.post("/admin/flags", json={"name": "auto_resolve", "value": False}, headers=auth)
    assert resp.status == 200
    assert (await resp.json())["value"] is False
    resp = await client.get("/admin/flags", headers=auth)
    assert (await resp.json()) == {"flags": {"auto_resolve": False}}


@pytest.mark.parametrize("token", [None, "wrong", SECRETS["api_key"]], ids=["none", "wrong", "api-key"])
async def test_admin_without_admin_token_401(client_for, sink, token):
    flags = MemoryFlags()
    client = await client_for(sink, flags)
    headers = bearer(token) if token else {}
    assert (await client.get("/admin/flags", headers=headers)).status == 401
    resp = await client.post("/admin/flags", json={"name": "auto_resolve", "value": False}, headers=headers)
    assert resp.status == 401
    assert flags.flags["auto_resolve"] is True


async def test_admin_without_token_configured_503(client_for, sink):
    client = await client_for(sink, admin_token=None)
    resp = await client.get("/admin/flags", headers=bearer(""))
    assert resp.status == 503


@pytest.mark.parametrize(
    "doc",
    [{"name": "auto_resolve"}, {"value": 1}, {"name": "", "value": 1}, {"name": "a b", "value": 1}, [1]],
)
async def test_admin_set_flag_invalid_body_422(client_for, sink, doc):
    client = await client_for(sink)
    resp = await client.post("/admin/flags", json=doc, headers=bearer(SECRETS["admin_token"]))
    assert resp.status == 422


# -- operations --------------------------------------------------------------------------------------


async def test_healthz_and_readyz(client_for, sink):
    client = await client_for(sink)
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200
    sink.fail = True
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["error"] == "not_ready"


async def test_unknown_path_json_404_and_wrong_method_405(client_for, sink):
    client = await client_for(sink)
    resp = await client.get("/nope")
    assert resp.status == 404
    assert set(await resp.json()) == {"error", "message"}
    resp = await client.put("/tickets")
    assert resp.status == 405
    assert "POST" in resp.headers["Allow"]


async def test_app_cleanup_closes_sink(aiohttp_client, sink):
    from tests.unit.connectors.webhook.helpers import make_app

    client = await aiohttp_client(make_app(sink))
    await client.close()
    assert sink.closed
