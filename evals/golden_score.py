"""Scoring golden-set outcomes: pure functions of (cases, outcomes), no broker needed.

Definitions (docs/scorecard.md repeats them for readers):

- deflection / suggest / escalation rate: share of *all* cases the pipeline auto-resolved / drafted /
  escalated; a case with no outcome counts in the denominator and in none of the numerators.
- bad answer: an auto-resolved case whose expected band is not ``auto``, or whose answer misses a
  required fact, or that cites an article outside ``expected_articles``. ``bad_answer_rate`` is bad
  answers over auto-resolved cases: of the answers we sent a customer, how many were wrong.
- groundedness: mean of the auto-resolved answers' scores, and the share at or above the floor.
- escalation precision / recall: decision ``escalated`` against expected band ``escalate``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from supportflow.evals.golden import GoldenCase
from supportflow.schemas.models import Band, Decision, Outcome

DECISION_FOR_BAND = {Band.AUTO: Decision.AUTO_RESOLVED, Band.SUGGEST: Decision.SUGGESTED,
                     Band.ESCALATE: Decision.ESCALATED}  # fmt: skip
_DASHES = re.compile(r"[‐‑‒–—―]")
_SPACE = re.compile(r"\s+")
STAGES = ("normalize", "route", "retrieve", "resolve", "gate")


def _normal(text: str) -> str:
    """Case, dash style and spacing do not change a fact: "5–10  Business days" == "5-10 business days"."""
    return _SPACE.sub(" ", _DASHES.sub("-", text)).strip().lower()


def contains_fact(answer: str, fact: str) -> bool:
    return _normal(fact) in _normal(answer)


def cited_article(chunk_id: str) -> str:
    """Citations are chunk ids ``article-id#section``; the article is what the golden set names."""
    return chunk_id.split("#", 1)[0]


def bad_answer_reasons(case: GoldenCase, outcome: Outcome) -> list[str]:
    """Why an auto-resolved answer is wrong ([] when it is right, or when nothing was auto-sent)."""
    if outcome.decision != Decision.AUTO_RESOLVED:
        return []
    reasons = []
    if case.expected_band != Band.AUTO:
        reasons.append(f"band:expected_{case.expected_band.value}")
    reasons += [f"missing_fact:{f}" for f in case.required_facts if not contains_fact(outcome.answer, f)]
    allowed = set(case.expected_articles)
    wrong = sorted({cited_article(c) for c in outcome.citations} - allowed)
    reasons += [f"wrong_article:{a}" for a in wrong]
    return reasons


def percentiles(values: Iterable[float], qs: Sequence[int] = (50, 95, 99)) -> dict[str, float]:
    """``{"p50": ..., "p95": ..., "p99": ...}`` (linear interpolation); zeros for an empty sample."""
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        return {f"p{q}": 0.0 for q in qs}
    return {f"p{q}": round(float(np.percentile(data, q)), 1) for q in qs}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


@dataclass(frozen=True)
class CaseResult:
    case: GoldenCase
    outcome: Outcome | None
    bad_reasons: tuple[str, ...]

    @property
    def decision(self) -> str:
        return self.outcome.decision.value if self.outcome else "missing"


def case_results(cases: Sequence[GoldenCase], outcomes: Mapping[str, Outcome]) -> list[CaseResult]:
    """Pair every case with its outcome (by golden id) and judge any auto-sent answer."""
    results = []
    for case in cases:
        outcome = outcomes.get(case.id)
        reasons = tuple(bad_answer_reasons(case, outcome)) if outcome else ()
        results.append(CaseResult(case, outcome, reasons))
    return results


def _group_summary(results: Sequence[CaseResult]) -> dict[str, Any]:
    n = len(results)
    decided = [r for r in results if r.outcome]
    auto = [r for r in decided if r.decision == Decision.AUTO_RESOLVED.value]
    expected_escalate = sum(r.case.expected_band == Band.ESCALATE for r in results)
    escalated_ok = sum(r.case.expected_band == Band.ESCALATE and r.decision == "escalated" for r in results)
    return {
        "n": n,
        "auto_resolved": len(auto),
        "suggested": sum(r.decision == Decision.SUGGESTED.value for r in results),
        "escalated": sum(r.decision == Decision.ESCALATED.value for r in results),
        "missing": n - len(decided),
        "deflection_rate": _rate(len(auto), n),
        "bad_answers": sum(bool(r.bad_reasons) for r in auto),
        "intent_accuracy": _rate(
            sum(r.outcome.intent == r.case.expected_intent for r in decided if r.outcome), n
        ),
        "decision_matches_band": _rate(
            sum(r.decision == DECISION_FOR_BAND[r.case.expected_band].value for r in results), n
        ),
        "escalation_recall": _rate(escalated_ok, expected_escalate) if expected_escalate else None,
        "p95_latency_ms": percentiles(r.outcome.latency_ms for r in decided if r.outcome)["p95"],
    }


