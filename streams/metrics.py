"""Prometheus metrics for every worker: what the pipeline decides, how fast, at what cost, how far behind.

All metrics live in prometheus-client's default registry and are served by :func:`start_metrics_server`
(``SUPPORTFLOW_METRICS_PORT``; the Helm chart uses 9102). Labels are low-cardinality by construction:
enums (channel, decision, band, tier), closed sets (stage, LLM call outcome, token direction), router
intents, and reasons reduced to their kind and name by :func:`reason_label`. Values such as thresholds,
amounts or exception text never become label values: every free-form label also passes a
:class:`LabelGuard` that admits a bounded number of distinct values and folds the rest into ``other``,
so an upstream bug cannot multiply the series count of every Prometheus that scrapes us.

Consumer lag comes from :class:`~supportflow.streams.lag.LagSampler`, which reads committed offsets
against high watermarks.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from supportflow.schemas.models import Outcome
from supportflow.streams.flag_registry import FLAGS
from supportflow.streams.flag_registry import UNKNOWN as FLAG_UNKNOWN

log = logging.getLogger(__name__)

OTHER = "other"

#: 0.5 ms (a dedupe lookup) to 10 s (a slow frontier-model call).
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Ingest to decision; 2 s is the latency objective, so it is a bucket boundary.
END_TO_END_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
#: Dense near the top, where the auto-send floor (0.92 by default) lives.
GROUNDEDNESS_BUCKETS = (0.5, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94, 0.96, 0.98, 1.0)
#: Cosine similarity of the best help-center section; the auto floor defaults to 0.45.
RETRIEVAL_BUCKETS = (0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 1.0)

LLM_CALL_OUTCOMES = frozenset({"ok", "error", "timeout", "rate_limited", "invalid", "circuit_open"})


class LabelGuard:
    """Admits the first ``limit`` distinct values of one label; later new values become ``other``."""

    def __init__(self, limit: int, max_len: int = 64) -> None:
        self._limit = limit
        self._max_len = max_len
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        value = value[: self._max_len] or "none"
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self._limit:
                self._seen.add(value)
                return value
        return OTHER


# ~30 router intents + oos + "unknown" (failed before routing); the limit leaves room for a retrain.
intent_label = LabelGuard(64)
# Reason kinds x names: rules in the policy file, gate checks, degradations per component.
_reason_guard = LabelGuard(128)
# Model names come from configuration (one or two per tier).
model_label = LabelGuard(16)
stage_label = LabelGuard(16)
error_class_label = LabelGuard(32)
channel_label = LabelGuard(8)
language_label = LabelGuard(32)  # fastText knows 176 languages; a queue sees a handful

TICKETS_IN = Counter("supportflow_tickets_in", "Tickets normalized from inbound events.", ["channel"])
DECISIONS = Counter("supportflow_decisions", "Decisions made by the gate.", ["decision", "band", "intent"])
DECISIONS_BY_LANGUAGE = Counter(
    "supportflow_decisions_by_language",
    "Decisions by the ticket's detected language: deflection and escalation per language.",
    ["language", "decision"],
)
DECISION_REASONS = Counter(
    "supportflow_decision_reasons",
    "Reasons attached to decisions (kind:name, values stripped); one decision counts each reason once.",
    ["decision", "reason"],
)
CONVERSATION_TURNS = Counter(
    "supportflow_conversation_turns",
    "Customer messages by position in their conversation (1, 2, 3, 4+) and what the thread said of them.",
    ["turn", "finding"],
)
REOPENED = Counter(
    "supportflow_conversation_reopened",
    "Automatic answers the customer came back on (did not help, or the same question again), by the "
    "answer's intent.",
    ["intent", "finding"],
)
STAGE_SECONDS = Histogram(
    "supportflow_stage_seconds", "Processing time per record and stage.", ["stage"], buckets=STAGE_BUCKETS
)
END_TO_END_SECONDS = Histogram(
    "supportflow_end_to_end_seconds",
    "Time from the raw event reaching ingress to the decision.",
    ["channel", "decision"],
    buckets=END_TO_END_BUCKETS,
)
LLM_CALLS = Counter(
    "supportflow_llm_calls", "LLM calls by tier, model and outcome.", ["tier", "model", "outcome"]
)
LLM_TOKENS = Counter(
    "supportflow_llm_tokens", "LLM tokens by direction (in|out).", ["tier", "model", "direction"]
)
LLM_COST = Counter("supportflow_llm_cost_usd", "LLM spend in US dollars.", ["tier", "model"])
GROUNDEDNESS = Histogram(
    "supportflow_groundedness", "Groundedness of answers and drafts (0..1).", buckets=GROUNDEDNESS_BUCKETS
)
RETRIEVAL_TOP_SCORE = Histogram(
    "supportflow_retrieval_top_score",
    "Score of the best retrieved help-center section.",
    buckets=RETRIEVAL_BUCKETS,
)
DEAD_LETTERS = Counter(
    "supportflow_dead_letters", "Messages sent to the dead-letter topic.", ["stage", "error_class"]
)
DUPLICATES_SUPPRESSED = Counter(
    "supportflow_duplicates_suppressed", "Redelivered records dropped by idempotency checks.", ["stage"]
)
PARTITION_REREADS = Counter(
    "supportflow_partition_rereads",
    "Partitions read again from a record that was skipped before it was processed (commit guard).",
    ["topic"],
)
FETCH_JUMPS = Counter(
    "supportflow_fetch_jumps",
    "Fetches that jumped over offsets; each range is read again before it may count as absent.",
    ["topic"],
)
CONSUMER_LAG = Gauge(
    "supportflow_consumer_lag",
    "Records not yet committed by the group, summed over partitions.",
    ["topic", "group"],
)
AUTO_RESOLVE_ENABLED = Gauge("supportflow_auto_resolve_enabled", "1 when the kill switch allows auto-send.")
FLAG_EFFECT_SECONDS = Gauge("supportflow_flag_effect_seconds", "Last measured delay from flag set to effect.")
FLAG_VALUES_INVALID = Counter(
    "supportflow_flag_values_invalid",
    "Control-topic flag values not used (unreadable, wrong type or unknown name; flag=unknown).",
    ["flag"],
)
FLAGS_INVALID_NOW = Gauge(
    "supportflow_flags_invalid",
    "1 while a flag's latest control-topic value is invalid and its fail-closed value is in force "
    "(flag=unknown: how many unknown names the topic holds).",
    ["flag"],
)
for _flag in (*FLAGS, FLAG_UNKNOWN):  # every series exists from start-up at 0, so increase() sees a first 1
    FLAG_VALUES_INVALID.labels(flag=_flag)
    FLAGS_INVALID_NOW.labels(flag=_flag)

# The feedback join's (streams/feedback.py): what happened after decisions, by path and intent.
FEEDBACK = Counter(
    "supportflow_feedback",
    "Feedback joined to its outcome, by the outcome's path (auto|suggested|escalated|closed), intent and kind.",
    ["path", "intent", "kind"],
)
FEEDBACK_OUTCOMES = Counter(
    "supportflow_feedback_outcomes",
    "Outcomes the feedback join kept, by path and intent.",
    ["path", "intent"],
)
CSAT_RATINGS = Counter(
    "supportflow_feedback_csat_ratings", "CSAT ratings by path, intent and satisfied (true|false).",
    ["path", "intent", "satisfied"],
)  # fmt: skip
DRAFTS = Counter(
    "supportflow_feedback_drafts", "Drafts an agent acted on, by path, intent and whether sent unchanged.",
    ["path", "intent", "accepted"],
)  # fmt: skip
EDIT_DISTANCE = Histogram(
    "supportflow_feedback_edit_distance", "Normalized edit distance of the sent text from the draft (0..1).",
    ["path"], buckets=(0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
)  # fmt: skip
FEEDBACK_UNJOINED = Counter(
    "supportflow_feedback_unjoined",
    "Feedback not counted: duplicate (a replayed id), pending_dropped (over the per-ticket bound), "
    "expired (no outcome within the join's max age).",
    ["reason"],
)
for _reason in ("duplicate", "pending_dropped", "expired"):  # exported at 0 from start-up
    FEEDBACK_UNJOINED.labels(reason=_reason)


_COMPARATOR = re.compile(r"[<>=!]")
_LANGUAGE_PREFIX = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]+)?_")
_UNSAFE = re.compile(r"[^a-z0-9_]+")


def _clean(part: str) -> str:
    return _UNSAFE.sub("_", part.strip().lower()).strip("_")


def reason_label(reason: str) -> str:
    """A reason reduced to ``kind:name``: thresholds, amounts, codes and exception classes dropped.

    ``gate:groundedness<0.92`` -> ``gate:groundedness``;
    ``rule:refund_over_threshold:900.00>200.00`` -> ``rule:refund_over_threshold``;
    ``language:de_not_covered`` -> ``language:not_covered``; ``failure:route:TransientError`` ->
    ``failure:route``.
    """
    kind, _, rest = reason.partition(":")
    name = _COMPARATOR.split(rest.split(":", 1)[0], maxsplit=1)[0]
    if kind.strip().lower() == "language":
        name = _LANGUAGE_PREFIX.sub("", name.strip().lower())
    kind, name = _clean(kind), _clean(name)
    label = f"{kind}:{name}" if name else kind or "none"
    return _reason_guard(label)


def observe_ticket_in(channel: str, n: int = 1) -> None:
    TICKETS_IN.labels(channel=channel_label(str(channel))).inc(n)


def observe_outcome(outcome: Outcome) -> None:
    """Count one decision: decision/band/intent, each distinct reason, latency, groundedness, cost."""
    decision = str(outcome.decision)
    DECISIONS.labels(decision=decision, band=str(outcome.band), intent=intent_label(outcome.intent)).inc()
    DECISIONS_BY_LANGUAGE.labels(language=language_label(outcome.language), decision=decision).inc()
    for reason in sorted({reason_label(r) for r in outcome.reasons}):
        DECISION_REASONS.labels(decision=decision, reason=reason).inc()
    END_TO_END_SECONDS.labels(channel=channel_label(str(outcome.channel)), decision=decision).observe(
        max(0.0, outcome.latency_ms) / 1000
    )
    if outcome.answer:
        GROUNDEDNESS.observe(outcome.groundedness)
    if outcome.cost_usd > 0:
        # Counted here, where every ticket passes exactly once, even when resolve ran in another pod.
        LLM_COST.labels(tier=str(outcome.tier), model=model_label(outcome.model)).inc(outcome.cost_usd)


def observe_conversation(turn: int, findings: list[str], reopened_intent: str = "") -> None:
    """One message put in its conversation's context; ``reopened_intent``: the automatic answer it reopens."""
    finding = reason_label(findings[0]) if findings else "none"
    CONVERSATION_TURNS.labels(turn=str(turn) if turn < 4 else "4+", finding=finding).inc()
    if reopened_intent:
        REOPENED.labels(intent=intent_label(reopened_intent), finding=finding).inc()


