"""Golden figures by language: pure functions of scored results, no broker needed.

A case's language is its ``lang:<xx>`` tag (English when it has none). Per language the scorecard
reports how many cases there are, the share auto-resolved (deflection), the bad-answer rate, the
escalation recall, and two language checks:

- answered in the wrong language: an auto-resolved answer whose detected language (fastText, as the
  gate detects it) is not the ticket's. It is a bad answer too (``wrong_language:<written>_not_<xx>``).
- ticket language misdetected: the pipeline read the ticket as another language (``Outcome.language``);
  the help center it answers from and the language it writes in follow that reading.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from supportflow.schemas.models import Band, Decision, Outcome

if TYPE_CHECKING:
    from supportflow.evals.golden import GoldenCase
    from supportflow.evals.golden_score import CaseResult

ENGLISH = "en"
WRONG_LANGUAGE = "wrong_language"

#: Text -> ISO 639-1 code.
Detector = Callable[[str], str]


def case_language(case: GoldenCase) -> str:
    """The ``lang:<xx>`` tag's code; English when the case has none."""
    return next((t.split(":", 1)[1] for t in case.tags if t.startswith("lang:")), ENGLISH)


def product_detector() -> Detector:
    """The language detection the gate uses on answers (fastText lite model)."""
    from supportflow.processors.router.signals import detect_language

    return detect_language


def wrong_language(case: GoldenCase, outcome: Outcome, detect: Detector) -> list[str]:
    """``["wrong_language:<written>_not_<xx>"]`` for an auto-sent answer not in the case's language."""
    if outcome.decision != Decision.AUTO_RESOLVED:
        return []
    wanted, written = case_language(case), detect(outcome.answer)
    return [] if written == wanted else [f"{WRONG_LANGUAGE}:{written}_not_{wanted}"]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _language_group(results: Sequence[CaseResult], lang: str) -> dict[str, Any]:
    decided = [r for r in results if r.outcome is not None]
    auto = [r for r in decided if r.decision == Decision.AUTO_RESOLVED.value]
    must_escalate = [r for r in results if r.case.expected_band == Band.ESCALATE]
    bad = [r for r in auto if r.bad_reasons]
    wrong = [r for r in auto if any(x.startswith(WRONG_LANGUAGE + ":") for x in r.bad_reasons)]
    return {
        "cases": len(results),
        "auto_resolved": len(auto),
        "suggested": sum(r.decision == Decision.SUGGESTED.value for r in results),
        "escalated": sum(r.decision == Decision.ESCALATED.value for r in results),
        "missing": len(results) - len(decided),
        "deflection_rate": _rate(len(auto), len(results)),
        "expected_auto": sum(r.case.expected_band == Band.AUTO for r in results),
        "bad_answers": len(bad),
        "bad_answer_rate": _rate(len(bad), len(auto)),
        "escalation_recall": _rate(sum(r.decision == "escalated" for r in must_escalate), len(must_escalate)),
        "wrong_language_answers": len(wrong),
        "ticket_language_misdetected": sum(r.outcome.language != lang for r in decided if r.outcome),
        "bad_answer_cases": [r.case.id for r in bad],
    }


def language_figures(results: Sequence[CaseResult]) -> dict[str, dict[str, Any]]:
    """Figures per case language, English first, then the others alphabetically."""
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        groups[case_language(r.case)].append(r)
    order = sorted(groups, key=lambda lang: (lang != ENGLISH, lang))
    return {lang: _language_group(groups[lang], lang) for lang in order}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def language_markdown(by_language: dict[str, dict[str, Any]]) -> list[str]:
    """The scorecard's "By language" table."""
    lines = [
        "## By language", "",
        "| language | cases | expected auto | auto-resolved (deflection) | bad answers | escalation recall "
        "| answered in the wrong language | ticket language misdetected |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for lang, g in by_language.items():
        bad = f"{_pct(g['bad_answer_rate'])} ({g['bad_answers']})" if g["auto_resolved"] else "- (0)"
        lines.append(
            f"| {lang} | {g['cases']} | {g['expected_auto']} | {g['auto_resolved']} ({_pct(g['deflection_rate'])}) "
            f"| {bad} | {_pct(g['escalation_recall'])} | {g['wrong_language_answers']} "
            f"| {g['ticket_language_misdetected']} |"
        )
    return lines
