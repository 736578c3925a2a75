"""``supportflow eval route --llm-router MODEL``: what the optional LLM router does to the uncertain middle.

Runs the production path (:func:`decide` with the default policy, then :func:`refine_uncertain`) on the
test rows whose embedding confidence falls in the uncertain middle, and reports their accuracy before
and after, how many labels the LLM changed (fixed / broke / wrong to another wrong), the failures by
class and the provider calls made. Rows a hard rule escalates are counted but not asked about, as in
production. Needs a reachable model (``--llm-api-base`` for a local OpenAI-compatible server).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any

import numpy as np

from supportflow.processors.embedding import get_embedder
from supportflow.processors.router import IntentRouter, Prediction, decide, load_policy, warm_up
from supportflow.processors.router.llm_router import (
    LlmRouterClient,
    RouteCase,
    candidate_intents,
    is_uncertain,
    refine_uncertain,
)
from supportflow.schemas.models import Channel, Ticket
from supportflow.settings import LlmRouterSettings, Thresholds

# on_call outcomes that were an HTTP round trip (invalid and circuit_open are not extra calls).
_HTTP_OUTCOMES = {"ok", "error", "timeout", "rate_limited"}


def evaluate_llm_router(
    router: IntentRouter,
    texts: list[str],
    truth: list[str],
    predicted: list[str],
    confidence: list[float],
    settings: LlmRouterSettings,
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Metrics for the uncertain middle of one evaluated test set (rows in the same order)."""
    policy, thresholds = load_policy(), Thresholds()
    warm_up()
    lower = thresholds.min_confidence if settings.min_confidence is None else settings.min_confidence
    in_range = [i for i, c in enumerate(confidence) if lower <= c < router.auto_threshold]
    vectors = get_embedder().encode([texts[i] for i in in_range]) if in_range else np.zeros((0, 384))
    cases: list[tuple[int, RouteCase]] = []
    for i, vector in zip(in_range, vectors, strict=True):
        ticket = Ticket(
            ticket_id=str(i), conversation_id=str(i), channel=Channel.API, sender="eval", text=texts[i],
            received_at_ms=0, ingested_at_ms=0, trace_id=str(i),
        )  # fmt: skip
        decision = decide(
            ticket, Prediction(predicted[i], confidence[i]), None, policy, thresholds, router.auto_threshold,
            model_version=router.version,
        )  # fmt: skip
        cases.append((i, RouteCase(ticket, texts[i], vector, decision)))
    eligible = [(i, c) for i, c in cases if is_uncertain(c.decision, router.auto_threshold, lower)]
    middle = eligible[:limit] if limit is not None else eligible
    # The ceiling: a perfect LLM can only pick among the candidates it is offered.
    offered = 0
    if middle:
        proba, _ = router.predict_proba(np.stack([c.vector for _, c in middle]), [c.query for _, c in middle])
        offered = sum(
            truth[i] in candidate_intents(router, row, settings.top_k)
            for (i, _), row in zip(middle, proba, strict=True)
        )

    outcomes: Counter[str] = Counter()
    tokens = [0, 0]
    lock = threading.Lock()

    def count(_tier: str, _model: str, outcome: str, tokens_in: int, tokens_out: int) -> None:
        with lock:
            outcomes[outcome] += 1
            tokens[0] += tokens_in
            tokens[1] += tokens_out

    client = LlmRouterClient(settings.model_copy(update={"enabled": True}), on_call=count)
    if progress:
        print(f"[eval] asking {settings.model} about {len(middle)} uncertain rows ...", file=sys.stderr)
    started = time.perf_counter()
    refined = refine_uncertain([c for _, c in middle], client, router, policy, thresholds)
    seconds = time.perf_counter() - started

    before = [predicted[i] == truth[i] for i, _ in middle]
    after = [d.intent == truth[i] for (i, _), d in zip(middle, refined, strict=True)]
    changed = [
        (b, a)
        for (i, _), d, b, a in zip(middle, refined, before, after, strict=True)
        if d.intent != predicted[i]
    ]
    failures = Counter(
        r.rsplit(":", 1)[1] for d in refined for r in d.reasons if r.startswith("llm_router:unavailable:")
    )
    final = list(predicted)
    for (i, _), d in zip(middle, refined, strict=True):
        final[i] = d.intent
    n = len(middle)
    return {
        "model": settings.model,
        "middle": {"lower": lower, "upper": router.auto_threshold},
        "rows_in_confidence_range": len(in_range),
        "rows_escalated_by_rules": len(cases) - len(eligible),  # in range but not suggest: escalated
        "rows_asked": n,
        "rows_skipped_by_limit": len(eligible) - n,
        "middle_accuracy_before": float(np.mean(before)) if n else None,
        "middle_accuracy_after": float(np.mean(after)) if n else None,
        "middle_truth_in_candidates": offered / n if n else None,
        "relabeled": len(changed),
        "relabel_fixed": sum(1 for b, a in changed if not b and a),
        "relabel_broke": sum(1 for b, a in changed if b and not a),
        "unavailable": dict(failures),
        "llm_calls": sum(v for k, v in outcomes.items() if k in _HTTP_OUTCOMES),
        "call_outcomes": dict(outcomes),
        "tokens_in": tokens[0],
        "tokens_out": tokens[1],
        "seconds": round(seconds, 2),
        "accuracy_after": float(np.mean(np.array(final, dtype=object) == np.array(truth, dtype=object))),
    }


def format_llm_report(m: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.2f}%"

    failures = ", ".join(f"{k} {v}" for k, v in sorted(m["unavailable"].items())) or "none"
    return "\n".join(
        [
            f"llm router        {m['model']}: uncertain middle [{m['middle']['lower']:.2f}, "
            f"{m['middle']['upper']:.3f}), {m['rows_asked']} rows asked "
            f"({m['rows_escalated_by_rules']} escalated by rules, {m['rows_skipped_by_limit']} over --llm-limit)",
            f"  middle accuracy {pct(m['middle_accuracy_before'])} -> {pct(m['middle_accuracy_after'])}; "
            f"relabeled {m['relabeled']} (fixed {m['relabel_fixed']}, broke {m['relabel_broke']})",
            f"  ceiling         {pct(m['middle_truth_in_candidates'])} of asked rows had the true intent "
            "among the candidates",
            f"  accuracy after  {pct(m['accuracy_after'])} (all test rows)",
            f"  calls           {m['llm_calls']} in {m['seconds']:.1f}s, tokens {m['tokens_in']} in / "
            f"{m['tokens_out']} out; unavailable: {failures}",
        ]
    )