def observe_stage(stage: str, seconds: float, n: int = 1) -> None:
    """``n`` records took ``seconds`` each (a batch's time divided by its size)."""
    child = STAGE_SECONDS.labels(stage=stage_label(stage))
    for _ in range(n):
        child.observe(max(0.0, seconds))


def observe_retrieval(top_score: float) -> None:
    RETRIEVAL_TOP_SCORE.observe(top_score)


def observe_dead_letter(stage: str, error_class: str) -> None:
    DEAD_LETTERS.labels(stage=stage_label(stage), error_class=error_class_label(error_class)).inc()


def observe_duplicates(stage: str, n: int = 1) -> None:
    if n > 0:
        DUPLICATES_SUPPRESSED.labels(stage=stage_label(stage)).inc(n)


def observe_reread(topic: str) -> None:
    PARTITION_REREADS.labels(topic=topic).inc()


def observe_fetch_jump(topic: str) -> None:
    FETCH_JUMPS.labels(topic=topic).inc()


def observe_llm_call(
    tier: str, model: str, outcome: str, tokens_in: int = 0, tokens_out: int = 0, cost_usd: float = 0.0
) -> None:
    """One provider call. Pass ``cost_usd`` only where outcomes are not observed, or cost counts twice:
    the default wiring counts cost once, from the :class:`Outcome` in :func:`observe_outcome`."""
    if outcome not in LLM_CALL_OUTCOMES:
        raise ValueError(f"LLM call outcome {outcome!r} is not one of {sorted(LLM_CALL_OUTCOMES)}")
    tier, model = str(tier), model_label(model)
    LLM_CALLS.labels(tier=tier, model=model, outcome=outcome).inc()
    if tokens_in > 0:
        LLM_TOKENS.labels(tier=tier, model=model, direction="in").inc(tokens_in)
    if tokens_out > 0:
        LLM_TOKENS.labels(tier=tier, model=model, direction="out").inc(tokens_out)
    if cost_usd > 0:
        LLM_COST.labels(tier=tier, model=model).inc(cost_usd)


