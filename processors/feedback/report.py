"""``supportflow feedback report``: the join and the metrics over a window, as a table or JSON.

The same join (:mod:`.join`) and counts (:mod:`.measure`) the streaming join exports, run over the
records of the window: outcomes decided since ``since_ms`` and feedback that occurred or arrived since.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from supportflow.processors.feedback.join import FeedbackJoin, Joined, MemoryStore
from supportflow.processors.feedback.measure import FeedbackStats
from supportflow.schemas.models import Feedback, Outcome

COLUMNS = (
    ("outcomes", "outcomes", "{}"), ("csat", "csat", "{:.0%}"), ("ratings", "ratings", "{}"),
    ("draft_acceptance", "accepted", "{:.0%}"), ("drafts", "drafts", "{}"),
    ("edit_distance", "edit_dist", "{:.2f}"), ("reopen_rate", "reopen", "{:.1%}"),
    ("reopened", "reopened", "{}"), ("escalations_resolved", "resolved", "{}"), ("corrections", "corrections", "{}"),
)  # fmt: skip


def build_report(outcomes: Iterable[Outcome], feedback: Iterable[Feedback], since_ms: int) -> FeedbackStats:
    return join_window(outcomes, feedback, since_ms)[0]


def join_window(
    outcomes: Iterable[Outcome], feedback: Iterable[Feedback], since_ms: int
) -> tuple[FeedbackStats, list[Joined]]:
    """Outcomes decided in the window first, then the feedback that occurred or arrived in it, in the
    order it occurred: what stays unjoined had no outcome in the window."""
    join, stats, pairs = FeedbackJoin(MemoryStore()), FeedbackStats(), []
    for outcome in sorted(
        (o for o in outcomes if o.decided_at_ms >= since_ms), key=lambda o: o.decided_at_ms
    ):
        stats.add_outcome(outcome)
        join.add_outcome(outcome, outcome.decided_at_ms)
    for fb in sorted(
        (f for f in feedback if max(f.occurred_at_ms, f.received_at_ms) >= since_ms),
        key=lambda f: f.occurred_at_ms,
    ):
        before = join.counts.duplicates
        joined = join.add_feedback(fb, fb.occurred_at_ms)
        if join.counts.duplicates == before:
            stats.feedback_seen += 1
            stats.unjoined += not joined
        for pair in joined:
            stats.add(pair)
        pairs += joined
    return stats, pairs


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def render_table(stats: FeedbackStats, since_ms: int) -> str:
    since = datetime.fromtimestamp(since_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = stats.as_dict()
    lines = [
        f"feedback since {since}: {doc['feedback']} records, "
        f"{doc['feedback'] - doc['unjoined']} joined to an outcome, {doc['unjoined']} without one",
        "",
        f"{'path':<10}{'intent':<24}" + "".join(f"{title:>12}" for _key, title, _fmt in COLUMNS),
    ]
    rows = [{"path": path, "intent": "(all)", **cell} for path, cell in doc["paths"].items()]
    for row in rows + doc["by_intent"]:
        cells = "".join(f"{_cell(row[key], fmt):>12}" for key, _title, fmt in COLUMNS)
        lines.append(f"{row['path']:<10}{row['intent'][:23]:<24}{cells}")
    corrections = [
        f"  {row['path']}/{row['intent']} -> {target}: {n}"
        for row in doc["by_intent"]
        for target, n in sorted(row["corrected_to"].items())
    ]
    if corrections:
        lines += ["", "agent intent corrections (routed -> corrected):", *corrections]
    return "\n".join(lines)
