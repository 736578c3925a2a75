"""The ingress service's HTTP layer under hostile clients, over real loopback TCP.

The app runs in :class:`IngressRunner` (what ``supportflow serve`` uses) on 127.0.0.1; clients are raw
sockets (to send what a library would not: trickled headers, half bodies, broken framing) or aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from supportflow.connectors.webhook import WebhookSettings
from supportflow.connectors.webhook.server import ACCESS_LOG, IngressRunner
from supportflow.streams.embedded import free_port
from tests.unit.connectors.webhook.helpers import SECRETS, RecordingSink, make_app

pytestmark = pytest.mark.asyncio

HOST = "127.0.0.1"
TICKET_HEAD = (
    b"POST /tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + SECRETS["api_key"].encode()
    + b"\r\nContent-Type: application/json\r\n"
)  # fmt: skip
TICKET = b'{"channel": "api", "text": "where is my order?", "email": "a@example.com"}'

Serve = Callable[..., Awaitable[int]]


@pytest_asyncio.fixture
async def served(sink: RecordingSink) -> AsyncIterator[Serve]:
    """``port = await served(**settings)``: the app in an IngressRunner on loopback, access log on."""
    runners: list[web.AppRunner] = []

    async def start(**overrides: Any) -> int:
        settings = WebhookSettings(**{**SECRETS, "rate_per_s": 0, **overrides})
        runner = IngressRunner(make_app(sink, **overrides), settings, access_log=ACCESS_LOG)
        await runner.setup()
        runners.append(runner)
        port = free_port()
        await web.TCPSite(runner, HOST, port).start()
        return port

    yield start
    for runner in runners:
        await runner.cleanup()


async def exchange(port: int, data: bytes, timeout_s: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes; the status, headers and body of its answer."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(data)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), timeout_s)
    writer.close()
    return parse_response(raw)


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def assert_json_error(headers: dict[str, str], body: bytes, code: str) -> None:
    assert headers["content-type"].startswith("application/json"), headers
    doc = json.loads(body)
    assert set(doc) == {"error", "message"} and doc["error"] == code, doc


# -- slow clients ------------------------------------------------------------------------------------


async def _trickle_headers(port: int, interval_s: float, give_up_s: float) -> tuple[float, bytes]:
    """Open a connection and send one header byte per ``interval_s``; seconds until the server closed it."""
    reader, writer = await asyncio.open_connection(HOST, port)
    opened = time.monotonic()
    payload = b"POST /tickets HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000
    answer = asyncio.ensure_future(reader.read())
    try:
        for byte in payload:
            if answer.done() or time.monotonic() - opened > give_up_s:
                break
            writer.write(bytes([byte]))
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait([answer], timeout=interval_s)
        raw = await asyncio.wait_for(answer, max(0.1, give_up_s - (time.monotonic() - opened)))
        return time.monotonic() - opened, raw
    finally:
        writer.close()


async def test_ingress_server_slow_header_connections_closed_within_header_timeout(served):
    port = await served(header_timeout_s=1.0)
    n, give_up_s = 100, 6.0
    attack = [asyncio.ensure_future(_trickle_headers(port, 0.1, give_up_s)) for _ in range(n)]
    await asyncio.sleep(0.5)  # every slow connection is open and trickling
    async with aiohttp.ClientSession() as http:
        started = time.monotonic()
        async with http.get(f"http://{HOST}:{port}/healthz") as resp:
            assert resp.status == 200
        healthy_in_s = time.monotonic() - started
        async with http.post(
            f"http://{HOST}:{port}/tickets", data=TICKET,
            headers={"Authorization": f"Bearer {SECRETS['api_key']}", "Content-Type": "application/json"},
        ) as resp:  # fmt: skip
            assert resp.status == 202, await resp.text()
    results = await asyncio.gather(*attack)
    closed_after = sorted(seconds for seconds, _raw in results)
    print(f"\n{n} slow-header connections closed after {closed_after[0]:.2f}-{closed_after[-1]:.2f} s; "
          f"/healthz answered in {healthy_in_s * 1000:.0f} ms during the attack")  # fmt: skip
    assert healthy_in_s < 1.0
    assert closed_after[0] >= 0.9 and closed_after[-1] < 2.5, closed_after  # 1 s deadline, loaded 2-core box
    for _seconds, raw in results:
        status, headers, body = parse_response(raw)
        assert status == 408
        assert_json_error(headers, body, "request_timeout")


async def test_ingress_server_silent_connection_closed_after_header_timeout_without_answer(served):
    port = await served(header_timeout_s=0.5)
    reader, writer = await asyncio.open_connection(HOST, port)
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # no bytes sent: closed, nothing to answer
    assert 0.4 < time.monotonic() - started < 2.0
    writer.close()


async def test_ingress_server_idle_keepalive_beyond_header_timeout_still_served(served):
    port = await served(header_timeout_s=0.5, keepalive_timeout_s=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        for _ in range(2):
            async with http.get(f"http://{HOST}:{port}/healthz") as resp:
                assert resp.status == 200
            await asyncio.sleep(1.0)  # idle longer than the header deadline, shorter than keep-alive
        assert len(http.connector._conns) == 1  # the same kept-alive connection served both


async def test_ingress_server_slow_body_answered_408_json_and_nothing_persisted(served, sink):
    port = await served(body_timeout_s=1.0)
    started = time.monotonic()
    status, headers, body = await exchange(port, TICKET_HEAD + b"Content-Length: 100\r\n\r\n" + TICKET[:10])
    assert 0.9 < time.monotonic() - started < 3.0
    assert status == 408
    assert_json_error(headers, body, "request_timeout")
    assert headers.get("connection", "").lower() == "close"
    assert sink.records == []


async def test_ingress_server_body_sent_in_pieces_within_body_timeout_accepted(served, sink):
    port = await served(body_timeout_s=2.0, header_timeout_s=1.0)
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(TICKET_HEAD + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(TICKET))
    for start in range(0, len(TICKET), 20):  # ~1.2 s in all: past the header deadline, inside the body's
        writer.write(TICKET[start : start + 20])
        await writer.drain()
        await asyncio.sleep(0.3)
    status, _headers, body = parse_response(await asyncio.wait_for(reader.read(), 5))
    writer.close()
    assert status == 202, body
    assert len(sink.records) == 1


# -- disconnects and logs ----------------------------------------------------------------------------


async def test_ingress_server_client_disconnect_mid_body_logged_once_without_traceback_or_500(
    served, sink, caplog
):
    caplog.set_level(logging.INFO)
    port = await served()
    _reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(TICKET_HEAD + b"Content-Length: 1000\r\n\r\n" + TICKET[:10])
    await writer.drain()
    await asyncio.sleep(0.2)  # the handler is reading the body
    writer.transport.abort()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not any("disconnected" in r.getMessage() for r in caplog.records):
        await asyncio.sleep(0.05)
    ours = [r for r in caplog.records if r.name.startswith(("supportflow", "aiohttp"))]
    assert len(ours) == 1, [r.getMessage() for r in ours]  # one line: no traceback, no access-log 500
    [record] = ours
    assert record.levelno == logging.INFO and record.exc_info is None
    assert f'{HOST} "POST /tickets" client disconnected before the response' in record.getMessage()
    assert sink.records == []


async def test_ingress_server_access_log_omits_query_string_with_verify_token(served, caplog):
    caplog.set_level(logging.INFO)
    port = await served()
    token = SECRETS["whatsapp_verify_token"]
    url = (
        f"http://{HOST}:{port}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=7"
    )
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200 and await resp.text() == "7"
    await asyncio.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records]
    assert any('"GET /webhooks/whatsapp" 200' in line for line in lines), lines
    assert not [line for line in lines if token in line or "hub." in line or "?" in line]


# -- errors aiohttp would answer in plain text --------------------------------------------------------

CLOSE = b"Connection: close\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n", 431, "headers_too_large"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(200)) + b"\r\n",
         431, "headers_too_large"),
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431, "headers_too_large"),
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (TICKET_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", 400, "bad_request"),
        (b"GET /nope HTTP/1.1\r\nHost: x\r\n" + CLOSE + b"\r\n", 404, "not_found"),
        (b"DELETE /tickets HTTP/1.1\r\nHost: x\r\n" + CLOSE + b"\r\n", 405, "method_not_allowed"),
    ],
    ids=["huge-header", "too-many-headers", "huge-url", "bad-request-line", "bad-version",
         "bad-chunking", "unknown-path", "wrong-method"],
)  # fmt: skip
async def test_ingress_server_protocol_errors_answered_in_json_shape(
    served, sink, caplog, request_bytes, status, code
):
    caplog.set_level(logging.INFO)
    port = await served()
    got, headers, body = await exchange(port, request_bytes)
    assert got == status, body
    assert_json_error(headers, body, code)
    assert headers["x-content-type-options"] == "nosniff"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert sink.records == []


async def test_ingress_server_body_broken_after_headers_answered_400_json(served, sink, caplog):
    caplog.set_level(logging.INFO)
    port = await served()
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(TICKET_HEAD + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n')
    await writer.drain()
    await asyncio.sleep(0.2)  # the handler is waiting for the next chunk
    writer.write(b"zz\r\n")
    status, headers, body = parse_response(await asyncio.wait_for(reader.read(), 5))
    writer.close()
    assert status == 400
    assert_json_error(headers, body, "bad_request")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert sink.records == []
