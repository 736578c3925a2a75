"""schemathesis against the published OpenAPI document: generated input never gets a 5xx.

Each generated case is sent twice over real loopback HTTP: as generated (random credentials, so the
rejection paths are fuzzed) and re-signed with valid credentials (so the generated bodies reach the
parsers and the sink). Responses must match the documented status codes, content types and schemas.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from supportflow.connectors.feedback.webhook import zendesk_signature
from supportflow.connectors.webhook.openapi import build_openapi
from supportflow.streams.embedded import free_port
from tests.unit.connectors.webhook.helpers import FEEDBACK_SECRETS, SECRETS, RecordingSink, make_app

pytestmark = pytest.mark.slow


@schemathesis.serializer("application/x-ndjson")
def jsonl_serializer(_ctx: object, value: object) -> bytes:
    """The spec describes JSONL as an array of tickets sent one per line; this is that framing."""
    items = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


schema = schemathesis.openapi.from_dict(build_openapi())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BEARER = {
    "/tickets": SECRETS["api_key"],
    "/admin/flags": SECRETS["admin_token"],
    "/feedback": SECRETS["api_key"],
}


class ServerThread:
    """The real aiohttp app on a loopback port, in its own event loop thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sink = RecordingSink()
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(make_app(self.sink, max_body_bytes=64_000))
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as running:
        yield running


def _hmac(secret: str, message: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def authenticate(prepared: requests.PreparedRequest, path: str) -> None:
    """Replace the generated credentials with valid ones, signing the exact bytes that will be sent."""
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    if path == "/webhooks/whatsapp" and prepared.method == "POST":
        prepared.headers["X-Hub-Signature-256"] = _hmac(SECRETS["whatsapp_app_secret"], body)
    elif path == "/webhooks/chat":
        stamp = str(int(time.time()))
        prepared.headers["X-Supportflow-Timestamp"] = stamp
        prepared.headers["X-Supportflow-Signature"] = _hmac(
            SECRETS["chat_hmac_secret"], stamp.encode() + b"." + body
        )
    elif path == "/webhooks/zendesk/feedback":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        prepared.headers["X-Zendesk-Webhook-Signature-Timestamp"] = stamp
        secret = FEEDBACK_SECRETS["zendesk_webhook_secret"].encode()
        prepared.headers["X-Zendesk-Webhook-Signature"] = zendesk_signature(secret, stamp, body)
    elif path == "/webhooks/freshdesk/feedback":
        prepared.headers["X-Supportflow-Token"] = FEEDBACK_SECRETS["freshdesk_webhook_token"]
    elif path in BEARER:
        prepared.headers["Authorization"] = f"Bearer {BEARER[path]}"
    elif path == "/webhooks/whatsapp":
        url = (prepared.url or "").split("?")[0]
        token = SECRETS["whatsapp_verify_token"]
        prepared.prepare_url(url, {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"})


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_openapi_generated_requests_never_5xx(case, server):
    base_url = f"http://127.0.0.1:{server.port}"
    with requests.Session() as session:
        response = case.call(base_url=base_url, session=session, timeout=10)
        case.validate_response(response, checks=CHECKS)

        kwargs = case.as_transport_kwargs(base_url=base_url)
        prepared = requests.Request(
            method=kwargs["method"], url=kwargs["url"], headers=kwargs.get("headers"), params=kwargs.get("params"),
            json=kwargs.get("json"), data=kwargs.get("data"), cookies=kwargs.get("cookies"),
        ).prepare()  # fmt: skip
        authenticate(prepared, case.path)
        signed = session.send(prepared, timeout=10)
        case.validate_response(signed, checks=CHECKS)
