"""The HTTP server under the ingress app: read deadlines, JSON protocol errors, a path-only access log.

aiohttp's connection handler (:class:`aiohttp.web_protocol.RequestHandler`) closes idle keep-alive
connections but puts no limit on how long a client may take to send a request's headers or body, so a
client trickling header bytes (slowloris) holds its connection forever. :class:`IngressProtocol` adds two
deadlines per request: the headers must be complete within ``header_timeout_s`` of the connection
opening or of the request's first byte, the body within ``body_timeout_s`` of the headers. Late headers
get a raw 408 and the connection closes; a late body fails the handler's read with
:class:`BodyReadTimeout`, which the app answers 408.

Errors aiohttp answers before the app sees a request (malformed request line, header fields over the
limit) get the app's JSON shape too: 431 ``headers_too_large`` or 400 ``bad_request``. The access log
names the path only: query strings (the WhatsApp handshake carries its verify token there) never reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError, LineTooLong
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from supportflow.connectors.webhook.errors import (
    CLIENT_CLOSED,
    SECURITY_HEADERS,
    BodyReadTimeout,
    error_response,
)
from supportflow.connectors.webhook.settings import WebhookSettings

log = logging.getLogger(__name__)

ACCESS_LOG = logging.getLogger("supportflow.webhook.access")
#: After a late body is failed, the handler has this long to answer before the connection is cut.
BODY_TIMEOUT_GRACE_S = 1.0
MAX_LOGGED_PATH = 200


class IngressAccessLogger(AbstractAccessLogger):
    """``<ip> "<METHOD> <path>" <status> <bytes> <seconds>s``: the raw path, never the query string."""

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.rel_url.raw_path[:MAX_LOGGED_PATH]
        if response.status == CLIENT_CLOSED:
            self.logger.info(
                '%s "%s %s" client disconnected before the response (%.3fs)',
                request.remote, request.method, path, time,
            )  # fmt: skip
            return
        self.logger.info(
            '%s "%s %s" %d %d %.3fs',
            request.remote, request.method, path, response.status, response.body_length, time,
        )  # fmt: skip


def _timeout_response(what: str, timeout_s: float) -> bytes:
    body = orjson.dumps({"error": "request_timeout", "message": f"{what} not received within {timeout_s:g}s"})
    headers = {
        "Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(body)),
        **SECURITY_HEADERS, "Connection": "close",
    }  # fmt: skip
    head = "HTTP/1.1 408 Request Timeout\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body


class IngressProtocol(RequestHandler):
    """aiohttp's connection handler plus header and body read deadlines and JSON protocol errors."""

    def __init__(
        self, manager: web.Server, *, loop: asyncio.AbstractEventLoop, header_timeout_s: float,
        body_timeout_s: float, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(manager, loop=loop, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._body_timeout_s = body_timeout_s
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = False  # a request's first bytes arrived while its header deadline runs
        self._body: StreamReader | None = None  # the body being received, while its deadline runs

    # -- deadlines --------------------------------------------------------------------------------

    def _arm(self, delay_s: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self._loop.call_later(delay_s, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _client(self) -> str:
        peer = self.peername
        return str(peer[0]) if isinstance(peer, tuple) else str(peer)

    def _receiving_body(self) -> bool:
        return self._body is not None and not self._body.is_eof()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._header_bytes = False
        self._arm(self._header_timeout_s, self._headers_late)

    def data_received(self, data: bytes) -> None:
        if data and not (self._force_close or self._close or self._receiving_body()):
            if self._deadline is None:  # the first byte of the next request on a kept-alive connection
                self._arm(self._header_timeout_s, self._headers_late)
            self._header_bytes = True
        receiving, parsed = self._body if self._receiving_body() else None, self._request_count
        super().data_received(data)
        if self._request_count != parsed:  # a request's headers are complete (or failed to parse)
            self._disarm()
            if receiving is not None and not receiving.is_eof():  # the parser gave up inside that body
                reason = getattr(self._messages[-1][0], "message", None) or "unparseable body"
                self._fail_body(receiving, RequestPayloadError(reason.strip().splitlines()[0][:200]))
                return
            self._header_bytes = False
            payload = self._messages[-1][1] if self._messages else None
            self._body = payload if payload is not None and not payload.is_eof() else None
            if self._body is not None:
                self._arm(self._body_timeout_s, self._body_late)
        elif self._body is not None and self._body.is_eof():
            self._body = None
            self._disarm()

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport is None:
            return
        if self._request_in_progress:  # a pipelined request waits behind one being answered: not yet late
            self._arm(self._header_timeout_s, self._headers_late)
            return
        if self._header_bytes:  # mid-request: answer it; a silent idle connection is just closed
            log.info("closing connection from %s: request headers not complete within %gs",
                     self._client(), self._header_timeout_s)  # fmt: skip
            self.transport.write(_timeout_response("request headers", self._header_timeout_s))
        self.force_close()

    def _body_late(self) -> None:
        self._deadline = None
        body, self._body = self._body, None
        if body is None or body.is_eof() or self.transport is None:
            return
        log.info("request body from %s not complete within %gs: answering 408",
                 self._client(), self._body_timeout_s)  # fmt: skip
        self._fail_body(body, BodyReadTimeout(f"request body not received within {self._body_timeout_s:g}s"))

    def _fail_body(self, body: StreamReader, exc: Exception) -> None:
        """The body cannot complete: fail the handler's read (the app answers), then end the connection."""
        self._body = None
        self._lingering_time = 0.0  # nothing after the answer is worth reading
        self.close()  # no further requests on this connection
        if self._request_in_progress:
            body.set_exception(exc)
            self._arm(BODY_TIMEOUT_GRACE_S, self.force_close)
        else:  # the handler already answered and aiohttp is discarding the rest: hang up
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._body = None
        super().connection_lost(exc)

    # -- errors aiohttp answers itself ------------------------------------------------------------

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:  # fmt: skip
        """aiohttp's own answers (unparseable requests, handler crashes) in the app's JSON shape."""
        if request.writer.output_size > 0:  # a response is already on the wire: nothing more to say
            raise ConnectionError("response already started; cannot send an error response")
        status, code, text = self._describe(status, exc)
        if status >= 500:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
        else:
            log.info("answered %d %s to %s: %s", status, code, request.remote, text)
        response = error_response(status, code, text, SECURITY_HEADERS)
        response.force_close()
        return response

    def _describe(self, status: int, exc: BaseException | None) -> tuple[int, str, str]:
        if isinstance(exc, LineTooLong) or (
            isinstance(exc, BadHttpMessage) and "too many headers" in exc.message.lower()
        ):
            return 431, "headers_too_large", (
                f"the request line or a header field is over {self.max_field_size} bytes, "
                f"or there are more than {self.max_headers} header fields"
            )  # fmt: skip
        if status >= 500:
            return status, "internal_error", "unexpected server error; see server logs"
        if isinstance(exc, HttpProcessingError):
            detail = (exc.message or "").strip().splitlines()
            return (
                status,
                "bad_request",
                "malformed HTTP request" + (f": {detail[0][:200]}" if detail else ""),
            )
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return status, phrase.lower().replace(" ", "_"), phrase


class _IngressServer(web.Server):
    """aiohttp's protocol factory, building :class:`IngressProtocol` connections."""

    def __init__(self, base: web.Server, header_timeout_s: float, body_timeout_s: float) -> None:
        super().__init__(
            base.request_handler, request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation, **base._kwargs,
        )  # fmt: skip
        self._timeouts = {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s}

    def __call__(self) -> RequestHandler:
        return IngressProtocol(self, loop=self._loop, **self._timeouts, **self._kwargs)


class IngressRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose connections have the service's read deadlines.

    Start it like any runner (``setup()``, then a :class:`aiohttp.web.TCPSite`); the access log, when
    given, uses :class:`IngressAccessLogger`.
    """

    def __init__(self, app: web.Application, webhook: WebhookSettings, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", webhook.keepalive_timeout_s)
        super().__init__(app, access_log_class=IngressAccessLogger, **kwargs)
        self._header_timeout_s = webhook.header_timeout_s
        self._body_timeout_s = webhook.body_timeout_s

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()
        return _IngressServer(base, self._header_timeout_s, self._body_timeout_s)


async def _serve_forever(app: web.Application, webhook: WebhookSettings, host: str, port: int) -> None:
    runner = IngressRunner(app, webhook, handle_signals=True, access_log=ACCESS_LOG)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        await asyncio.Event().wait()  # until SIGINT/SIGTERM
    finally:
        await runner.cleanup()


def run(app: web.Application, webhook: WebhookSettings, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT or SIGTERM, then close it (and its sink) cleanly."""
    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(_serve_forever(app, webhook, host, port))
