"""Request authentication: WhatsApp and chat HMAC signatures, bearer tokens, the chat replay cache.

Every comparison of a secret-derived value uses :func:`hmac.compare_digest` on bytes, so timing does
not leak how many leading characters were right (and a non-ASCII header cannot raise TypeError).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import time
from collections.abc import Callable

from supportflow.connectors.webhook.errors import RequestRejected

WHATSAPP_SIGNATURE_HEADER = "X-Hub-Signature-256"
CHAT_TIMESTAMP_HEADER = "X-Supportflow-Timestamp"
CHAT_SIGNATURE_HEADER = "X-Supportflow-Signature"
_PREFIX = "sha256="


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    left = a.encode("utf-8", "replace") if isinstance(a, str) else a
    right = b.encode("utf-8", "replace") if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def _unauthorized(code: str, message: str) -> RequestRejected:
    return RequestRejected(401, code, message)


def whatsapp_signature(app_secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return _PREFIX + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def verify_whatsapp(app_secret: bytes, body: bytes, header: str | None) -> None:
    if not header:
        raise _unauthorized("missing_signature", f"{WHATSAPP_SIGNATURE_HEADER} header is required")
    if not constant_time_equal(header.strip(), whatsapp_signature(app_secret, body)):
        raise _unauthorized("invalid_signature", f"{WHATSAPP_SIGNATURE_HEADER} does not match the body")


def chat_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 over ``"{timestamp}.{raw body}"``: binding the time stops replays."""
    return _PREFIX + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_chat(
    secret: bytes, body: bytes, timestamp: str | None, signature: str | None, *, now_s: float, window_s: int
) -> int:
    """Check the chat signature and freshness; returns the signed timestamp (epoch seconds)."""
    if not timestamp or not signature:
        raise _unauthorized(
            "missing_signature", f"{CHAT_TIMESTAMP_HEADER} and {CHAT_SIGNATURE_HEADER} headers are required"
        )
    ts = timestamp.strip()
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12):
        raise _unauthorized("invalid_timestamp", f"{CHAT_TIMESTAMP_HEADER} must be epoch seconds")
    # Signature first: an attacker must not learn anything about the replay window from unsigned input.
    if not constant_time_equal(signature.strip(), chat_signature(secret, ts, body)):
        raise _unauthorized("invalid_signature", f"{CHAT_SIGNATURE_HEADER} does not match timestamp and body")
    if abs(now_s - int(ts)) > window_s:
        raise _unauthorized(
            "stale_timestamp", f"{CHAT_TIMESTAMP_HEADER} is more than {window_s}s away from server time"
        )
    return int(ts)


def verify_bearer(expected: bytes, authorization: str | None) -> None:
    verify_bearer_any([expected], authorization)


def verify_bearer_any(keys: list[bytes], authorization: str | None) -> int:
    """Index of the key the bearer token equals (each compared in constant time); 401 when none."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RequestRejected(
            401, "missing_credentials", "Authorization: Bearer <token> is required",
            {"WWW-Authenticate": 'Bearer realm="supportflow"'},
        )  # fmt: skip
    matched = [constant_time_equal(token.strip(), key) for key in keys]  # no early exit: same time
    if not any(matched):
        raise RequestRejected(
            401, "invalid_credentials", "the bearer token is not valid for this endpoint",
            {"WWW-Authenticate": 'Bearer realm="supportflow", error="invalid_token"'},
        )  # fmt: skip
    return matched.index(True)


class ReplayCache:
    """Chat signatures seen within the replay window, bounded in size.

    An entry is only needed until its timestamp leaves the window (the staleness check rejects it from
    then on), so entries expire at ``timestamp + window`` in heap order. When the cache is full of live
    entries it refuses new ones (the caller answers 503) rather than forgetting one and reopening a
    replay hole: fail closed.

    ``claim`` reserves a signature before the event is produced; ``release`` undoes it when the broker
    did not persist the event, so the sender's retry of the same signed request is not called a replay.
    """

    def __init__(self, window_s: int, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        self._window = window_s
        self._max = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def _purge(self) -> None:
        now = self._clock()
        while self._heap and self._heap[0][0] < now:
            expires, sig = heapq.heappop(self._heap)
            if self._expiry.get(sig) == expires:
                del self._expiry[sig]

    def claim(self, signature: str, timestamp_s: int) -> None:
        self._purge()
        if signature in self._expiry:
            raise _unauthorized("replayed_request", "this signed request was already accepted")
        if len(self._expiry) >= self._max:
            raise RequestRejected(
                503, "replay_cache_full", "too many signed requests within the replay window; retry later",
                {"Retry-After": "1"},
            )  # fmt: skip
        expires = float(timestamp_s + self._window)
        self._expiry[signature] = expires
        heapq.heappush(self._heap, (expires, signature))

    def release(self, signature: str) -> None:
        self._expiry.pop(signature, None)  # its heap entry is skipped at purge time
