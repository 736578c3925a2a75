"""A circuit breaker per model, so a provider outage costs one timeout per window, not one per ticket.

closed --N consecutive failures--> open --reset_s elapsed--> half-open (one probe call allowed)
half-open --probe succeeds--> closed;  half-open --probe fails--> open again for reset_s.

Only provider failures count (timeouts, 429, 5xx, connection errors). A reply that fails validation
proves the provider is up, so it counts as a success here; the re-ask and tier fallback handle it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5
    reset_s: float = 30.0


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class _Circuit:
    consecutive_failures: int = 0
    opened_at: float | None = None
    probing: bool = False


class CircuitBreaker:
    """Thread-safe: stages may call the model client from an executor pool."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        if policy.failures < 1 or policy.reset_s <= 0:
            raise ValueError("breaker needs failures >= 1 and reset_s > 0")
        self.policy = policy
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}
        self._lock = threading.Lock()

    def allow(self, model: str) -> bool:
        """True if a call to ``model`` may go out now; an allowed call in half-open state is the probe."""
        with self._lock:
            circuit = self._circuits.setdefault(model, _Circuit())
            if circuit.opened_at is None:
                return True
            if circuit.probing or self._clock() - circuit.opened_at < self.policy.reset_s:
                return False
            circuit.probing = True
            return True

    def record_success(self, model: str) -> None:
        with self._lock:
            self._circuits[model] = _Circuit()

    def record_failure(self, model: str) -> None:
        with self._lock:
            circuit = self._circuits.setdefault(model, _Circuit())
            circuit.consecutive_failures += 1
            if circuit.probing or circuit.consecutive_failures >= self.policy.failures:
                circuit.opened_at = self._clock()
                circuit.probing = False

    def state(self, model: str) -> BreakerState:
        with self._lock:
            circuit = self._circuits.get(model)
            if circuit is None or circuit.opened_at is None:
                return BreakerState.CLOSED
            if circuit.probing or self._clock() - circuit.opened_at >= self.policy.reset_s:
                return BreakerState.HALF_OPEN
            return BreakerState.OPEN
