"""The delivery core every egress connector shares: one HTTP request, retried until it lands or cannot.

Retry contract (the same as the rest of supportflow, see :mod:`supportflow.schemas.errors`):

- 2xx: delivered. A connector may also name statuses that mean "already applied" (Zendesk's 409 for an
  idempotency key it has seen): those count as delivered too.
- 5xx, 408, 409, 429, timeouts and connection errors: transient. Retried with exponential backoff and
  full jitter (``uniform(0, min(max, base * 2**n))``, so a fleet of workers does not retry in lockstep);
  a ``Retry-After`` header (seconds or an HTTP date) replaces the backoff, capped so a hostile or broken
  value cannot park the consumer for hours.
- Any other 4xx: permanent. Retrying the same request cannot succeed, so it is not retried.

Every request carries an ``Idempotency-Key`` derived from (connector, ticket id, decision, step), so a
receiver that dedupes by key turns our retries and redeliveries into no-ops.
"""

from __future__ import annotations

import email.utils
import hashlib
import itertools
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import tenacity

from supportflow.schemas.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

#: 4xx statuses that are worth retrying: request timeout, conflict (concurrent update), rate limited.
RETRYABLE_4XX = frozenset({408, 409, 429})


class DeliveryRejected(PermanentError):
    """The endpoint refused the request for a reason retrying cannot fix (400, 401, 403, 404, 422...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RetriesExhausted(TransientError):
    """Every attempt failed transiently; the outcome goes to the dead-letter topic."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class DeliveryInterrupted(Exception):
    """The worker is stopping mid-retry: leave the message uncommitted so it is redelivered."""


class _AttemptFailed(Exception):
    """One attempt failed transiently; the retry policy decides whether and when to try again."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class HttpCall:
    """One request a connector wants made. ``sign`` adds per-attempt headers (fresh signature timestamps)."""

    step: str
    method: str
    url: str
    json_body: Mapping[str, Any] | None = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    sign: Callable[[bytes], Mapping[str, str]] | None = None

    def body(self) -> bytes:
        if self.content is not None:
            return self.content
        if self.json_body is None:
            return b""
        return json.dumps(self.json_body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Delivered:
    status: int
    attempts: int
    already_applied: bool = False
    body: bytes = field(default=b"", repr=False)  # the answer, for requests whose result is read


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    retry_after_cap_s: float = 60.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full-jitter delay before retry number ``retry`` (1-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        return rng.uniform(0.0, ceiling)

    def worst_case_s(self, timeout_s: float) -> float:
        """Longest one request can take, all attempts and waits included (sizes max.poll.interval.ms)."""
        wait = max(self.max_delay_s, self.retry_after_cap_s)
        return self.max_attempts * timeout_s + (self.max_attempts - 1) * wait


def idempotency_key(connector: str, ticket_id: str, decision: str, step: str = "") -> str:
    """sha256 over (connector, ticket id, decision[, step]): stable across redeliveries and restarts."""
    parts = [connector, ticket_id, decision] + ([step] if step else [])
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date); None if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Deliverer:
    """Sends :class:`HttpCall` s over one pooled ``httpx.Client`` with explicit timeouts and retries."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        auth: httpx.Auth | None = None,
        already_applied_statuses: frozenset[int] = frozenset(),
        sleep: Callable[[float], bool | None] = time.sleep,
        should_stop: Callable[[], bool] = lambda: False,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self.timeout_s = timeout_s
        self._already_applied = already_applied_statuses
        self._sleep = sleep
        self._should_stop = should_stop
        self._rng = rng or random.Random()
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            auth=auth,
            follow_redirects=False,  # a redirect on a write API is a misconfiguration, not a success
            headers={"User-Agent": "supportflow-egress", "Accept": "application/json"},
        )

    def send(self, call: HttpCall, key: str) -> Delivered:
        body = call.body()
        attempts = itertools.count(1)
        what = f"{call.method} {call.url}"

        def pause(delay_s: float) -> None:
            self._sleep(delay_s)
            if self._should_stop():
                raise DeliveryInterrupted(f"stopping during retries of {what}")

        def log_retry(state: tenacity.RetryCallState) -> None:
            reason = _failure(state).reason
            log.info(
                "%s attempt %d failed (%s); retrying in %.2fs",
                what,
                state.attempt_number,
                reason,
                state.upcoming_sleep,
            )

        def give_up(state: tenacity.RetryCallState) -> Delivered:
            last_error = _failure(state).reason
            attempts_made = self.policy.max_attempts
            raise RetriesExhausted(f"{what} failed {attempts_made} times; last: {last_error}", attempts_made)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_AttemptFailed),
            stop=tenacity.stop_after_attempt(self.policy.max_attempts),
            wait=self._wait_s,
            sleep=pause,
            before_sleep=log_retry,
            retry_error_callback=give_up,
        )
        delivered: Delivered = retrying(lambda: self._attempt(call, key, body, next(attempts)))
        return delivered

    def _wait_s(self, state: tenacity.RetryCallState) -> float:
        """The endpoint's ``Retry-After`` (capped) when it sent one, else the jittered backoff."""
        retry_after_s = _failure(state).retry_after_s
        if retry_after_s is not None:
            return min(retry_after_s, self.policy.retry_after_cap_s)
        return self.policy.backoff(state.attempt_number, self._rng)

    def _attempt(self, call: HttpCall, key: str, body: bytes, attempt: int) -> Delivered:
        headers = {"Idempotency-Key": key, **call.headers}
        if call.json_body is not None:
            headers.setdefault("Content-Type", "application/json")
        if call.sign is not None:
            headers.update(call.sign(body))
        try:
            response = self._client.request(call.method, call.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _AttemptFailed(f"timed out after {self.timeout_s}s") from exc
        except httpx.TransportError as exc:  # refused, reset, DNS: the endpoint may be back shortly
            raise _AttemptFailed(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300 or status in self._already_applied:
            replayed = response.headers.get("x-idempotency-lookup", "").lower() == "hit"
            applied = status in self._already_applied or replayed
            return Delivered(status, attempt, already_applied=applied, body=response.content)
        last_error = f"HTTP {status}: {response.text[:300]}"
        if not (status >= 500 or status in RETRYABLE_4XX):
            raise DeliveryRejected(f"{call.method} {call.url} rejected: {last_error}", status)
        raise _AttemptFailed(last_error, parse_retry_after(response.headers.get("Retry-After")))

    def close(self) -> None:
        self._client.close()


def _failure(state: tenacity.RetryCallState) -> _AttemptFailed:
    """What the attempt just failed with (only ``_AttemptFailed`` is retried)."""
    assert state.outcome is not None
    exc = state.outcome.exception()
    assert isinstance(exc, _AttemptFailed)
    return exc
