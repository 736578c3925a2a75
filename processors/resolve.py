"""Stage 4 — resolve: answer (or draft) with citations, from the cheapest tier that can answer.

With model tiers configured, LiteLLM answers from redacted text; with none, the offline extractive
drafter composes the answer from the retrieved sections. Any model failure degrades to the offline
draft, and the failure is recorded so the gate never auto-sends it. Groundedness is always scored
here, independently of what the model claims.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from supportflow.processors.conversation.converse import query_text, transcript_prompt
from supportflow.processors.knowledge import compose_answer, score_groundedness
from supportflow.processors.knowledge.drafting import relevant_order
from supportflow.processors.knowledge.facts import customer_fact_lines
from supportflow.processors.knowledge.phrasing import DEFAULT_LANGUAGE, describe_order
from supportflow.processors.knowledge.sentences import sentence_embeddings, split_sentences
from supportflow.processors.llm import LlmUnavailable, TierClient
from supportflow.processors.redact import redact, redact_customer_terms
from supportflow.schemas.models import Answer, Band, CustomerContext, PipelineRecord


@dataclass(frozen=True)
class ResolveContext:
    llm: TierClient | None
    # article id -> {intent: sections that answer it} (``KnowledgeBase.section_hints``), for the drafter.
    section_hints: Mapping[str, Mapping[str, Collection[str]]] | None = None
    # article id -> its language (``KnowledgeBase.article_languages``): the drafter writes its greeting,
    # order facts and sign-off in the language of the article it quotes. Unknown articles: English.
    article_languages: Mapping[str, str] | None = None


def customer_facts(customer: CustomerContext | None, limit: int = 5) -> list[str]:
    """Order facts a model may use; no names or contact data (those never reach a model)."""
    if customer is None:
        return []
    facts = [f"customer tier: {customer.tier}"]
    for order in customer.orders[:limit]:
        parts = [
            f"order {order.order_id}: status {order.status}",
            f"total {order.total:.2f} {order.currency}",
        ]
        if order.placed_at:
            parts.append(f"placed {order.placed_at}")
        if order.carrier or order.tracking_number:
            parts.append(f"carrier {order.carrier} tracking {order.tracking_number}".strip())
        if order.delivered_at:
            parts.append(f"delivered {order.delivered_at}")
        facts.append(", ".join(parts))
    return facts


def _answerable(record: PipelineRecord) -> bool:
    return record.route is not None and record.route.band != Band.ESCALATE and bool(record.sources)


def resolve_batch(records: Sequence[PipelineRecord], ctx: ResolveContext) -> list[PipelineRecord]:
    """``resolve`` for each record, with the batch's CRM evidence embedded in one model call first.

    Help-center sentences are embedded at start-up, but every customer's CRM lines (and the order
    sentences the drafter writes from them) are new text: embedded ticket by ticket, that was 3-5 tiny
    model calls per ticket; embedded together, one call per batch fills the cache the scorer reads.
    """
    evidence: list[str] = []
    for record in records:
        if _answerable(record) and record.customer is not None and record.route is not None:
            language = record.route.language
            evidence += customer_fact_lines(record.customer, language)
            order = relevant_order(query_text(record), record.route.intent, record.customer)
            evidence += split_sentences(describe_order(order, language)) if order is not None else []
    if evidence:
        sentence_embeddings.encode(list(dict.fromkeys(evidence)))
    llm = ctx.llm
    if llm is None or not llm.enabled() or len(records) < 2:
        return [resolve(r, ctx) for r in records]
    # A provider answers in seconds; one at a time, a batch of 64 would hold its partition for minutes.
    # Threads, because LiteLLM's sync call blocks on I/O; the breaker and metrics are thread-safe.
    with ThreadPoolExecutor(
        min(llm.tiers.max_concurrency, len(records)), thread_name_prefix="resolve"
    ) as pool:
        return list(pool.map(lambda r: resolve(r, ctx), records))


def resolve(record: PipelineRecord, ctx: ResolveContext) -> PipelineRecord:
    route = record.route
    if route is None or not _answerable(record):
        # Escalations go to a human with full context; drafting them would spend tokens nobody reads.
        return record
    failures = list(record.failures)
    answer: Answer | None = None
    if ctx.llm is not None and ctx.llm.enabled():
        terms = redact_customer_terms(record.customer)
        text = transcript_prompt(
            record, redact(f"{record.ticket.subject}\n{record.ticket.text}".strip(), terms).text
        )
        facts = [redact(f, terms).text for f in customer_facts(record.customer)]
        try:
            answer = ctx.llm.answer(
                ticket_text=text, sources=record.sources, customer_facts=facts,
                tier=route.tier, ticket_id=record.ticket.ticket_id, language=route.language,
            )  # fmt: skip
        except LlmUnavailable as exc:  # the only error answer() raises: every tier already failed
            failures.append(f"llm:{type(exc).__name__}")
        else:
            # Score the model's answer ourselves: its citations are a claim, not evidence.
            cited = [s for s in record.sources if s.chunk_id in set(answer.citations)]
            score, unsupported = score_groundedness(answer.text, cited, record.customer, route.language)
            answer = answer.model_copy(update={"groundedness": score, "unsupported": unsupported})
    if answer is None:
        # The offline drafter scores its own extract with the same scorer.
        vector = np.frombuffer(record.embedding, dtype=np.float32) if record.embedding else None
        answer = compose_answer(
            query_text(record), route.intent, record.sources, record.customer, vector,
            section_hints=ctx.section_hints,
            language=(ctx.article_languages or {}).get(record.sources[0].article_id, DEFAULT_LANGUAGE),
        )  # fmt: skip
    if answer is None:
        return record.model_copy(update={"failures": [*failures, "resolve:no_relevant_source"]})
    return record.model_copy(update={"answer": answer, "failures": failures})
