"""One error shape for every non-2xx answer: ``{"error": code, "message": text}``."""

from __future__ import annotations

from aiohttp import web


class RequestRejected(Exception):
    """A handler's decision to answer with an error; the middleware renders it as JSON."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


#: On every answer: the app's (middleware), aiohttp's own errors and the server's raw 408.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

#: The status given to a request whose client went away mid-request; never sent (nginx's convention).
CLIENT_CLOSED = 499


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


class BodyReadTimeout(TimeoutError):
    """Set on a request's body stream when the body did not arrive in time; answered 408.

    A ``TimeoutError`` so aiohttp's lingering read after the response treats it as a timeout, not a crash.
    """


def client_closed_response() -> web.Response:
    """What the access log records for a request whose client disconnected before the answer."""
    return web.Response(status=CLIENT_CLOSED, reason="Client Closed Request")
