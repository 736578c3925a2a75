"""Stage 5 — gate: the only place a ticket can become ``auto_resolved``.

Auto-send needs every one of: band auto, an answer, citations that resolve to indexed help-center
sections the ticket retrieved, groundedness at or above the floor, a confident top source, no
degradation on the way, and the kill switch allowing auto-send. Anything else drafts for an agent
(suggested) or, when routing said so, escalates with full context. Never silence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from supportflow.schemas.models import Band, Decision, Outcome, PipelineRecord, Tier


@dataclass(frozen=True)
class GatePolicy:
    groundedness_floor: float
    retrieval_min_score: float
    auto_send_enabled: bool = True


def _auto_blockers(
    record: PipelineRecord, policy: GatePolicy, chunk_exists: Callable[[str], bool]
) -> list[str]:
    answer = record.answer
    blockers = [f"degraded:{f}" for f in record.failures]
    if answer is None or not answer.text.strip():
        return [*blockers, "gate:no_answer"]
    retrieved = {s.chunk_id for s in record.sources}
    if not answer.citations:
        blockers.append("gate:no_citations")
    elif any(c not in retrieved or not chunk_exists(c) for c in answer.citations):
        blockers.append("gate:citation_not_indexed")
    if answer.groundedness < policy.groundedness_floor:
        blockers.append(f"gate:groundedness<{policy.groundedness_floor:.2f}")
    top = max((s.score for s in record.sources), default=0.0)
    if top < policy.retrieval_min_score:
        blockers.append(f"gate:retrieval_score<{policy.retrieval_min_score:.2f}")
    if not policy.auto_send_enabled:
        blockers.append("gate:kill_switch")
    return blockers


def escalation_context(record: PipelineRecord) -> str:
    """What the human taking over needs: message, reasons, CRM facts, what the help center says."""
    t = record.ticket
    lines = [f"Channel: {t.channel} from {t.sender}", f"Subject: {t.subject}", "Message:", t.text, ""]
    if record.route:
        lines.append(f"Routing: {record.route.intent} ({record.route.confidence:.2f}); "
                     f"reasons: {', '.join(record.route.reasons) or 'none'}")  # fmt: skip
    c = record.customer
    if c:
        lines.append(f"Customer {c.customer_id}: {c.name}, tier {c.tier}{' (VIP)' if c.vip else ''}")
        lines += [f"  order {o.order_id}: {o.status}, {o.total:.2f} {o.currency}, placed {o.placed_at}"
                  for o in c.orders[:5]]  # fmt: skip
    for s in record.sources[:3]:
        lines.append(f"Source [{s.chunk_id}] {s.title} / {s.section} (score {s.score:.2f})")
    return "\n".join(lines)


def gate(
    record: PipelineRecord, policy: GatePolicy, chunk_exists: Callable[[str], bool], now_ms: int
) -> Outcome:
    route = record.route
    if route is None:
        raise ValueError("gate needs a routed record")
    reasons = list(route.reasons)
    if route.band == Band.ESCALATE:
        decision = Decision.ESCALATED
    elif route.band == Band.AUTO:
        blockers = _auto_blockers(record, policy, chunk_exists)
        reasons += blockers
        decision = Decision.SUGGESTED if blockers else Decision.AUTO_RESOLVED
    else:
        reasons += [f"degraded:{f}" for f in record.failures]
        decision = Decision.SUGGESTED
    answer = record.answer
    return Outcome(
        ticket_id=record.ticket.ticket_id,
        conversation_id=record.ticket.conversation_id,
        customer_id=record.customer.customer_id if record.customer else record.ticket.customer_id,
        channel=record.ticket.channel,
        decision=decision,
        reasons=reasons or ["policy:auto"],
        intent=route.intent,
        confidence=route.confidence,
        band=route.band,
        tier=answer.tier if answer else route.tier if route else Tier.COMMODITY,
        model=answer.model if answer else "",
        answer=answer.text if answer else "",
        citations=list(answer.citations) if answer else [],
        groundedness=answer.groundedness if answer else 0.0,
        timings_ms=dict(record.timings_ms),
        trace_id=record.ticket.trace_id,
        decided_at_ms=now_ms,
        latency_ms=float(max(0, now_ms - (record.received_at_ms or record.ticket.ingested_at_ms))),
        language=route.language,
        cost_usd=answer.cost_usd if answer else 0.0,
        escalation_context=escalation_context(record) if decision == Decision.ESCALATED else "",
    )
