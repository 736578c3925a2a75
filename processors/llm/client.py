"""The resolve stage's model client: two LiteLLM tiers, bounded retries, fallback, Router cooldowns.

For one ticket: try the requested tier's model; retry provider failures with exponential backoff and
jitter (or the provider's ``Retry-After``) up to ``ModelTiers.max_retries`` times; re-ask once if the
reply is not valid cited JSON; then try the other tier the same way; then raise
:class:`LlmUnavailable` so the caller drafts or escalates. Worst case per ticket is bounded by
``2 tiers x (max_retries + 2 calls: first, re-ask, retries) x timeout_s`` plus the backoff waits.
Every call goes through LiteLLM's Router (breaker.py), which cools a model down after repeated provider
failures; a cooling model fails at once and the ticket moves on to the other tier.

Ticket text and customer facts arrive already redacted. Logs carry ids, models, error classes and
statuses only, never prompt or reply text.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import tenacity

from supportflow.processors.llm.breaker import BreakerPolicy, ModelCircuits
from supportflow.processors.llm.errors import (
    LlmCircuitOpen,
    LlmError,
    LlmOutputInvalid,
    LlmRequestRejected,
    LlmUnavailable,
)
from supportflow.processors.llm.prompt import build_messages, parse_model_answer, reask_messages
from supportflow.processors.llm.provider import Completion, Endpoint
from supportflow.schemas.models import Answer, Source, Tier
from supportflow.settings import ModelTiers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    # A Retry-After longer than this is not waited out inside one ticket: the other tier answers instead.
    retry_after_cap_s: float = 10.0

    def backoff_s(self, retry: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so workers do not stampede."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * (2**retry))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


#: ``(tier, model, outcome, tokens_in, tokens_out)`` for every provider call and refusal; outcome is one
#: of ok | error | timeout | rate_limited | invalid | circuit_open. The worker wires it to Prometheus.
CallObserver = Callable[[str, str, str, int, int], None]


def _outcome_of(exc: LlmError) -> str:
    if exc.status == 429:
        return "rate_limited"
    # LiteLLM's Timeout carries 408; no status at all means no connection: both are "no answer in time".
    return "timeout" if exc.status in (None, 408) else "error"


@dataclass
class _RetryCount:
    used: int = 0


@dataclass
class TierClient:
    """One per process: the Router's cooldown state is per model and shared by every ticket."""

    tiers: ModelTiers
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker_policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    on_call: CallObserver | None = None
    circuits: ModelCircuits = field(init=False)

    def __post_init__(self) -> None:
        models = [m for m in (self.tiers.commodity, self.tiers.frontier) if m]
        self.circuits = ModelCircuits([self._endpoint(m) for m in models], self.breaker_policy)

    def enabled(self) -> bool:
        return bool(self.tiers.commodity or self.tiers.frontier)

    def answer(
        self,
        *,
        ticket_text: str,
        sources: list[Source],
        customer_facts: list[str],
        tier: Tier,
        ticket_id: str,
        language: str = "en",
    ) -> Answer:
        if not sources:
            raise LlmUnavailable("no sources to ground an answer on", reasons=["no_sources"])
        messages = build_messages(ticket_text, sources, customer_facts, language)
        allowed = [s.chunk_id for s in sources]
        reasons: list[str] = []
        last: Exception | None = None
        for attempt_tier, model in self._plan(tier):
            try:
                return self._answer_with(model, attempt_tier, messages, allowed, ticket_id)
            except (LlmError, LlmRequestRejected, LlmOutputInvalid, LlmCircuitOpen) as exc:
                reason = "circuit_open" if isinstance(exc, LlmCircuitOpen) else _describe(exc)
                reasons.append(f"{attempt_tier.value}:{model}:{reason}")
                log.warning(
                    "llm tier failed ticket=%s tier=%s model=%s reason=%s",
                    ticket_id,
                    attempt_tier,
                    model,
                    reason,
                )
                last = exc
        if not reasons:
            raise LlmUnavailable("no model tier is configured", reasons=["not_configured"])
        raise LlmUnavailable(f"all model tiers failed: {'; '.join(reasons)}", reasons=reasons) from last

    def _plan(self, tier: Tier) -> list[tuple[Tier, str]]:
        """The requested tier first, then the other; unconfigured tiers and repeated models skipped."""
        order = [tier, Tier.FRONTIER if tier == Tier.COMMODITY else Tier.COMMODITY]
        plan: list[tuple[Tier, str]] = []
        for candidate in order:
            model = self.tiers.commodity if candidate == Tier.COMMODITY else self.tiers.frontier
            if model and model not in {m for _, m in plan}:
                plan.append((candidate, model))
        return plan

    def _answer_with(
        self, model: str, tier: Tier, messages: list[dict[str, str]], allowed: list[str], ticket_id: str
    ) -> Answer:
        retries = _RetryCount()  # one budget per tier, shared by the ask and the re-ask
        completion = self._call_with_retries(model, tier, messages, ticket_id, retries)
        tokens_in, tokens_out, cost = completion.tokens_in, completion.tokens_out, completion.cost_usd
        try:
            parsed = parse_model_answer(completion.content, allowed)
        except LlmOutputInvalid as exc:
            self._observe(tier, model, "invalid")
            log.info("llm reply rejected, re-asking ticket=%s model=%s reason=%s", ticket_id, model, exc)
            retry_messages = reask_messages(messages, completion.content, str(exc), allowed)
            completion = self._call_with_retries(model, tier, retry_messages, ticket_id, retries)
            tokens_in += completion.tokens_in
            tokens_out += completion.tokens_out
            cost += completion.cost_usd
            try:
                parsed = parse_model_answer(completion.content, allowed)
            except LlmOutputInvalid:
                self._observe(tier, model, "invalid")
                raise
        return Answer(
            text=parsed.answer,
            citations=parsed.citations,
            model=model,
            tier=tier,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=cost,
        )

    def _observe(self, tier: Tier, model: str, outcome: str, tokens_in: int = 0, tokens_out: int = 0) -> None:
        if self.on_call is not None:
            self.on_call(tier.value, model, outcome, tokens_in, tokens_out)

    def _endpoint(self, model: str) -> Endpoint:
        key = self.tiers.api_key.get_secret_value() if self.tiers.api_key else None
        return Endpoint(
            model=model, api_base=self.tiers.api_base, api_key=key, timeout_s=self.tiers.timeout_s
        )

    def _call_with_retries(
        self, model: str, tier: Tier, messages: list[dict[str, str]], ticket_id: str, retries: _RetryCount
    ) -> Completion:
        endpoint = self._endpoint(model)

        def wait_s(state: tenacity.RetryCallState) -> float:
            retry_after_s = _failure(state).retry_after_s
            return self.retry.backoff_s(retries.used, self.rng) if retry_after_s is None else retry_after_s

        def log_failure(state: tenacity.RetryCallState, next_wait: str) -> None:
            log.warning(
                "llm call failed ticket=%s model=%s retry=%d reason=%s next_wait_s=%s",
                ticket_id, model, retries.used, _describe(_failure(state)), next_wait,
            )  # fmt: skip

        def before_retry(state: tenacity.RetryCallState) -> None:
            log_failure(state, f"{state.upcoming_sleep:.2f}")
            retries.used += 1

        def give_up(state: tenacity.RetryCallState) -> Completion:
            log_failure(state, "give_up")
            raise _failure(state)  # to answer(), which falls back to the other tier

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(LlmError),
            # The budget the ask's retries left; a Retry-After beyond the cap is not waited out inside
            # one ticket: the other tier answers instead.
            stop=tenacity.stop_after_attempt(1 + self.tiers.max_retries - retries.used)
            | _RetryAfterBeyond(self.retry.retry_after_cap_s),
            wait=wait_s,
            sleep=self.sleep,
            before_sleep=before_retry,
            retry_error_callback=give_up,
        )
        completion: Completion = retrying(self._call_once, endpoint, tier, messages)
        return completion

    def _call_once(self, endpoint: Endpoint, tier: Tier, messages: list[dict[str, str]]) -> Completion:
        """One provider call through the Router, observed whatever its outcome."""
        model = endpoint.model
        try:
            completion = self.circuits.complete(endpoint, messages)
        except LlmCircuitOpen:
            self._observe(tier, model, "circuit_open")
            raise
        except LlmError as exc:
            self._observe(tier, model, _outcome_of(exc))
            raise
        except LlmRequestRejected:
            self._observe(tier, model, "error")
            raise
        self._observe(tier, model, "ok", completion.tokens_in, completion.tokens_out)
        return completion


class _RetryAfterBeyond(tenacity.stop.stop_base):
    """Stops when the provider asks for a longer wait than ``cap_s``: retrying sooner is pointless."""

    def __init__(self, cap_s: float) -> None:
        self.cap_s = cap_s

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        retry_after_s = _failure(retry_state).retry_after_s
        return retry_after_s is not None and retry_after_s > self.cap_s


def _failure(state: tenacity.RetryCallState) -> LlmError:
    """The LlmError the attempt just failed with (tenacity only retries those)."""
    assert state.outcome is not None
    exc = state.outcome.exception()
    assert isinstance(exc, LlmError)
    return exc


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__}({status})" if status else type(exc).__name__
