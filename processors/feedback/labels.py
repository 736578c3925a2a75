"""Training rows from feedback: what agents confirmed and corrected, as ``text,label`` rows.

- an ``intent_correction`` labels the ticket's text with the corrected intent;
- a draft an agent sent unchanged (or a reply the join judged the same text) confirms the routed
  intent of a suggestion: the router was right, and a confirmed row is worth keeping as one;
- a correction wins over a confirmation of the same ticket.

The text is the ticket as the router saw it, already redacted (the audit topic's ``redacted_input``).
:func:`merge_rows` adds the rows to a training set: a text already in it takes the feedback's label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from supportflow.processors.feedback.join import Joined
from supportflow.processors.feedback.measure import measure
from supportflow.schemas.models import FeedbackKind

CORRECTED, CONFIRMED = "corrected", "confirmed"


@dataclass(frozen=True)
class LabelRow:
    ticket_id: str
    text: str
    label: str
    why: str  # corrected | confirmed
    routed: str


def feedback_labels(joined: Sequence[Joined], texts: Mapping[str, str]) -> list[LabelRow]:
    """One row per ticket with a text in ``texts`` (ticket id -> redacted input)."""
    rows: dict[str, LabelRow] = {}
    for pair in joined:
        d, f = pair.decided, pair.feedback
        text = texts.get(d.ticket_id, "").strip()
        if not text:
            continue
        if f.kind == FeedbackKind.INTENT_CORRECTION and f.corrected_intent:
            rows[d.ticket_id] = LabelRow(d.ticket_id, text, f.corrected_intent, CORRECTED, d.intent)
        elif measure(pair).accepted and d.ticket_id not in rows:
            rows[d.ticket_id] = LabelRow(d.ticket_id, text, d.intent, CONFIRMED, d.intent)
    return list(rows.values())


@dataclass(frozen=True)
class Merged:
    texts: list[str]
    labels: list[str]
    added: int
    relabelled: int


def merge_rows(
    texts: Sequence[str], labels: Sequence[str], fb_texts: Sequence[str], fb_labels: Sequence[str]
) -> Merged:
    """The training rows with the feedback rows: a text already present takes the feedback's label
    (an agent looked at that ticket), other feedback rows are appended."""
    feedback = dict(zip(fb_texts, fb_labels, strict=True))
    relabelled = sum(1 for t, lab in zip(texts, labels, strict=True) if t in feedback and feedback[t] != lab)
    out_labels = [feedback.get(t, lab) for t, lab in zip(texts, labels, strict=True)]
    present = set(texts)
    extra = [(t, lab) for t, lab in feedback.items() if t not in present]
    return Merged(
        [*texts, *(t for t, _ in extra)], [*out_labels, *(lab for _, lab in extra)], len(extra), relabelled
    )
