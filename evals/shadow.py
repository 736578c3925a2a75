"""Live against shadow: how a candidate router or policy would have decided the same tickets.

Outcomes of the live pipeline (``outcomes``) and of a shadow worker or replay (``outcomes.shadow``)
are joined by ticket id. The report gives the agreement of decisions and intents, the automatic
(auto-resolved) rate of each, every changed decision by intent and by transition, and, for changed
tickets that have feedback (``feedback`` topic), which of the two the feedback says was right:

- an agent's intent correction: the side whose intent is the corrected one;
- a draft an agent sent unchanged, or a CSAT of 4-5: the answer was good enough to send, so the side
  that auto-resolved was right and the side that held it for an agent was too cautious;
- a reopened ticket, an edited or discarded draft, or a CSAT of 1-2: the answer was not good enough
  to send alone, so the side that did not auto-resolve was right.

The comparison is pure (:func:`compare`); reading the topics is :func:`read_outcomes` and
:func:`read_feedback`, and ``supportflow eval shadow`` prints it (:func:`render`, :func:`write_plots`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from supportflow.schemas import wire
from supportflow.schemas.errors import SchemaError
from supportflow.schemas.models import Decision, Feedback, FeedbackKind, Outcome

Side = Literal["live", "shadow"]
AUTO = Decision.AUTO_RESOLVED
#: CSAT at or above this says the answer was good; at or below :data:`CSAT_BAD`, that it was not.
CSAT_GOOD = 4.0
CSAT_BAD = 2.0
GOOD_TO_SEND = frozenset({FeedbackKind.DRAFT_SENT_UNCHANGED})
NOT_GOOD_TO_SEND = frozenset({FeedbackKind.REOPENED, FeedbackKind.DRAFT_EDITED, FeedbackKind.DRAFT_DISCARDED})


@dataclass
class IntentRow:
    tickets: int = 0
    changed: int = 0
    live_auto: int = 0
    shadow_auto: int = 0


@dataclass
class ShadowReport:
    joined: int = 0
    live_only: int = 0
    shadow_only: int = 0
    decision_agreement: float = 0.0
    intent_agreement: float = 0.0
    live_auto_rate: float = 0.0
    shadow_auto_rate: float = 0.0
    transitions: dict[str, int] = field(default_factory=dict)
    by_intent: dict[str, IntentRow] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    #: Every ticket whose decision or intent changed: ticket_id, intent, live, shadow, verdict.
    changed: list[dict[str, str]] = field(default_factory=list)
    live_versions: dict[str, int] = field(default_factory=dict)
    shadow_versions: dict[str, int] = field(default_factory=dict)

    @property
    def auto_rate_change(self) -> float:
        return self.shadow_auto_rate - self.live_auto_rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "joined": self.joined, "live_only": self.live_only, "shadow_only": self.shadow_only,
            "decision_agreement": round(self.decision_agreement, 4),
            "intent_agreement": round(self.intent_agreement, 4),
            "live_auto_rate": round(self.live_auto_rate, 4), "shadow_auto_rate": round(self.shadow_auto_rate, 4),
            "auto_rate_change": round(self.auto_rate_change, 4),
            "transitions": dict(self.transitions),
            "by_intent": {k: vars(v) for k, v in sorted(self.by_intent.items())},
            "verdicts": dict(self.verdicts), "changed": list(self.changed),
            "live_versions": dict(self.live_versions), "shadow_versions": dict(self.shadow_versions),
        }  # fmt: skip


def _version(o: Outcome) -> str:
    return f"{o.router_version or '?'} + {o.policy_version or '?'}"


def judge(live: Outcome, shadow: Outcome, feedback: Sequence[Feedback]) -> Side | None:
    """Which side the feedback on one ticket says was right; ``None``: it does not tell them apart."""
    if live.intent != shadow.intent:
        for f in feedback:
            named = f.corrected_intent in (live.intent, shadow.intent)
            if f.kind is FeedbackKind.INTENT_CORRECTION and named:
                return "live" if f.corrected_intent == live.intent else "shadow"
    if (live.decision is AUTO) == (shadow.decision is AUTO):
        return None
    auto_side: Side = "live" if live.decision is AUTO else "shadow"
    held_side: Side = "shadow" if auto_side == "live" else "live"
    for f in feedback:
        csat = f.score if f.kind is FeedbackKind.CSAT else None
        if f.kind in GOOD_TO_SEND or (csat is not None and csat >= CSAT_GOOD):
            return auto_side
        if f.kind in NOT_GOOD_TO_SEND or (csat is not None and csat <= CSAT_BAD):
            return held_side
    return None


def compare(
    live: Mapping[str, Outcome], shadow: Mapping[str, Outcome], feedback: Mapping[str, Sequence[Feedback]]
) -> ShadowReport:
    """The report over tickets decided by both (``live`` and ``shadow`` by ticket id)."""
    both = sorted(live.keys() & shadow.keys())
    report = ShadowReport(joined=len(both), live_only=len(live.keys() - shadow.keys()),
                          shadow_only=len(shadow.keys() - live.keys()))  # fmt: skip
    if not both:
        return report
    transitions: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    rows: defaultdict[str, IntentRow] = defaultdict(IntentRow)
    same_decision = same_intent = live_auto = shadow_auto = 0
    for ticket_id in both:
        a, b = live[ticket_id], shadow[ticket_id]
        row = rows[a.intent]
        row.tickets += 1
        row.live_auto += a.decision is AUTO
        row.shadow_auto += b.decision is AUTO
        live_auto += a.decision is AUTO
        shadow_auto += b.decision is AUTO
        same_intent += a.intent == b.intent
        if a.decision == b.decision:
            same_decision += 1
        else:
            row.changed += 1
            transitions[f"{a.decision} -> {b.decision}"] += 1
        if a.decision != b.decision or a.intent != b.intent:
            given = feedback.get(ticket_id, ())
            verdict = (judge(a, b, given) or "undecided") if given else "no feedback"
            if given:
                verdicts[verdict] += 1
            report.changed.append({"ticket_id": ticket_id, "intent": a.intent, "shadow_intent": b.intent,
                                   "live": str(a.decision), "shadow": str(b.decision), "verdict": verdict})  # fmt: skip
    n = len(both)
    report.decision_agreement, report.intent_agreement = same_decision / n, same_intent / n
    report.live_auto_rate, report.shadow_auto_rate = live_auto / n, shadow_auto / n
    report.transitions = dict(transitions.most_common())
    report.by_intent = dict(rows)
    report.verdicts = {k: verdicts[k] for k in ("live", "shadow", "undecided") if verdicts[k]}
    report.live_versions = dict(Counter(_version(live[t]) for t in both))
    report.shadow_versions = dict(Counter(_version(shadow[t]) for t in both))
    return report


def outcomes_by_ticket(
    values: Iterable[bytes], *, since_ms: int = 0, keep: Literal["first", "latest"] = "first"
) -> dict[str, Outcome]:
    """Outcomes decided at or after ``since_ms``, one per ticket: the first (live: a redelivery is a
    duplicate) or the latest (shadow: a replay re-decides what the shadow worker decided before).
    Records that do not decode are skipped."""
    out: dict[str, Outcome] = {}
    for value in values:
        try:
            outcome = wire.decode(value, Outcome)
        except SchemaError:
            continue
        if outcome.decided_at_ms < since_ms or (keep == "first" and outcome.ticket_id in out):
            continue
        out[outcome.ticket_id] = outcome
    return out


def feedback_by_ticket(values: Iterable[bytes]) -> dict[str, list[Feedback]]:
    """Feedback records by ticket id, each once (a replayed feedback event has the same id)."""
    out: defaultdict[str, list[Feedback]] = defaultdict(list)
    ids: set[str] = set()
    for value in values:
        try:
            f = wire.decode(value, Feedback)
        except SchemaError:
            continue
        if f.feedback_id not in ids:
            ids.add(f.feedback_id)
            out[f.ticket_id].append(f)
    return dict(out)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def render(report: ShadowReport) -> str:
    """The report as text: headline numbers, transitions, intents with changes, feedback verdicts."""
    r = report
    head = f"tickets decided by both: {r.joined} (live only {r.live_only}, shadow only {r.shadow_only})"
    if not r.joined:
        return head
    lines = [
        head,
        f"live:    {', '.join(f'{v} ({n})' for v, n in r.live_versions.items()) or '-'}",
        f"shadow:  {', '.join(f'{v} ({n})' for v, n in r.shadow_versions.items()) or '-'}",
        f"decision agreement {_pct(r.decision_agreement)}, intent agreement {_pct(r.intent_agreement)}",
        f"automatic rate: live {_pct(r.live_auto_rate)} -> shadow {_pct(r.shadow_auto_rate)} "
        f"({r.auto_rate_change * 100:+.1f} points)",
    ]
    if r.transitions:
        lines += ["", "changed decisions (live -> shadow):"]
        lines += [f"  {k:<34}{v:>6}" for k, v in r.transitions.items()]
        changed = sorted(((k, v) for k, v in r.by_intent.items() if v.changed), key=lambda kv: -kv[1].changed)
        lines += ["", f"  {'intent':<28}{'tickets':>8}{'changed':>8}{'live auto':>11}{'shadow auto':>13}"]
        lines += [
            f"  {k:<28}{v.tickets:>8}{v.changed:>8}{v.live_auto:>11}{v.shadow_auto:>13}" for k, v in changed
        ]
    if r.changed:
        lines += ["", "changed tickets (first 10):"]
        lines += [
            f"  {c['ticket_id']:<26}{c['intent']:<24}{c['live']} -> {c['shadow']}"
            + (f" (shadow intent {c['shadow_intent']})" if c["shadow_intent"] != c["intent"] else "")
            + f"  [{c['verdict']}]"
            for c in r.changed[:10]
        ]
    if r.verdicts:
        said = ", ".join(
            f"{k} right {v}" if k != "undecided" else f"undecided {v}" for k, v in r.verdicts.items()
        )
        lines += ["", f"changed tickets with feedback: {said}"]
    elif r.transitions:
        lines += ["", "no feedback on the changed tickets yet"]
    return "\n".join(lines)


def write_plots(report: ShadowReport, out_dir: Path) -> list[Path]:
    """``auto_rate_by_intent.png`` (live vs shadow per intent) and ``transitions.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    intents = sorted(report.by_intent, key=lambda k: -report.by_intent[k].tickets)[:30]
    rows = [report.by_intent[k] for k in intents]
    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.3 * len(intents) + 1)))
    ys = range(len(intents))
    ax.barh([y - 0.2 for y in ys], [r.live_auto / r.tickets for r in rows], height=0.4, label="live")
    ax.barh([y + 0.2 for y in ys], [r.shadow_auto / r.tickets for r in rows], height=0.4, label="shadow")
    ax.set_yticks(list(ys), intents)
    ax.invert_yaxis()
    ax.set_xlabel("automatic (auto-resolved) rate")
    ax.set_title(f"live {_pct(report.live_auto_rate)} vs shadow {_pct(report.shadow_auto_rate)} automatic")
    ax.legend()
    fig.tight_layout()
    by_intent = out_dir / "auto_rate_by_intent.png"
    fig.savefig(by_intent, dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.4 * len(report.transitions) + 1)))
    names = list(report.transitions)
    ax.barh(names, [report.transitions[n] for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("tickets")
    ax.set_title(f"changed decisions, live -> shadow ({report.joined} tickets decided by both)")
    fig.tight_layout()
    transitions = out_dir / "transitions.png"
    fig.savefig(transitions, dpi=100)
    plt.close(fig)
    return [by_intent, transitions]
