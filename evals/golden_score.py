"""Scoring golden-set outcomes: pure functions of (cases, outcomes), no broker needed.

Definitions (docs/scorecard.md repeats them for readers):

- deflection / suggest / escalation rate: share of *all* cases the pipeline auto-resolved / drafted /
  escalated; a case with no outcome counts in the denominator and in none of the numerators.
- bad answer: an auto-resolved case whose expected band is not ``auto``, or whose answer misses a
  required fact, or that cites an article outside ``expected_articles``, or that is written in another
  language than the case's (``evals/golden_language.py``, which also gives the figures by language). ``bad_answer_rate`` is bad
  answers over auto-resolved cases: of the answers we sent a customer, how many were wrong.
- groundedness: mean of the auto-resolved answers' scores, and the share at or above the floor.
- escalation precision / recall: decision ``escalated`` against expected band ``escalate``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from supportflow.evals.golden import GoldenCase
from supportflow.evals.golden_conversations import Conversation, Turn
from supportflow.evals.golden_language import Detector, language_figures, product_detector, wrong_language
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


def bad_answer_reasons(case: GoldenCase, outcome: Outcome, detect: Detector | None = None) -> list[str]:
    """Why an auto-resolved answer is wrong ([] when it is right, or when nothing was auto-sent).

    ``detect`` names an answer's language; without it the answer's language is not judged."""
    if outcome.decision != Decision.AUTO_RESOLVED:
        return []
    band = [f"band:expected_{case.expected_band.value}"] if case.expected_band != Band.AUTO else []
    language = wrong_language(case, outcome, detect) if detect is not None else []
    return band + answer_problems(outcome, case.required_facts, case.expected_articles) + language


def answer_problems(outcome: Outcome, facts: Sequence[str], articles: Collection[str] | None) -> list[str]:
    """Facts an answer lacks and articles it cites that it may not (``articles`` None: any may be cited)."""
    problems = [f"missing_fact:{f}" for f in facts if not contains_fact(outcome.answer, f)]
    if articles is not None:
        cited = {cited_article(c) for c in outcome.citations}
        problems += [f"wrong_article:{a}" for a in sorted(cited - set(articles))]
    return problems


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


def case_results(
    cases: Sequence[GoldenCase], outcomes: Mapping[str, Outcome], detect: Detector | None = None
) -> list[CaseResult]:
    """Pair every case with its outcome (by golden id) and judge any auto-sent answer.

    Answers' languages are detected with ``detect``, by default the product's own detector."""
    detect = detect or product_detector()
    results = []
    for case in cases:
        outcome = outcomes.get(case.id)
        reasons = tuple(bad_answer_reasons(case, outcome, detect)) if outcome else ()
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
    """Every headline metric plus per-intent, per-channel, per-tag and per-language breakdowns."""
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
    by_language = language_figures(results)
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
        "by_language": by_language,
        "wrong_language_answers": sum(g["wrong_language_answers"] for g in by_language.values()),
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


# ------------------------------------------------------------------------------- conversations
#
# Every customer message of a golden conversation is judged like a golden case, against the decision
# its turn expects (``decision``, or ``band`` read through DECISION_FOR_BAND), and its outcome must
# carry every ``reasons_include`` (a reason matches itself or a longer ``reason:detail``) and none of
# ``reasons_exclude``. Figures are given per turn number (1, 2, 3+), where a message from a different
# sender in the thread counts as its own turn 1.

#: A customer's next message that reopens an automatic answer: it did not help, or it was asked again.
REOPEN_REASONS = ("conversation:not_helped", "conversation:repeated")


def reason_present(expected: str, reasons: Sequence[str]) -> bool:
    return any(r == expected or r.startswith(expected + ":") for r in reasons)


@dataclass(frozen=True)
class TurnResult:
    conversation: Conversation
    k: int
    outcome: Outcome | None
    bad_reasons: tuple[str, ...]
    reason_problems: tuple[str, ...]

    @property
    def turn(self) -> Turn:
        return self.conversation.turns[self.k - 1]

    @property
    def decision(self) -> str:
        return self.outcome.decision.value if self.outcome else "missing"

    @property
    def expected(self) -> str:
        return self.turn.expected_decision.value

    @property
    def bucket(self) -> str:
        n = self.conversation.expected_turn(self.k)
        return str(n) if n < 3 else "3+"


def turn_bad_reasons(turn: Turn, outcome: Outcome, articles: Mapping[str, list[str]]) -> list[str]:
    """Why an automatic answer to this turn is wrong; [] when right or when nothing was auto-sent."""
    if outcome.decision != Decision.AUTO_RESOLVED:
        return []
    expected = turn.expected_decision
    decision = [f"decision:expected_{expected.value}"] if expected != Decision.AUTO_RESOLVED else []
    allowed = turn.articles if turn.articles is not None else articles.get(turn.intent or "", None)
    return decision + answer_problems(outcome, turn.facts, allowed)


def _reason_problems(turn: Turn, outcome: Outcome) -> list[str]:
    missing = [f"missing_reason:{r}" for r in turn.reasons_include if not reason_present(r, outcome.reasons)]
    unwanted = [f"unwanted_reason:{r}" for r in turn.reasons_exclude if reason_present(r, outcome.reasons)]
    return missing + unwanted


def turn_results(
    conversations: Sequence[Conversation],
    outcomes: Mapping[tuple[str, int], Outcome],
    articles: Mapping[str, list[str]],
) -> list[TurnResult]:
    """Pair every turn with its outcome (by conversation id and turn number) and judge it."""
    results = []
    for conv in conversations:
        for k, turn in enumerate(conv.turns, start=1):
            outcome = outcomes.get((conv.id, k))
            bad = tuple(turn_bad_reasons(turn, outcome, articles)) if outcome else ()
            problems = tuple(_reason_problems(turn, outcome)) if outcome else ()
            results.append(TurnResult(conv, k, outcome, bad, problems))
    return results


def _turn_group(results: Sequence[TurnResult]) -> dict[str, Any]:
    decided = [r for r in results if r.outcome]
    auto = [r for r in decided if r.decision == Decision.AUTO_RESOLVED.value]
    must_escalate = [r for r in results if r.expected == Decision.ESCALATED.value]
    with_intent = [r for r in results if r.turn.intent]
    return {
        "cases": len(results),
        "outcomes": len(decided),
        "decision_accuracy": _rate(sum(r.decision == r.expected for r in results), len(results)),
        "reasons_accuracy": _rate(
            sum(bool(r.outcome) and not r.reason_problems for r in results), len(results)
        ),
        "intent_accuracy": _rate(
            sum(bool(r.outcome) and r.outcome.intent == r.turn.intent for r in with_intent if r.outcome),
            len(with_intent),
        ),
        "auto_resolved": len(auto),
        "bad_answers": sum(bool(r.bad_reasons) for r in auto),
        "expected_escalations": len(must_escalate),
        "escalation_recall": _rate(sum(r.decision == "escalated" for r in must_escalate), len(must_escalate))
        if must_escalate
        else None,
    }


def reopen_figures(results: Sequence[TurnResult]) -> tuple[int, int]:
    """(automatic answers, how many of them the customer's next message reopened).

    The next message is the same sender's next one; when it was folded into a burst, the message that
    carries the burst's decision is judged."""
    by_turn = {(r.conversation.id, r.k): r for r in results}
    answers = reopened = 0
    for r in results:
        if r.decision != Decision.AUTO_RESOLVED.value:
            continue
        answers += 1
        conv = r.conversation
        later = [j for j in range(r.k + 1, len(conv.turns) + 1) if conv.sender_of(j) == conv.sender_of(r.k)]
        if not later:
            continue
        step = next(s for s in conv.steps() if later[0] in s)
        carrier = by_turn[(conv.id, step[-1])].outcome
        if (
            carrier
            and carrier.decision == Decision.ESCALATED
            and any(reason_present(x, carrier.reasons) for x in REOPEN_REASONS)
        ):
            reopened += 1
    return answers, reopened


def score_conversations(results: Sequence[TurnResult]) -> dict[str, Any]:
    """Headline figures, per turn number (1, 2, 3+) and per tag, and every turn that went wrong."""
    summary = _turn_group(results)
    decided = [r for r in results if r.outcome]
    auto = [r for r in decided if r.decision == Decision.AUTO_RESOLVED.value]
    escalated = [r for r in decided if r.decision == Decision.ESCALATED.value]
    expect_closed = [r for r in results if r.expected == Decision.CLOSED.value]
    answers, reopened = reopen_figures(results)
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in results:
        confusion[r.expected][r.decision] += 1
    tags: dict[str, list[TurnResult]] = defaultdict(list)
    for r in results:
        for tag in r.conversation.tags:
            tags[tag].append(r)
    summary.update(
        conversations=len({r.conversation.id for r in results}),
        missing=len(results) - len(decided),
        turn_number_accuracy=_rate(
            sum(r.outcome.turn == r.conversation.expected_turn(r.k) for r in decided if r.outcome),
            len(results),
        ),
        bad_answer_rate=_rate(sum(bool(r.bad_reasons) for r in auto), len(auto)),
        escalation_precision=_rate(sum(r.expected == "escalated" for r in escalated), len(escalated)),
        closed_expected=len(expect_closed),
        closed_accuracy=_rate(sum(r.decision == "closed" for r in expect_closed), len(expect_closed)),
        closed_when_not_expected=sum(r.decision == "closed" and r.expected != "closed" for r in results),
        automatic_answers=answers,
        reopened=reopened,
        reopen_rate=_rate(reopened, answers),
        decision_confusion={e: dict(row) for e, row in sorted(confusion.items())},
        per_turn={b: _turn_group([r for r in results if r.bucket == b]) for b in ("1", "2", "3+")},
        per_tag={t: _turn_group(group) for t, group in sorted(tags.items())},
        failures=[_failure(r) for r in results if _failed(r)],
    )
    return summary


def _failed(r: TurnResult) -> bool:
    return r.decision != r.expected or bool(r.bad_reasons or r.reason_problems)


def _failure(r: TurnResult) -> dict[str, Any]:
    return {
        "id": f"{r.conversation.id}#{r.k}",
        "expected": r.expected,
        "decided": r.decision,
        "problems": [*r.bad_reasons, *r.reason_problems],
        "reasons": list(r.outcome.reasons) if r.outcome else [],
        "intent": r.outcome.intent if r.outcome else None,
        "turn": r.outcome.turn if r.outcome else None,
    }
