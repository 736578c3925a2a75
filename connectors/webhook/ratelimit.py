"""Per-client token buckets: a client may burst ``burst`` requests, then ``rate_per_s`` sustained."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


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
        self.burst = float(burst)
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, client: str) -> int:
        """0 when the request may proceed, else the whole seconds to wait (for ``Retry-After``)."""
        if not self.enabled:
            return 0
        now = self._clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return 0 if allowed else max(1, math.ceil((1.0 - tokens) / self.rate))

    def __len__(self) -> int:
        return len(self._buckets)
