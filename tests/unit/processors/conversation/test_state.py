"""Conversation state: bounded, idempotent per ticket, one thread per sender, expiry by message time."""

from __future__ import annotations

from supportflow.processors.conversation.state import (
    MAX_ENTRIES,
    MAX_SENDERS,
    load_state,
    note_customer_message,
    note_decision,
    sender_key,
    sender_thread,
    transcript_before,
)
from supportflow.schemas.models import Band, Channel, Decision, Outcome, PipelineRecord, Thread, Ticket, Tier

DAY_MS = 24 * 3600 * 1000


def _record(n: int, text: str = "where is my order?", sender: str = "a@example.com", at_ms: int | None = None,
            turn: int | None = None) -> PipelineRecord:  # fmt: skip
    ticket = Ticket(
        ticket_id=f"t{n}", conversation_id="c1", channel=Channel.EMAIL, sender=sender, text=text,
        received_at_ms=at_ms if at_ms is not None else n * 1000, ingested_at_ms=n * 1000, trace_id="x",
        verified_email=sender,
    )  # fmt: skip
    return PipelineRecord(ticket=ticket, thread=Thread(turn=turn) if turn else None)


def _outcome(record: PipelineRecord, decision: Decision, answer: str = "") -> Outcome:
    return Outcome(
        ticket_id=record.ticket.ticket_id, conversation_id="c1", channel=Channel.EMAIL, decision=decision,
        intent="track_order", confidence=0.9, band=Band.AUTO, tier=Tier.COMMODITY, trace_id="x", answer=answer,
        decided_at_ms=record.ticket.received_at_ms + 1,
    )  # fmt: skip


def test_state_same_ticket_twice_one_turn():
    raw = None
    for _ in range(2):
        raw = note_customer_message(_record(1), 1)(raw)
    (thread,) = load_state(raw).senders.values()
    assert thread.customer_messages == 1 and len(thread.entries) == 1


def test_state_long_thread_keeps_last_entries_and_counts_all():
    raw = None
    for n in range(1, 60):
        raw = note_customer_message(_record(n, f"message {n}"), n)(raw)
    (thread,) = load_state(raw).senders.values()
    assert thread.customer_messages == 59
    assert len(thread.entries) == MAX_ENTRIES and thread.entries[-1].text == "message 59"


def test_state_other_sender_gets_own_thread_and_oldest_sender_evicted():
    raw = None
    for n in range(MAX_SENDERS + 1):
        raw = note_customer_message(_record(n, sender=f"s{n}@example.com"), n)(raw)
    senders = load_state(raw).senders
    assert len(senders) == MAX_SENDERS
    assert sender_key(_record(0, sender="s0@example.com").ticket) not in senders  # the oldest went first
    stranger = _record(9, sender="other@example.com").ticket
    assert sender_thread(raw, stranger, 7 * DAY_MS).entries == []


def test_state_auto_answer_in_transcript_redacted():
    record = _record(1)
    raw = note_customer_message(record, 1)(None)
    answer = "Call us at +1 714 555 0120 about order NW-100297."
    raw = note_decision(record, _outcome(record, Decision.AUTO_RESOLVED, answer), 2)(raw)
    (thread,) = load_state(raw).senders.values()
    assert [e.author.value for e in thread.entries] == ["customer", "assistant"]
    assert "555 0120" not in thread.entries[1].text and "NW-100297" in thread.entries[1].text


def test_state_thread_older_than_max_age_by_message_time_starts_over():
    first = _record(1, at_ms=1000)
    raw = note_customer_message(first, 1)(None)
    later = _record(2, at_ms=1000 + 8 * DAY_MS)
    assert sender_thread(raw, later.ticket, 7 * DAY_MS).entries == []
    soon = _record(3, at_ms=1000 + DAY_MS)
    assert len(sender_thread(raw, soon.ticket, 7 * DAY_MS).entries) == 1


def test_state_expired_thread_restarted_by_first_turn_view():
    raw = note_customer_message(_record(1, at_ms=1000), 1)(None)
    restarted = note_customer_message(_record(2, at_ms=1000 + 8 * DAY_MS, turn=1), 2)(raw)
    (thread,) = load_state(restarted).senders.values()
    assert thread.customer_messages == 1 and [e.ticket_id for e in thread.entries] == ["t2"]


def test_state_redelivered_message_sees_only_what_came_before_it():
    raw = None
    for n in (1, 2, 3):
        raw = note_customer_message(_record(n), n)(raw)
    thread = sender_thread(raw, _record(2).ticket, 0)
    assert [e.ticket_id for e in transcript_before(thread, _record(2).ticket)] == ["t1"]


def test_state_unreadable_value_starts_over():
    assert load_state(b"\x00not json").senders == {}
