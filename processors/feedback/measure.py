"""What joined feedback says, by path (auto / suggested / escalated / closed) and intent.

- CSAT: share of ratings that are satisfied (4 or 5 on the 1-5 scale);
- draft acceptance: drafts sent unchanged (or replies at least ``SAME_TEXT`` similar to the draft)
  among drafts acted on, and the mean edit distance (1 - difflib similarity, 0 = unchanged);
- reopen rate: reopened tickets among the outcomes of the path (the automatic answers' is the alarm);
- agent corrections: intent corrections, and which intent they moved to.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from supportflow.processors.feedback.join import Joined, path_of
from supportflow.schemas.models import FeedbackKind, Outcome

#: A reply this similar to the draft counts as the draft sent unchanged (whitespace, a signature).
SAME_TEXT = 0.98
PATHS = ("auto", "suggested", "escalated", "closed")


def edit_distance(draft: str, final: str) -> float:
    """Normalized edit distance in [0, 1]: 0 when the texts are equal, 1 when nothing is shared."""
    if draft == final:
        return 0.0
    return 1.0 - difflib.SequenceMatcher(None, draft, final, autojunk=False).ratio()


def satisfied(score: float) -> bool:
    """Every source's rating is on the 1-5 scale (Zendesk's good/bad arrive as 5/1)."""
    return score >= 4


@dataclass
class Cell:
    """Counts for one (path, intent)."""

    outcomes: int = 0
    ratings: int = 0
    satisfied: int = 0
    drafts_acted: int = 0
    drafts_accepted: int = 0
    drafts_discarded: int = 0
    edit_distance_sum: float = 0.0
    reopened: int = 0
    escalations_resolved: int = 0
    corrections: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        acted = self.drafts_acted
        return {
            "outcomes": self.outcomes,
            "csat": _ratio(self.satisfied, self.ratings), "ratings": self.ratings,
            "draft_acceptance": _ratio(self.drafts_accepted, acted), "drafts": acted,
            "drafts_discarded": self.drafts_discarded,
            "edit_distance": _ratio(self.edit_distance_sum, acted - self.drafts_discarded),
            "reopen_rate": _ratio(self.reopened, self.outcomes), "reopened": self.reopened,
            "escalations_resolved": self.escalations_resolved,
            "corrections": sum(self.corrections.values()), "corrected_to": dict(self.corrections),
        }  # fmt: skip


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


@dataclass(frozen=True)
class Measured:
    """One joined feedback as the metrics count it."""

    path: str
    intent: str
    kind: FeedbackKind
    edit_distance: float | None = None  # drafts acted on (sent, edited): how far the final text moved
    accepted: bool = False
    satisfied: bool | None = None


def measure(joined: Joined) -> Measured:
    d, f = joined.decided, joined.feedback
    kind = f.kind
    if kind == FeedbackKind.DRAFT_SENT_UNCHANGED:
        return Measured(d.path, d.intent, kind, 0.0, accepted=True)
    if kind == FeedbackKind.DRAFT_EDITED:
        distance = edit_distance(d.answer, f.edited_text) if f.edited_text else 1.0
        accepted = 1.0 - distance >= SAME_TEXT
        return Measured(d.path, d.intent, kind, distance, accepted=accepted)
    if kind == FeedbackKind.CSAT and f.score is not None:
        return Measured(d.path, d.intent, kind, satisfied=satisfied(f.score))
    return Measured(d.path, d.intent, kind)


@dataclass
class FeedbackStats:
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    feedback_seen: int = 0
    unjoined: int = 0

    def cell(self, path: str, intent: str) -> Cell:
        return self.cells.setdefault((path, intent), Cell())

    def add_outcome(self, outcome: Outcome) -> None:
        self.cell(path_of(outcome.decision), outcome.intent).outcomes += 1

    def add(self, joined: Joined) -> None:
        m = measure(joined)
        cell = self.cell(m.path, m.intent)
        if m.kind in (
            FeedbackKind.DRAFT_SENT_UNCHANGED,
            FeedbackKind.DRAFT_EDITED,
            FeedbackKind.DRAFT_DISCARDED,
        ):
            cell.drafts_acted += 1
            cell.drafts_accepted += m.accepted
            cell.drafts_discarded += m.kind == FeedbackKind.DRAFT_DISCARDED
            cell.edit_distance_sum += m.edit_distance or 0.0
        elif m.satisfied is not None:
            cell.ratings += 1
            cell.satisfied += m.satisfied
        elif m.kind == FeedbackKind.REOPENED:
            cell.reopened += 1
        elif m.kind == FeedbackKind.ESCALATION_RESOLVED:
            cell.escalations_resolved += 1
        elif m.kind == FeedbackKind.INTENT_CORRECTION:
            cell.corrections[joined.feedback.corrected_intent] += 1

    def by_path(self) -> dict[str, Cell]:
        totals: dict[str, Cell] = {}
        for (path, _intent), cell in self.cells.items():
            total = totals.setdefault(path, Cell())
            for name in ("outcomes", "ratings", "satisfied", "drafts_acted", "drafts_accepted",
                         "drafts_discarded", "edit_distance_sum", "reopened", "escalations_resolved"):  # fmt: skip
                setattr(total, name, getattr(total, name) + getattr(cell, name))
            total.corrections.update(cell.corrections)
        return dict(sorted(totals.items(), key=lambda kv: _path_order(kv[0])))

    def as_dict(self) -> dict[str, Any]:
        return {
            "feedback": self.feedback_seen, "unjoined": self.unjoined,
            "paths": {path: cell.as_dict() for path, cell in self.by_path().items()},
            "by_intent": [
                {"path": path, "intent": intent, **cell.as_dict()}
                for (path, intent), cell in sorted(self.cells.items(), key=lambda kv: (_path_order(kv[0][0]), kv[0][1]))
            ],
        }  # fmt: skip


def _path_order(path: str) -> int:
    return PATHS.index(path) if path in PATHS else len(PATHS)


def correction_pairs(joined: list[Joined]) -> list[tuple[str, str]]:
    """(routed intent, corrected intent) for every agent correction: the router's new labels."""
    return [
        (j.decided.intent, j.feedback.corrected_intent)
        for j in joined
        if j.feedback.kind == FeedbackKind.INTENT_CORRECTION and j.feedback.corrected_intent
    ]
