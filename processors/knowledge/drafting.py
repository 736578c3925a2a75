"""The offline grounded drafter: an answer assembled from the help center itself, no model call.

It answers from ONE article: the best-retrieved one. Mixing in a neighbouring article was the main
source of wrong answers (a true, grounded, off-topic sentence: a cancel-order answer that explains
damaged items). A second article joins only when both declare the routed intent and the second
retrieves within ``SECOND_ARTICLE_MARGIN`` of the first. Within the article it lifts the sentences
and procedures closest to the ticket (MiniLM cosine), keeps a numbered procedure whole, prefers
passages that carry the hard facts (durations, amounts, times) on near ties, adds the customer's order
facts from the CRM when the intent is about an order, greets by first name and cites every chunk it
used. Nothing is generated, so everything it says is in a cited source or the CRM record;
groundedness still scores it, because lifting the wrong sentence is the failure mode left.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from supportflow.processors.knowledge.facts import fact_keys
from supportflow.processors.knowledge.grounding import score_groundedness
from supportflow.processors.knowledge.phrasing import DEFAULT_LANGUAGE, describe_order, greeting, phrasing
from supportflow.processors.knowledge.sentences import answer_units, sentence_embeddings
from supportflow.processors.orders import ORDER_ID
from supportflow.schemas.models import Answer, CustomerContext, Order, Source, Tier

MODEL_NAME = "offline-extractive"
ORDER_INTENTS = frozenset(
    {
        "track_order", "cancel_order", "change_order", "change_shipping_address", "delivery_period",
        "get_refund", "track_refund", "check_invoice", "get_invoice", "check_cancellation_fee", "complaint",
    }
)  # fmt: skip
MAX_SOURCES = 4  # chunks considered, best first (all from the chosen article(s))
SOURCE_SCORE_SPREAD = 0.2  # ignore chunks this far below the best retrieval score
SECOND_ARTICLE_MARGIN = 0.03  # a second same-intent article must retrieve this close to the first
MAX_UNITS = 3
MAX_CHARS = 900
MIN_RELEVANCE = 0.30  # ticket-to-unit cosine below which a unit is off-topic
RELATIVE_DROP = 0.15  # ... and units this far below the best unit are filler, not the answer
SECTION_WEIGHT = 0.5  # share of a unit's relevance that is its section's retrieval score
RANK_BONUS = 0.04  # per source rank: prefer the best-retrieved section on near ties
PROCEDURE_BONUS = 0.05  # a how-to list usually answers "how do I ..." better than one sentence
FACT_BONUS = 0.08  # on near ties the passage with the number ("5-7 business days") is the answer
# A section the article's author declared for the routed intent (front matter ``answers``) beats any
# similarity tie-break: larger than RELATIVE_DROP, so other sections' units join only when they are
# themselves close to the hinted ones.
HINT_BONUS = 0.2
_FACT_KINDS = ("money:", "percent:", "time:", "duration:", "date:")


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
    article_intents: Mapping[str, Collection[str]] | None = None,
    section_hints: Mapping[str, Mapping[str, Collection[str]]] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> Answer | None:
    """An extractive, cited answer to ``ticket_text``, or None when no source has a relevant passage.

    ``query_vector`` is the ticket's embedding when the router already computed it (it is not
    computed twice). ``article_intents`` (article id -> declared intents, ``KnowledgeBase.article_intents``)
    allows a second article declared for ``intent``; without it the answer uses one article.
    ``section_hints`` (article id -> {intent: sections}, ``KnowledgeBase.section_hints``) names the
    sections that answer ``intent``; their passages are strongly preferred when retrieved. The
    greeting, order facts and sign-off are written in ``language`` (the sources' own language)."""
    if not sources or not ticket_text.strip():
        return None
    primary = sources[0].article_id
    hinted = {h.casefold() for h in (section_hints or {}).get(primary, {}).get(intent, ())}

    def is_hinted(source: Source) -> bool:
        return source.article_id == primary and source.section.casefold() in hinted

    considered = _considered_sources(sources, intent, article_intents, is_hinted)
    units = [
        _Unit(i, j, text)
        for i, source in enumerate(considered)
        for j, text in enumerate(answer_units(source.text))
        if not text.endswith("?")  # an article's rhetorical question is not an answer
    ]
    if not units:
        return None
    query = query_vector if query_vector is not None else sentence_embeddings.encode([ticket_text])[0]
    hinted_units = np.array([is_hinted(considered[u.source]) for u in units])
    chosen = _choose_units(units, considered, query, hinted_units)
    if not chosen:
        return None
    return _assemble(ticket_text, intent, customer, considered, chosen, language)


def _considered_sources(
    sources: list[Source],
    intent: str,
    article_intents: Mapping[str, Collection[str]] | None,
    is_hinted: Callable[[Source], bool],
) -> list[Source]:
    candidates = _answer_articles(sources, intent, article_intents)
    considered = [
        s for s in candidates[:MAX_SOURCES]
        if s.score >= sources[0].score - SOURCE_SCORE_SPREAD or is_hinted(s)
    ]  # fmt: skip
    # The hinted section counts even when it retrieved below the cut: the author's word beats the score.
    return considered + [s for s in candidates[MAX_SOURCES:] if is_hinted(s)]


def _choose_units(
    units: list[_Unit],
    considered: list[Source],
    query: npt.NDArray[np.float32],
    hinted: npt.NDArray[np.bool_],
) -> list[_Unit]:
    """The most relevant units, within the size limits, in the help center's own order."""
    # A unit is read under its section heading: "US Standard: 5-7 business days" says nothing about
    # arrival times until it sits under "Transit times".
    unit_vectors = sentence_embeddings.encode(
        [unit_context(considered[u.source].section, u.text) for u in units]
    )
    cosine = unit_vectors @ query
    # One short sentence's cosine is noisy (MiniLM on ten words); the section's retrieval score says
    # which part of the article the ticket is about, so both count.
    section = np.array([considered[u.source].score for u in units])
    relevance = (
        (1 - SECTION_WEIGHT) * cosine
        + SECTION_WEIGHT * section
        - RANK_BONUS * np.array([u.source for u in units])
        + PROCEDURE_BONUS * np.array(["\n" in u.text for u in units])
        + FACT_BONUS * np.array([_carries_fact(u.text) for u in units])
        + HINT_BONUS * hinted
    )
    chosen: list[_Unit] = []
    size = 0
    cutoff = float(relevance.max()) - RELATIVE_DROP
    for idx in np.argsort(-relevance, kind="stable"):
        unit = units[int(idx)]
        if len(chosen) >= MAX_UNITS:
            break
        # A hinted unit is on topic by the author's declaration; MiniLM's cosine on a bare fact line
        # ("card refunds take 5-10 business days") to "I expect a refund of $160" is not evidence.
        on_topic = cosine[idx] >= MIN_RELEVANCE or bool(hinted[idx])
        if relevance[idx] < cutoff or not on_topic:
            continue
        if chosen and size + len(unit.text) > MAX_CHARS:
            continue
        chosen.append(unit)
        size += len(unit.text)
    return sorted(chosen, key=lambda u: (u.source, u.position))  # read in the help center's own order


def _assemble(
    ticket_text: str,
    intent: str,
    customer: CustomerContext | None,
    considered: list[Source],
    chosen: list[_Unit],
    language: str,
) -> Answer:
    first = customer.name.split()[0] if customer and customer.name.strip() else ""
    parts = [greeting(first, language)]
    order = relevant_order(ticket_text, intent, customer)
    if order is not None:
        parts.append(describe_order(order, language))
    parts.append("\n\n".join(u.text for u in chosen))
    parts.append(phrasing(language).sign_off)
    text = "\n\n".join(parts)

    cited = [considered[i] for i in sorted({u.source for u in chosen})]
    score, unsupported = score_groundedness(text, cited, customer, language)
    return Answer(
        text=text,
        citations=[s.chunk_id for s in cited],
        model=MODEL_NAME,
        tier=Tier.COMMODITY,
        groundedness=score,
        unsupported=unsupported,
    )


def _answer_articles(
    sources: list[Source], intent: str, article_intents: Mapping[str, Collection[str]] | None
) -> list[Source]:
    """The chunks of the best-retrieved article, plus a second article's when it earns its place.

    Sources come best first (the retrieval's fused order), so the first one names the article.
    """
    primary = sources[0].article_id
    allowed = {primary}
    if article_intents is not None and intent in article_intents.get(primary, ()):
        best: dict[str, float] = {}
        for s in sources:
            best[s.article_id] = max(best.get(s.article_id, s.score), s.score)
        runners = [
            a for a in best
            if a != primary and intent in article_intents.get(a, ())
            and best[a] >= best[primary] - SECOND_ARTICLE_MARGIN
        ]  # fmt: skip
        allowed.update(runners[:1])
    return [s for s in sources if s.article_id in allowed]


def unit_context(section: str, unit: str) -> str:
    """What the drafter embeds for a unit (``warm_sentence_cache`` pre-embeds the same strings)."""
    return f"{section}: {unit}" if section else unit


def _carries_fact(text: str) -> bool:
    """A duration, amount, percentage, time or date: what a customer asked a number for."""
    return any(key.startswith(_FACT_KINDS) for key in fact_keys(text))


def relevant_order(ticket_text: str, intent: str, customer: CustomerContext | None) -> Order | None:
    """The order the ticket names, else the customer's most recent one, for order-related intents only."""
    if customer is None or not customer.orders or intent not in ORDER_INTENTS:
        return None
    mentioned = {m.upper() for m in ORDER_ID.findall(ticket_text)}
    for order in customer.orders:
        if order.order_id.upper() in mentioned:
            return order
    if mentioned:
        # The customer named an order we cannot see on their record: citing another one would mislead.
        return None
    return max(customer.orders, key=lambda o: o.placed_at)