def observe_kill_switch(auto_resolve_enabled: bool, effect_seconds: float | None = None) -> None:
    AUTO_RESOLVE_ENABLED.set(1 if auto_resolve_enabled else 0)
    if effect_seconds is not None:
        FLAG_EFFECT_SECONDS.set(max(0.0, effect_seconds))


def flag_label(name: str) -> str:
    return name if name in FLAGS else FLAG_UNKNOWN


def observe_flag_invalid(name: str) -> None:
    FLAG_VALUES_INVALID.labels(flag=flag_label(name)).inc()


def observe_flags_invalid_now(invalid: Iterable[str]) -> None:
    """``invalid``: the names whose latest control-topic value is not in effect."""
    labels = [flag_label(name) for name in invalid]
    for flag in FLAGS:
        FLAGS_INVALID_NOW.labels(flag=flag).set(1 if flag in labels else 0)
    FLAGS_INVALID_NOW.labels(flag=FLAG_UNKNOWN).set(labels.count(FLAG_UNKNOWN))


def start_metrics_server(port: int, addr: str = "0.0.0.0") -> int:
    """Serve ``/metrics`` in a daemon thread; ``port`` 0 means disabled. Returns the bound port (or 0)."""
    if port == 0:
        return 0
    server, _thread = start_http_server(port, addr)
    bound = int(server.server_port)
    log.info("metrics on http://%s:%d/metrics", addr, bound)
    return bound
