"""The offline grounded drafter: an answer assembled from the help center itself, no model call.

It lifts the sentences and procedures of the top sources that are closest to the ticket (MiniLM
cosine), keeps a numbered procedure whole, adds the customer's order facts from the CRM when the
intent is about an order, greets by first name and cites every chunk it used. Nothing is generated,
so everything it says is in a cited source or the CRM record; groundedness still scores it, because
lifting the wrong sentence is the failure mode left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from supportflow.processors.knowledge.facts import describe_order
from supportflow.processors.knowledge.grounding import score_groundedness
from supportflow.processors.knowledge.sentences import answer_units, sentence_embeddings
from supportflow.schemas.models import Answer, CustomerContext, Order, Source, Tier

MODEL_NAME = "offline-extractive"
ORDER_INTENTS = frozenset(
    {
        "track_order", "cancel_order", "change_order", "change_shipping_address", "delivery_period",
        "get_refund", "track_refund", "check_invoice", "get_invoice", "check_cancellation_fee", "complaint",
    }
)  # fmt: skip
MAX_SOURCES = 3  # sources considered, best first
SOURCE_SCORE_SPREAD = 0.2  # ignore sources this far below the best retrieval score
MAX_UNITS = 3
MAX_CHARS = 900
MIN_RELEVANCE = 0.30  # ticket-to-unit cosine below which a unit is off-topic
RELATIVE_DROP = 0.15  # ... and units this far below the best unit are filler, not the answer
RANK_BONUS = 0.04  # per source rank: prefer the best-retrieved section on near ties
PROCEDURE_BONUS = 0.05  # a how-to list usually answers "how do I ..." better than one sentence
SIGN_OFF = "Best regards,\nNorthwind Outfitters Support"
_ORDER_ID = re.compile(r"\b[A-Z]{2,4}-\d{4,}\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Unit:
    source: int
    position: int
    text: str


def compose_answer(
    ticket_text: str,
    intent: str,
    sources: list[Source],
    customer: CustomerContext | None,
    query_vector: npt.NDArray[np.float32] | None = None,
) -> Answer | None:
    """An extractive, cited answer to ``ticket_text``, or None when no source has a relevant passage.

    ``query_vector`` is the ticket's embedding when the router already computed it (it is not
    computed twice)."""
    if not sources or not ticket_text.strip():
        return None
    best_score = sources[0].score
    considered = [s for s in sources[:MAX_SOURCES] if s.score >= best_score - SOURCE_SCORE_SPREAD]
    units = [
        _Unit(i, j, text)
        for i, source in enumerate(considered)
        for j, text in enumerate(answer_units(source.text))
        if not text.endswith("?")  # an article's rhetorical question is not an answer
    ]
    if not units:
        return None
    unit_vectors = sentence_embeddings.encode([u.text for u in units])
    query = query_vector if query_vector is not None else sentence_embeddings.encode([ticket_text])[0]
    cosine = unit_vectors @ query
    relevance = (
        cosine
        - RANK_BONUS * np.array([u.source for u in units])
        + PROCEDURE_BONUS * np.array(["\n" in u.text for u in units])
    )
    chosen: list[_Unit] = []
    size = 0
    cutoff = max(MIN_RELEVANCE, float(cosine.max()) - RELATIVE_DROP)
    for idx in np.argsort(-relevance):
        unit = units[int(idx)]
        if cosine[idx] < cutoff or len(chosen) >= MAX_UNITS:
            break
        if chosen and size + len(unit.text) > MAX_CHARS:
            continue
        chosen.append(unit)
        size += len(unit.text)
    if not chosen:
        return None
    chosen.sort(key=lambda u: (u.source, u.position))  # read in the help center's own order

    parts = [_greeting(customer)]
    order = _relevant_order(ticket_text, intent, customer)
    if order is not None:
        parts.append(describe_order(order))
    parts.append("\n\n".join(u.text for u in chosen))
    parts.append(SIGN_OFF)
    text = "\n\n".join(parts)

    used = sorted({u.source for u in chosen})
    cited = [considered[i] for i in used]
    score, unsupported = score_groundedness(text, cited, customer)
    return Answer(
        text=text,
        citations=[s.chunk_id for s in cited],
        model=MODEL_NAME,
        tier=Tier.COMMODITY,
        groundedness=score,
        unsupported=unsupported,
    )


def _greeting(customer: CustomerContext | None) -> str:
    first = customer.name.split()[0] if customer and customer.name.strip() else ""
    return f"Hi {first}," if first else "Hello,"


def _relevant_order(ticket_text: str, intent: str, customer: CustomerContext | None) -> Order | None:
    """The order the ticket names, else the customer's most recent one, for order-related intents only."""
    if customer is None or not customer.orders or intent not in ORDER_INTENTS:
        return None
    mentioned = {m.upper() for m in _ORDER_ID.findall(ticket_text)}
    for order in customer.orders:
        if order.order_id.upper() in mentioned:
            return order
    if mentioned:
        # The customer named an order we cannot see on their record: citing another one would mislead.
        return None
    return max(customer.orders, key=lambda o: o.placed_at)
