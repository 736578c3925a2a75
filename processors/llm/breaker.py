"""Per-model circuit breaking by LiteLLM's Router, so a provider outage costs one timeout per window, not one per ticket.

:class:`ModelCircuits` sends every call through one ``litellm.Router`` that holds each configured model as
its own deployment, with no Router retries and no Router fallbacks (client.py owns both). The Router
counts a model's provider failures (timeout, 429, 500, 502, 503, 504) and, at the ``failures``-th one
within ``reset_s``, cools the model down for ``reset_s``: calls to it then fail at once with
:class:`LlmCircuitOpen` and send nothing. When the cooldown ends, calls go out again and the count
starts over. A 4xx refusal is not counted, and neither is a reply that fails validation: the Router has
already returned it as a success, which it is for the provider.

Compared with a classic closed/open/half-open breaker: the count is of failures within ``reset_s``,
not of consecutive ones (a success in between does not clear it), and there is no single half-open
probe: after the cooldown, a provider that is still down takes ``failures`` more calls to cool down
again. Provider errors the Router files under no ``AllowedFailsPolicy`` field (409, 425, other 5xx)
are retried by client.py but not counted.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from supportflow.processors.llm.provider import Completion, Endpoint, complete, litellm_module


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5
    reset_s: float = 30.0

    def __post_init__(self) -> None:
        # A zero cooldown_time switches the Router's cooldowns off, which would fail open silently.
        if self.failures < 1 or self.reset_s <= 0:
            raise ValueError("breaker needs failures >= 1 and reset_s > 0")


class ModelCircuits:
    """One per client, thread-safe; the Router is built on first use (LiteLLM's import takes seconds)."""

    def __init__(self, endpoints: Sequence[Endpoint], policy: BreakerPolicy) -> None:
        self.policy = policy
        self._endpoints = {e.model: e for e in endpoints}  # one deployment per model, however many tiers
        self._router: Any = None
        self._lock = threading.Lock()

    def complete(self, endpoint: Endpoint, messages: list[dict[str, str]]) -> Completion:
        """:func:`provider.complete` through the Router. Raises what it raises, or :class:`LlmCircuitOpen`."""
        return complete(endpoint, messages, router=self.router())

    def router(self) -> Any:
        with self._lock:
            if self._router is None:
                self._router = _build_router(list(self._endpoints.values()), self.policy)
            return self._router


def _build_router(endpoints: list[Endpoint], policy: BreakerPolicy) -> Any:
    litellm = litellm_module()
    from litellm.types.router import AllowedFailsPolicy

    # The Router cools a deployment down once its count *exceeds* the allowed fails. Naming each
    # exception type is what makes a lone deployment (no Router fallback) cool down at all.
    allowed = policy.failures - 1
    counted = AllowedFailsPolicy(
        TimeoutErrorAllowedFails=allowed,
        RateLimitErrorAllowedFails=allowed,
        InternalServerErrorAllowedFails=allowed,
        ServiceUnavailableErrorAllowedFails=allowed,
        BadGatewayErrorAllowedFails=allowed,
    )
    deployments = [
        {
            "model_name": e.model,
            "litellm_params": {
                k: v for k, v in {"model": e.model, "api_base": e.api_base, "api_key": e.api_key}.items() if v
            },
            "model_info": {"id": e.model},
        }
        for e in endpoints
    ]
    return litellm.Router(
        model_list=deployments, num_retries=0, allowed_fails_policy=counted, cooldown_time=policy.reset_s
    )
