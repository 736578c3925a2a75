"""Stage — converse: put a ticket's conversation in view before it is answered.

Runs after route, on the partition that owns the conversation's state (``streams/app.py``). For each
ticket it reads the sender's thread (:mod:`.state`) and attaches a :class:`Thread`: the turn, the
redacted transcript, the order and intent in focus, and what the message says about the conversation
so far. Those findings change the route:

- ``conversation:not_helped``: the customer says an earlier answer did not help -> escalate;
- ``conversation:repeated``: the same question again, after it was answered or handed over -> escalate;
- ``conversation:unresolved``: the ``unresolved_limit``-th customer message without a closing -> escalate;
- ``conversation:closing``: thanks / that worked -> the gate closes the conversation (no agent, no
  answer) unless a hard rule escalated it;
- ``conversation:context``: a follow-up that only makes sense with the earlier message ("and the jacket
  from the same order?") is routed again with that message in front of it, keeping the better route.

The first message of a thread, and a late message (written before others already here), is decided on
its own text; a late one still gets the transcript of what came before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from supportflow.processors.conversation.signals import FollowUp, classify_follow_up, mentions_repeat
from supportflow.processors.conversation.state import (
    SenderThread,
    is_late,
    max_similarity,
    transcript_before,
)
from supportflow.processors.orders import ORDER_ID, last_order
from supportflow.schemas.models import Author, Band, PipelineRecord, RouteDecision, Thread

NOT_HELPED = "conversation:not_helped"
REPEATED = "conversation:repeated"
UNRESOLVED = "conversation:unresolved"
CLOSING = "conversation:closing"
CONTEXT = "conversation:context"
LATE = "conversation:late"
#: Findings that hand the conversation to a person.
ESCALATING = frozenset({NOT_HELPED, REPEATED, UNRESOLVED})

_NO_INTENT = frozenset({"", "oos", "unknown"})


@dataclass(frozen=True)
class ConverseContext:
    #: Cosine at or above which a question counts as one already answered automatically.
    repeat_similarity: float = 0.80
    #: The customer message (counting since the last closing) at which an unresolved thread escalates.
    unresolved_limit: int = 3
    #: Below this confidence a follow-up is routed again with the earlier message in view.
    context_confidence: float = 0.7
    #: The route stage, for follow-ups routed again with context (None: never re-route).
    reroute: Callable[[list[PipelineRecord]], list[PipelineRecord]] | None = None


def findings(record: PipelineRecord, thread: SenderThread, turn: int, ctx: ConverseContext) -> list[str]:
    """What the message says about the conversation so far (empty for a first message)."""
    if turn <= 1 or not thread.entries:
        return []
    if is_late(thread, record.ticket):
        return [LATE]
    # An earlier message of the thread is enough: a customer replies to an answer they received, and
    # in the per-stage topology the decision may not be in the state yet when the reply gets here.
    follow_up = classify_follow_up(record.ticket.text)
    if follow_up is FollowUp.NOT_HELPED:
        return [NOT_HELPED]
    if mentions_repeat(record.ticket.text) or (
        _same_order(record.ticket.text, thread)
        and max_similarity(record.embedding, thread.answered_vectors) >= ctx.repeat_similarity
    ):
        return [REPEATED]
    if follow_up is FollowUp.CLOSING:
        return [CLOSING]
    if thread.unresolved + 1 >= ctx.unresolved_limit:
        return [UNRESOLVED]
    return []


def _same_order(text: str, thread: SenderThread) -> bool:
    """False when the message names an order other than the one in focus: "where is NW-2?" after
    "where is NW-1?" is a new question, however alike the two read."""
    named = {m.upper() for m in ORDER_ID.findall(text)}
    return not named or not thread.order_in_focus or thread.order_in_focus in named


def _needs_context(record: PipelineRecord, thread: SenderThread, ctx: ConverseContext) -> bool:
    route = record.route
    if route is None or not thread.intent_in_focus or route.band is Band.ESCALATE:
        return False
    return route.intent in _NO_INTENT or route.confidence < ctx.context_confidence


def _previous_customer_text(thread: SenderThread) -> str:
    return next((e.text for e in reversed(thread.entries) if e.author is Author.CUSTOMER), "")


def _with_signals(route: RouteDecision, signals: Sequence[str]) -> RouteDecision:
    if not signals:
        return route
    band = Band.ESCALATE if ESCALATING.intersection(signals) else route.band
    return route.model_copy(update={"band": band, "reasons": [*route.reasons, *signals]})


def attach_thread(record: PipelineRecord, thread: SenderThread, ctx: ConverseContext) -> PipelineRecord:
    """``record`` with its :class:`Thread`, and its route changed by what the thread says."""
    ticket = record.ticket
    turn = thread.turns.get(ticket.ticket_id, thread.customer_messages + 1)
    signals = findings(record, thread, turn, ctx)
    view = Thread(
        turn=turn,
        transcript=transcript_before(thread, ticket),
        intent_in_focus=thread.intent_in_focus,
        order_in_focus=last_order(ticket.text) or thread.order_in_focus,
        signals=signals,
    )
    route = record.route
    update: dict[str, object] = {"thread": view}
    if route is not None:
        update["route"] = _with_signals(route, signals)
    return record.model_copy(update=update)


def with_context(
    records: list[PipelineRecord], threads: Sequence[SenderThread], ctx: ConverseContext
) -> list[PipelineRecord]:
    """Follow-ups that need the earlier message routed again with it; a route is replaced only if better."""
    if ctx.reroute is None:
        return records
    picked = [
        i for i, (r, t) in enumerate(zip(records, threads, strict=True))
        if r.thread is not None and r.thread.turn > 1 and not r.thread.signals and _needs_context(r, t, ctx)
    ]  # fmt: skip
    if not picked:
        return records
    combined = [
        records[i].model_copy(update={"ticket": records[i].ticket.model_copy(update={
            "text": f"{_previous_customer_text(threads[i])}\n{records[i].ticket.text}"})})
        for i in picked
    ]  # fmt: skip
    out = list(records)
    for i, rerouted in zip(picked, ctx.reroute(combined), strict=True):
        old, new = records[i].route, rerouted.route
        if old is None or new is None or new.intent in _NO_INTENT:
            continue
        if old.intent not in _NO_INTENT and new.confidence <= old.confidence:
            continue  # the message made sense alone, and no more so with the earlier one
        out[i] = records[i].model_copy(update={
            "route": new.model_copy(update={"reasons": [*new.reasons, CONTEXT]}),
            "embedding": rerouted.embedding, "customer": records[i].customer or rerouted.customer,
        })  # fmt: skip
    return out


def converse(
    records: Sequence[PipelineRecord], threads: Sequence[SenderThread], ctx: ConverseContext
) -> list[PipelineRecord]:
    """Every record with its thread in view (``threads[i]`` is the state of ``records[i]``'s sender)."""
    attached = [attach_thread(r, t, ctx) for r, t in zip(records, threads, strict=True)]
    return with_context(attached, threads, ctx)


def reopened(record: PipelineRecord, thread: SenderThread) -> str:
    """The intent of the automatic answer ``record`` comes back on ("" when it reopens none)."""
    signals = record.thread.signals if record.thread else []
    last_auto = thread.last_decision == "auto_resolved"
    return thread.last_auto_intent if last_auto and {NOT_HELPED, REPEATED}.intersection(signals) else ""


def query_text(record: PipelineRecord) -> str:
    """The text later stages answer from: the message, after the earlier one when it was routed with
    it, and naming the order in focus when the message names none."""
    route, thread = record.route, record.thread
    text = record.ticket.text
    if route is None or thread is None or thread.turn <= 1:
        return text
    if CONTEXT in route.reasons:
        previous = next((e.text for e in reversed(thread.transcript) if e.author is Author.CUSTOMER), "")
        text = f"{previous}\n{text}" if previous else text
    if thread.order_in_focus and not ORDER_ID.search(text):
        text = f"{text}\n({thread.order_in_focus})"
    return text


def transcript_prompt(record: PipelineRecord, text: str) -> str:
    """``text`` (the redacted message) after the redacted transcript, for a model to answer in context."""
    thread = record.thread
    if thread is None or not thread.transcript:
        return text
    lines = [
        f"{'Customer' if e.author is Author.CUSTOMER else 'Assistant'}: {e.text}" for e in thread.transcript
    ]
    return "Earlier in this conversation:\n" + "\n".join(lines) + "\n\nThe customer now writes:\n" + text
