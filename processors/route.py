"""Stage 2 — route: intent + calibrated confidence + band + model tier, with hard policy rules first.

Embeds each ticket once (batched across tickets); the vector travels on the record so retrieval
reuses it. The customer's CRM record is looked up here because VIP and refund-amount rules need it;
later stages reuse it from the record. Only the identity the channel vouches for is looked up, and
the record is kept only if it matches that identity (:mod:`.identity`): a claimed ``customer_id``
never brings someone else's account into a prompt or an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from supportflow.processors.customers import CustomerDirectory
from supportflow.processors.embedding import Embedder
from supportflow.processors.identity import Binding, bind_customer, sender_identity, with_identity
from supportflow.processors.router import IntentRouter, Policy, Prediction, decide
from supportflow.processors.router.llm_router import LlmRouterClient, refine_routed_records
from supportflow.processors.router.signals import detect_language
from supportflow.schemas.models import PipelineRecord, Ticket
from supportflow.settings import Thresholds

# Tickets per embedding chunk: small enough that the first chunk's vectors come back quickly, large
# enough that each chunk still keeps both encoder threads busy (8 one-text int8 runs).
ROUTE_CHUNK = 8


@dataclass(frozen=True)
class MultilingualRouting:
    """The router for tickets not in English, on its own multilingual encoder.

    The main encoder (MiniLM) is English-only: a Spanish ticket lands near nothing it was trained on and
    reads as ``oos``. Such tickets are classified by a router trained on multilingual-e5-small vectors
    instead, so only they pay e5's cost (~8x MiniLM's per text); English tickets never touch it. Their
    retrieval stays on the main encoder's vector, inside their language's articles.
    """

    embedder: Embedder
    router: IntentRouter


@dataclass(frozen=True)
class RouteContext:
    embedder: Embedder
    router: IntentRouter
    policy: Policy
    crm: CustomerDirectory
    thresholds: Thresholds
    languages: tuple[str, ...]
    # Optional second opinion for the uncertain middle (off by default): it may re-label, never auto-send.
    llm_router: LlmRouterClient | None = None
    multilingual: MultilingualRouting | None = None


def ticket_query(ticket: Ticket) -> str:
    """The text that represents a ticket for classification and retrieval."""
    subject = ticket.subject.strip()
    return (
        f"{subject}\n{ticket.text}" if subject and subject.lower() not in ticket.text.lower() else ticket.text
    )


def _customer(record: PipelineRecord, ctx: RouteContext) -> Binding:
    """The CRM record the ticket's verified identity finds, if it may be used (never the claimed id's)."""
    identity = sender_identity(record.ticket)
    found = record.customer
    if found is None and identity:
        found = ctx.crm.find_customer(
            customer_id=identity.customer_id, email=identity.email, phone=identity.phone
        )
    return bind_customer(record.ticket, found, identity)


def _route_one(
    record: PipelineRecord,
    vector: npt.NDArray[np.float32],
    prediction: Prediction,
    binding: Binding,
    ctx: RouteContext,
    router: IntentRouter,
) -> PipelineRecord:
    t = record.ticket
    customer = binding.customer
    decision = decide(
        t, prediction, customer, ctx.policy, ctx.thresholds, router.auto_threshold,
        covered_languages=ctx.languages, model_version=router.version,
    )  # fmt: skip
    decision = with_identity(decision, binding.reason)
    update = {"route": decision, "customer": customer, "embedding": np.asarray(vector, np.float32).tobytes()}
    return record.model_copy(update=update)


def route_batch(records: Sequence[PipelineRecord], ctx: RouteContext) -> list[PipelineRecord]:
    if not records:
        return []
    queries = [ticket_query(r.ticket) for r in records]
    other = _other_language_rows(records, ctx)
    # e5 is the slow encoder: its vectors start first and come back while the main ones are used.
    pending_other = (
        ctx.multilingual.embedder.submit([queries[i] for i in other]) if ctx.multilingual else None
    )
    # Every chunk's embedding starts now; while the encoder's threads work through them, this thread
    # classifies and applies the policy to the chunks already embedded, so the encoder does not sit
    # idle during the Python half of routing (docs/performance.md).
    chunks = range(0, len(records), ROUTE_CHUNK)
    pending = [ctx.embedder.submit(queries[i : i + ROUTE_CHUNK]) for i in chunks]
    # CRM lookups need no vectors: done while the first chunk embeds, not after.
    bindings = [_customer(r, ctx) for r in records]
    text_log_p = ctx.router.text_log_proba(queries)  # the n-gram head needs no vectors either
    other_rows = set(other)
    routed = []
    for start, vectors_pending in zip(chunks, pending, strict=True):
        chunk_queries = queries[start : start + ROUTE_CHUNK]
        chunk_text_log_p = None if text_log_p is None else text_log_p[start : start + ROUTE_CHUNK]
        vectors = vectors_pending.result()
        predictions = ctx.router.predict(vectors, chunk_queries, chunk_text_log_p)
        for row, (record, vector, prediction, binding) in enumerate(
            zip(
                records[start : start + ROUTE_CHUNK],
                vectors,
                predictions,
                bindings[start : start + ROUTE_CHUNK],
                strict=True,
            ),
            start,
        ):
            if row in other_rows:  # decided once, by the multilingual router: keep only the vector
                routed.append(
                    record.model_copy(update={"embedding": np.asarray(vector, np.float32).tobytes()})
                )
            else:
                routed.append(_route_one(record, vector, prediction, binding, ctx, ctx.router))
    if ctx.multilingual is None or pending_other is None or not other:
        refined = refine_routed_records(
            routed, queries, ctx.llm_router, ctx.router, ctx.policy, ctx.thresholds, ctx.languages
        )
    else:
        refined = _route_other_languages(routed, queries, other, pending_other.result(), bindings, ctx)
    # A relabel by the LLM router re-decides from scratch: the identity verdict is applied again last.
    return [_reapply_identity(r, b) for r, b in zip(refined, bindings, strict=True)]


def _other_language_rows(records: Sequence[PipelineRecord], ctx: RouteContext) -> list[int]:
    """Rows the multilingual router classifies: tickets whose text is not English (as the rules read it)."""
    if ctx.multilingual is None:
        return []
    return [i for i, r in enumerate(records) if detect_language(r.ticket.text) != "en"]


def _route_other_languages(
    routed: list[PipelineRecord],
    queries: Sequence[str],
    other: list[int],
    other_vectors: npt.NDArray[np.float32],
    bindings: Sequence[Binding],
    ctx: RouteContext,
) -> list[PipelineRecord]:
    """``routed`` with the non-English rows re-decided by the multilingual router; each group gets the
    LLM router's second opinion on its own router's probabilities and vectors. The record keeps the
    main encoder's vector: retrieval searches the help-center index built with it."""
    assert ctx.multilingual is not None
    ml = ctx.multilingual.router
    # The embedding head alone, with its own calibration: the n-gram head learned English words, and
    # on other languages it only pulled tickets towards oos (translated dev rows: 59 right against 57,
    # in-scope rows read as oos 7 against 15; docs/routing.md).
    predictions = ml.predict(other_vectors)
    out = list(routed)
    for i, prediction in zip(other, predictions, strict=True):
        main_vector = np.frombuffer(routed[i].embedding, dtype=np.float32)
        out[i] = _route_one(routed[i], main_vector, prediction, bindings[i], ctx, ml)
    decided_here = set(other)
    english = [i for i in range(len(routed)) if i not in decided_here]
    refine = ctx.llm_router, ctx.policy, ctx.thresholds, ctx.languages
    for rows, router, vectors in (
        (english, ctx.router, None),
        (other, ml, list(other_vectors)),
    ):
        group = refine_routed_records(
            [out[i] for i in rows],
            [queries[i] for i in rows],
            refine[0],
            router,
            *refine[1:],
            vectors=vectors,
        )
        for i, record in zip(rows, group, strict=True):
            out[i] = record
    return out


def _reapply_identity(record: PipelineRecord, binding: Binding) -> PipelineRecord:
    if record.route is None or binding.reason is None:
        return record
    route = with_identity(record.route, binding.reason)
    return record if route == record.route else record.model_copy(update={"route": route})
