"""converse: what a thread's findings are for a message, and what later stages answer from."""

from __future__ import annotations

import numpy as np

from supportflow.processors.conversation.converse import (
    CONTEXT,
    LATE,
    NOT_HELPED,
    REPEATED,
    ConverseContext,
    attach_thread,
    query_text,
    transcript_prompt,
)
from supportflow.processors.conversation.state import (
    SenderThread,
    load_state,
    note_customer_message,
    note_decision,
    quantize,
)
from supportflow.schemas.models import (
    Author,
    Band,
    Channel,
    Decision,
    Outcome,
    PipelineRecord,
    RouteDecision,
    Thread,
    Ticket,
    Tier,
    TranscriptEntry,
)

CTX = ConverseContext()


def _vector(seed: int) -> bytes:
    v = np.random.default_rng(seed).normal(size=384).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32).tobytes()


def _record(n: int, text: str, at_ms: int, vector: bytes = b"") -> PipelineRecord:
    ticket = Ticket(ticket_id=f"t{n}", conversation_id="c", channel=Channel.EMAIL, sender="a@example.com",
                    text=text, received_at_ms=at_ms, ingested_at_ms=at_ms, trace_id="x")  # fmt: skip
    route = RouteDecision(intent="track_order", confidence=0.95, band=Band.AUTO, tier=Tier.COMMODITY)
    return PipelineRecord(ticket=ticket, route=route, embedding=vector)


def _answered(first: PipelineRecord) -> SenderThread:
    raw = note_customer_message(first, 1)(None)
    outcome = Outcome(ticket_id=first.ticket.ticket_id, conversation_id="c", channel=Channel.EMAIL,
                      decision=Decision.AUTO_RESOLVED, intent="track_order", confidence=0.95, band=Band.AUTO,
                      tier=Tier.COMMODITY, trace_id="x", answer="It ships tomorrow.", decided_at_ms=2000)  # fmt: skip
    raw = note_decision(first, outcome, 2)(raw)
    (thread,) = load_state(raw).senders.values()
    return thread


def test_converse_same_question_again_is_repeated_and_escalates():
    thread = _answered(_record(1, "Where is my order NW-100201?", 1000, _vector(1)))
    again = attach_thread(_record(2, "where's my order NW-100201 now", 5000, _vector(1)), thread, CTX)
    assert again.thread is not None and again.thread.signals == [REPEATED]
    assert again.route is not None and again.route.band is Band.ESCALATE


def test_converse_similar_question_about_another_order_is_not_a_repeat():
    thread = _answered(_record(1, "Where is my order NW-100201?", 1000, _vector(1)))
    other = attach_thread(_record(2, "Where is my order NW-100299?", 5000, _vector(1)), thread, CTX)
    assert other.thread is not None and REPEATED not in other.thread.signals


def test_converse_not_helped_escalates_even_when_similar():
    thread = _answered(_record(1, "Where is my order NW-100201?", 1000, _vector(1)))
    reply = attach_thread(_record(2, "That didn't help at all.", 5000, _vector(2)), thread, CTX)
    assert reply.thread is not None and reply.thread.signals == [NOT_HELPED]


def test_converse_late_message_has_no_loop_findings_and_earlier_transcript_only():
    thread = _answered(_record(1, "Where is my order NW-100201?", 10_000, _vector(1)))
    late = attach_thread(_record(2, "That didn't help", 5_000, _vector(2)), thread, CTX)
    assert late.thread is not None and late.thread.signals == [LATE]
    assert late.thread.transcript == [] and late.route is not None and late.route.band is Band.AUTO


def test_query_text_names_order_in_focus_when_follow_up_names_none():
    record = _record(2, "and the jacket too?", 5000).model_copy(update={
        "thread": Thread(turn=2, order_in_focus="NW-100201",
                         transcript=[TranscriptEntry(author=Author.CUSTOMER, text="Where is NW-100201?", at_ms=1)]),
    })  # fmt: skip
    assert query_text(record).endswith("(NW-100201)")
    with_context = record.model_copy(update={"route": record.route.model_copy(update={"reasons": [CONTEXT]})})
    assert query_text(with_context).startswith("Where is NW-100201?\nand the jacket too?")


def test_transcript_prompt_puts_earlier_messages_before_the_new_one():
    record = _record(2, "still nothing", 5000).model_copy(update={
        "thread": Thread(turn=2, transcript=[
            TranscriptEntry(author=Author.CUSTOMER, text="Where is [EMAIL]'s order?", at_ms=1),
            TranscriptEntry(author=Author.ASSISTANT, text="It ships tomorrow.", at_ms=2),
        ]),
    })  # fmt: skip
    prompt = transcript_prompt(record, "still nothing")
    assert (
        prompt.index("Customer: Where is")
        < prompt.index("Assistant: It ships")
        < prompt.index("still nothing")
    )


def test_quantize_keeps_cosine_close():
    a, b = _vector(1), _vector(1)
    from supportflow.processors.conversation.state import max_similarity

    assert max_similarity(a, [quantize(b)]) > 0.99
    assert max_similarity(a, [quantize(_vector(3))]) < 0.3
