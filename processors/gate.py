"""Stage 5 — gate: the only place a ticket can become ``auto_resolved``.

Auto-send needs every one of: band auto, an answer in the customer's language (detected, as the
ticket's was), citations that resolve to indexed help-center sections the ticket retrieved,
groundedness at or above the floor, a confident top source, no
degradation on the way, a CRM record (if any) that matches the ticket's verified identity
(:mod:`.identity`; the route stage already drops one that does not, this catches records routed by
an older worker), and the kill switch allowing auto-send. Anything else drafts for an agent
(suggested) or, when routing said so, escalates with full context. Never silence.

"Confident top source" has two floors. When every cited article declares the routed intent (front
matter ``intents``), the answer came from an intent-scoped search: the router chose the article and
the score only has to show the ticket is about it (``scoped_retrieval_min_score``). Otherwise the
help center's similarity alone chose it, and the stricter ``retrieval_min_score`` applies
(``gate:citation_off_intent`` says why that floor was used).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from supportflow.processors.conversation.converse import CLOSING
from supportflow.processors.identity import GATE_IDENTITY, bind_customer
from supportflow.processors.redact import redact, redact_customer_terms
from supportflow.processors.router.signals import DEFAULT_LANGUAGE, language_scores
from supportflow.schemas.models import Band, Decision, Outcome, PipelineRecord, Ticket, Tier


@dataclass(frozen=True)
class GatePolicy:
    groundedness_floor: float
    retrieval_min_score: float
    auto_send_enabled: bool = True
    # Floor for answers whose cited articles all declare the routed intent; None: same as above.
    scoped_retrieval_min_score: float | None = None


# Router labels no article declares: an answer for them is never intent-scoped.
_UNSCOPED_INTENTS = frozenset({"", "oos", "unknown"})


def _auto_blockers(
    record: PipelineRecord,
    policy: GatePolicy,
    chunk_exists: Callable[[str], bool],
    article_intents: Mapping[str, Collection[str]] | None,
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
    wanted = record.route.language if record.route else "en"
    if (written := answer_language(answer.text, wanted)) != wanted:
        blockers.append(f"gate:answer_language:{written}_not_{wanted}")
    top = max((s.score for s in record.sources), default=0.0)
    scoped = policy.scoped_retrieval_min_score is not None and _cites_on_intent(record, article_intents)
    floor = (
        policy.scoped_retrieval_min_score
        if scoped and policy.scoped_retrieval_min_score is not None
        else policy.retrieval_min_score
    )
    if top < floor:
        blockers.append(f"gate:retrieval_score<{floor:.2f}")
        if not scoped and policy.scoped_retrieval_min_score is not None:
            blockers.append("gate:citation_off_intent")
    if record.customer is not None and bind_customer(record.ticket, record.customer).customer is None:
        blockers.append(GATE_IDENTITY)
    if not policy.auto_send_enabled:
        blockers.append("gate:kill_switch")
    return blockers


#: An answer is in the wanted language when the language model gives it at least this probability.
#: A correct Spanish answer that is mostly card and wallet names ("Visa, Mastercard, PayPal") reads as
#: English first; an English answer to a Spanish ticket gives Spanish well under 1%.
ANSWER_LANGUAGE_MIN_SCORE = 0.1


def answer_language(text: str, wanted: str) -> str:
    """``wanted`` when ``text`` may be in it, else the language it is most likely written in."""
    scores = language_scores(text)
    if not scores:  # too short to tell: what the ticket's own detection assumes
        return DEFAULT_LANGUAGE
    if scores.get(wanted, 0.0) >= ANSWER_LANGUAGE_MIN_SCORE:
        return wanted
    return max(scores, key=lambda lang: scores[lang])


def _cites_on_intent(record: PipelineRecord, article_intents: Mapping[str, Collection[str]] | None) -> bool:
    """Every cited article declares the routed intent (so the scoped search, not luck, picked it)."""
    intent = record.route.intent if record.route else ""
    if article_intents is None or intent in _UNSCOPED_INTENTS or record.answer is None:
        return False
    article_of = {s.chunk_id: s.article_id for s in record.sources}
    cited = [article_of.get(c, c.split("#", 1)[0]) for c in record.answer.citations]
    return bool(cited) and all(intent in article_intents.get(a, ()) for a in cited)


def latency_ms(ticket: Ticket, now_ms: int) -> float:
    """Ingest -> decision: from the moment the raw event reached ingress (``ingested_at_ms``)."""
    return float(max(0, now_ms - ticket.ingested_at_ms))


def escalation_context(record: PipelineRecord) -> str:
    """What the human taking over needs: message, reasons, CRM facts, what the help center says.

    Redacted like every other text that leaves the pipeline: outcomes reach CRMs, webhooks and anyone
    who can read the topic, so contact details, card numbers and the customer's CRM name become typed
    placeholders; order ids, amounts and dates stay (the agent needs them)."""
    return redact(_context_lines(record), known=redact_customer_terms(record.customer)).text


def _context_lines(record: PipelineRecord) -> str:
    t = record.ticket
    turn = record.thread.turn if record.thread else 1
    lines = [f"Channel: {t.channel} from {t.sender}", f"Subject: {t.subject}",
             "Message:" if turn == 1 else f"Message {turn} of this conversation:", t.text, ""]  # fmt: skip
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
    record: PipelineRecord,
    policy: GatePolicy,
    chunk_exists: Callable[[str], bool],
    now_ms: int,
    article_intents: Mapping[str, Collection[str]] | None = None,
) -> Outcome:
    """The decision for ``record``. ``article_intents`` (article id -> declared intents,
    ``KnowledgeBase.article_intents``) enables the scoped floor; without it only the strict one applies."""
    route = record.route
    if route is None:
        raise ValueError("gate needs a routed record")
    reasons = list(route.reasons)
    thread = record.thread
    if route.band == Band.ESCALATE:
        decision = Decision.ESCALATED
    elif thread is not None and CLOSING in thread.signals:
        # The customer closed the conversation: no agent, and an answer only if one is configured.
        decision = Decision.CLOSED
    elif route.band == Band.AUTO:
        blockers = _auto_blockers(record, policy, chunk_exists, article_intents)
        reasons += blockers
        decision = Decision.SUGGESTED if blockers else Decision.AUTO_RESOLVED
    else:
        reasons += [f"degraded:{f}" for f in record.failures]
        decision = Decision.SUGGESTED
    answer = record.answer if decision is not Decision.CLOSED else None
    return Outcome(
        ticket_id=record.ticket.ticket_id,
        conversation_id=record.ticket.conversation_id,
        # The bound (verified) customer only: a claimed id is not who the ticket is from.
        customer_id=record.customer.customer_id if record.customer else None,
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
        latency_ms=latency_ms(record.ticket, now_ms),
        language=route.language,
        cost_usd=answer.cost_usd if answer else 0.0,
        escalation_context=escalation_context(record) if decision == Decision.ESCALATED else "",
        external_id=record.ticket.external_id,
        turn=thread.turn if thread else 1,
        transcript=list(thread.transcript) if thread else [],
    )