def score(results: Sequence[CaseResult], groundedness_floor: float) -> dict[str, Any]:
    """Every headline metric plus per-intent, per-channel and per-tag breakdowns."""
    n = len(results)
    decided = [r for r in results if r.outcome is not None]
    outcomes = [r.outcome for r in decided if r.outcome is not None]
    auto = [r for r in decided if r.decision == Decision.AUTO_RESOLVED.value]
    auto_grounded = [r.outcome.groundedness for r in auto if r.outcome]
    bad = [r for r in auto if r.bad_reasons]
    predicted_esc = [r for r in decided if r.decision == Decision.ESCALATED.value]
    actual_esc = [r for r in results if r.case.expected_band == Band.ESCALATE]
    true_esc = [r for r in predicted_esc if r.case.expected_band == Band.ESCALATE]
    latency = percentiles(o.latency_ms for o in outcomes)
    stage_latency = {s: percentiles(o.timings_ms[s] for o in outcomes if s in o.timings_ms) for s in STAGES}
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in results:
        confusion[r.case.expected_band.value][r.decision] += 1
    bad_kinds = Counter(reason.split(":")[0] for r in bad for reason in r.bad_reasons)
    return {
        "cases": n,
        "outcomes": len(decided),
        "missing": n - len(decided),
        "deflection_rate": _rate(len(auto), n),
        "suggest_rate": _rate(sum(r.decision == Decision.SUGGESTED.value for r in decided), n),
        "escalation_rate": _rate(len(predicted_esc), n),
        "bad_answer_rate": _rate(len(bad), len(auto)),
        "bad_answers": len(bad),
        "bad_answer_kinds": dict(bad_kinds),
        "groundedness": round(float(np.mean(auto_grounded)), 4) if auto_grounded else 0.0,
        "groundedness_floor": groundedness_floor,
        "groundedness_share_at_floor": _rate(sum(g >= groundedness_floor for g in auto_grounded), len(auto)),
        "escalation_precision": _rate(len(true_esc), len(predicted_esc)),
        "escalation_recall": _rate(len(true_esc), len(actual_esc)),
        "intent_accuracy": _rate(
            sum(r.outcome.intent == r.case.expected_intent for r in decided if r.outcome), n
        ),
        "decision_matches_band": _rate(
            sum(r.decision == DECISION_FOR_BAND[r.case.expected_band].value for r in results), n
        ),
        "expected_auto_deflected": _rate(
            sum(r.case.expected_band == Band.AUTO and r.decision == "auto_resolved" for r in results),
            sum(r.case.expected_band == Band.AUTO for r in results),
        ),
        "p50_latency_ms": latency["p50"],
        "p95_latency_ms": latency["p95"],
        "p99_latency_ms": latency["p99"],
        "stage_latency_ms": stage_latency,
        "band_confusion": {band: dict(row) for band, row in sorted(confusion.items())},
        "per_intent": _breakdown(results, lambda r: [r.case.expected_intent]),
        "per_channel": _breakdown(results, lambda r: [r.case.channel.value]),
        "per_tag": _breakdown(
            results, lambda r: [t for t in r.case.tags if not t.startswith("bitext_tags:")]
        ),
        "bad_answer_cases": [
            {
                "id": r.case.id,
                "intent": r.case.expected_intent,
                "reasons": list(r.bad_reasons),
                "citations": list(r.outcome.citations),
                "answer": r.outcome.answer[:400],
            }
            for r in bad
            if r.outcome
        ],
        "missing_cases": [r.case.id for r in results if r.outcome is None],
    }


def _breakdown(results: Sequence[CaseResult], keys: Any) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        for key in keys(r):
            groups[key].append(r)
    return {key: _group_summary(group) for key, group in sorted(groups.items())}
