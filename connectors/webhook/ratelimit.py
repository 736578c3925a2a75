"""Per-client token buckets: a client may burst ``burst`` requests, then ``rate_per_s`` sustained.

Each client's bucket is pyrate-limiter's in-memory ``TokenBucket``; this module keys them by client,
bounds how many are kept, and turns the wait into whole seconds for ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from pyrate_limiter import AbstractClock, Decision, Rate, RateItem, StateBucket, TokenBucket


class _MillisecondClock(AbstractClock):
    """pyrate-limiter counts milliseconds; the clock given to the limiter returns seconds."""

    def __init__(self, seconds: Callable[[], float]) -> None:
        self.seconds = seconds

    def now(self) -> int:
        return round(self.seconds() * 1000)


class TokenBucketLimiter:
    """Bounded memory: at most ``max_clients`` buckets, least recently seen evicted first.

    An evicted client comes back with a full bucket; with the default 10,000 buckets that only happens
    when more distinct addresses than that are active at once, where per-IP limits are moot anyway.
    """

    def __init__(
        self, rate_per_s: float, burst: int, max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.rate = rate_per_s
        self.burst = burst
        self._max_clients = max_clients
        self._clock = _MillisecondClock(clock)
        self._algorithm = TokenBucket()  # stateless: one shared by every bucket
        # Refill expressed per 1000 tokens, so the time between two tokens is exact to the microsecond.
        interval_ms = max(1, round(1_000_000 / rate_per_s)) if self.enabled else 1
        self._rates = [Rate(1000, interval_ms, burst=burst)]
        self._buckets: OrderedDict[str, StateBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, client: str) -> int:
        """0 when the request may proceed, else the whole seconds to wait (for ``Retry-After``)."""
        if not self.enabled:
            return 0
        bucket = self._buckets.pop(client, None)
        self._buckets[client] = bucket or StateBucket(self._rates, self._algorithm, clock=self._clock)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        decision = self._buckets[client].put_decision(RateItem(client, self._clock.now()))
        assert isinstance(decision, Decision), "an in-memory bucket decides synchronously"
        return 0 if decision.allowed else max(1, math.ceil((decision.retry_after_ms or 0) / 1000))

    def __len__(self) -> int:
        return len(self._buckets)
