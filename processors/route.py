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
from supportflow.schemas.models import PipelineRecord, Ticket
from supportflow.settings import Thresholds

# Tickets per embedding chunk: small enough that the first chunk's vectors come back quickly, large
# enough that each chunk still keeps both encoder threads busy (8 one-text int8 runs).
ROUTE_CHUNK = 8


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
) -> PipelineRecord:
    t = record.ticket
    customer = binding.customer
    decision = decide(
        t, prediction, customer, ctx.policy, ctx.thresholds, ctx.router.auto_threshold,
        covered_languages=ctx.languages, model_version=ctx.router.version,
    )  # fmt: skip
    decision = with_identity(decision, binding.reason)
    update = {"route": decision, "customer": customer, "embedding": np.asarray(vector, np.float32).tobytes()}
    return record.model_copy(update=update)


def route_batch(records: Sequence[PipelineRecord], ctx: RouteContext) -> list[PipelineRecord]:
    if not records:
        return []
    queries = [ticket_query(r.ticket) for r in records]
    # Every chunk's embedding starts now; while the encoder's threads work through them, this thread
    # classifies and applies the policy to the chunks already embedded, so the encoder does not sit
    # idle during the Python half of routing (docs/performance.md).
    chunks = range(0, len(records), ROUTE_CHUNK)
    pending = [ctx.embedder.submit(queries[i : i + ROUTE_CHUNK]) for i in chunks]
    # CRM lookups need no vectors: done while the first chunk embeds, not after.
    bindings = [_customer(r, ctx) for r in records]
    text_log_p = ctx.router.text_log_proba(queries)  # the n-gram head needs no vectors either
    routed = []
    for start, vectors_pending in zip(chunks, pending, strict=True):
        chunk_queries = queries[start : start + ROUTE_CHUNK]
        chunk_text_log_p = None if text_log_p is None else text_log_p[start : start + ROUTE_CHUNK]
        vectors = vectors_pending.result()
        predictions = ctx.router.predict(vectors, chunk_queries, chunk_text_log_p)
        for record, vector, prediction, binding in zip(
            records[start : start + ROUTE_CHUNK],
            vectors,
            predictions,
            bindings[start : start + ROUTE_CHUNK],
            strict=True,
        ):
            routed.append(_route_one(record, vector, prediction, binding, ctx))
    refined = refine_routed_records(
        routed, queries, ctx.llm_router, ctx.router, ctx.policy, ctx.thresholds, ctx.languages
    )
    # A relabel by the LLM router re-decides from scratch: the identity verdict is applied again last.
    return [_reapply_identity(r, b) for r, b in zip(refined, bindings, strict=True)]


def _reapply_identity(record: PipelineRecord, binding: Binding) -> PipelineRecord:
    if record.route is None or binding.reason is None:
        return record
    route = with_identity(record.route, binding.reason)
    return record if route == record.route else record.model_copy(update={"route": route})
