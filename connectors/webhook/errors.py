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


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)
