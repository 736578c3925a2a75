"""Threads through the real stages (``run_hop``), with the conversation state kept between batches the way
the Faust table keeps it: the book's operations applied to a dict after each batch."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from supportflow.connectors.crm import open_crm
from supportflow.processors.audit import audit_event
from supportflow.processors.conversation.state import StateBook, load_state
from supportflow.schemas import wire
from supportflow.schemas.models import Author, Channel, Decision, InboundEvent, Outcome
from supportflow.settings import Settings
from supportflow.streams.handlers import Emit, Message, Sink
from supportflow.streams.runtime import Runtime, SeenTickets
from supportflow.streams.topology import hops, run_hop

CHLOE = {"email": "chloe.nguyen@example.com", "name": "Chloe Nguyen"}


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    settings = Settings()
    yield Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)


class Pipeline:
    """Both fused hops, with a table (a dict) that outlives batches, like the worker's."""

    def __init__(self, runtime: Runtime, topology: str = "fused") -> None:
        self.runtime = runtime
        self.table: dict[bytes, bytes] = {}
        self.seen = SeenTickets().check_and_add
        self.topology = topology
        self.offset = 0

    def send(self, *tickets: dict[str, object]) -> list[Outcome]:
        """One batch of API tickets through every hop; the outcomes in order."""
        messages = [self._message(t) for t in tickets]
        outcomes: list[Outcome] = []
        for hop in hops(self.topology):  # type: ignore[arg-type]
            book = StateBook(dict(self.table))
            emits, _ = run_hop(hop, messages, self.runtime, self.seen, audit_event, book)
            for key, op in book.ops:
                self.table[key] = op(self.table.get(key))
            outcomes += [wire.decode(e.value, Outcome) for e in emits if e.sink == Sink.OUTCOME]
            messages = [
                Message("t", 0, i, e.key, e.value) for i, e in enumerate(emits) if e.sink == Sink.NEXT
            ]
        return outcomes

    def _message(self, ticket: dict[str, object]) -> Message:
        self.offset += 1
        body = {**CHLOE, **ticket}
        event = InboundEvent(event_id=str(body["ticket_id"]), channel=Channel.API, received_at_ms=0,
                             payload=json.dumps(body).encode())  # fmt: skip
        return Message("ingress", 0, self.offset, None, wire.encode(event))


def _ticket(n: int, text: str, conversation: str = "conv-1", **extra: object) -> dict[str, object]:
    return {"ticket_id": f"{conversation}-{n}", "conversation_id": conversation, "text": text, **extra}


def test_conversation_second_message_not_helped_escalates_with_transcript(runtime):
    p = Pipeline(runtime)
    (first,) = p.send(_ticket(1, "Where is my order NW-100297? It has not shipped yet."))
    (second,) = p.send(_ticket(2, "That didn't help at all, this is the second time I'm asking."))
    assert first.turn == 1 and first.transcript == []
    assert second.decision is Decision.ESCALATED
    assert "conversation:not_helped" in second.reasons
    assert second.turn == 2
    assert second.transcript[0].author is Author.CUSTOMER
    assert "NW-100297" in second.transcript[0].text
    assert second.handoff_message  # the customer is told a person takes over


def test_conversation_thanks_after_answer_closes_without_agent(runtime):
    p = Pipeline(runtime)
    p.send(_ticket(1, "How long does standard delivery take?", "conv-thanks"))
    (closing,) = p.send(_ticket(2, "Thanks, that worked!", "conv-thanks"))
    assert closing.decision is Decision.CLOSED
    assert closing.answer == "" and closing.escalation_context == ""
    assert "conversation:closing" in closing.reasons and closing.turn == 2


def test_conversation_closing_with_legal_threat_escalates(runtime):
    p = Pipeline(runtime)
    p.send(_ticket(1, "How long does standard delivery take?", "conv-legal"))
    (closing,) = p.send(_ticket(2, "Thanks. But if it's late again I will sue you.", "conv-legal"))
    assert closing.decision is Decision.ESCALATED
    assert "rule:legal" in closing.reasons


def test_conversation_third_unresolved_message_escalates(runtime):
    p = Pipeline(runtime)
    p.send(_ticket(1, "How long does standard delivery take?", "conv-3"))
    p.send(_ticket(2, "What payment methods do you accept?", "conv-3"))
    (third,) = p.send(_ticket(3, "Can I change the shipping address of order NW-100297?", "conv-3"))
    assert third.decision is Decision.ESCALATED
    assert "conversation:unresolved" in third.reasons and third.turn == 3
    assert len([e for e in third.transcript if e.author is Author.CUSTOMER]) == 2


def test_conversation_other_sender_claiming_thread_starts_fresh(runtime):
    p = Pipeline(runtime)
    p.send(_ticket(1, "Where is my order NW-100297?", "conv-claimed"))
    (impostor,) = p.send(_ticket(2, "What did I order last time?", "conv-claimed",
                                 email="maya.thompson@example.com", name="Maya Thompson"))  # fmt: skip
    assert impostor.turn == 1 and impostor.transcript == []
    assert not any(r.startswith("conversation:") for r in impostor.reasons)


def test_conversation_same_batch_messages_see_each_other_in_order(runtime):
    p = Pipeline(runtime)
    first, second = p.send(
        _ticket(1, "How long does standard delivery take?", "conv-batch"),
        _ticket(2, "Thanks, that worked!", "conv-batch"),
    )
    assert (first.turn, second.turn) == (1, 2)
    assert second.decision is Decision.CLOSED


def test_conversation_redelivered_message_keeps_turn_and_adds_nothing(runtime):
    p = Pipeline(runtime)
    p.send(_ticket(1, "How long does standard delivery take?", "conv-redo"))
    before = dict(p.table)
    p.seen = SeenTickets().check_and_add  # a restarted worker: its memory of decided tickets is gone
    (again,) = p.send(_ticket(1, "How long does standard delivery take?", "conv-redo"))
    assert again.turn == 1 and again.transcript == []
    state = load_state(p.table[b"conv-redo"])
    (thread,) = state.senders.values()
    assert thread.customer_messages == 1 and len(thread.entries) == len(
        load_state(before[b"conv-redo"]).senders.popitem()[1].entries
    )


def test_conversation_state_is_redacted(runtime):
    p = Pipeline(runtime)
    p.send(
        _ticket(1, "My card 4111 1111 1111 1111 was charged twice, call me at +1 714 555 0120", "conv-pii")
    )
    raw = p.table[b"conv-pii"].decode()
    assert "4111" not in raw and "555 0120" not in raw and "chloe" not in raw.lower()


def test_conversation_per_stage_topology_same_turns(runtime):
    p = Pipeline(runtime, topology="per-stage")
    p.send(_ticket(1, "Where is my order NW-100297?", "conv-ps"))
    (second,) = p.send(_ticket(2, "That didn't help.", "conv-ps"))
    assert second.turn == 2 and "conversation:not_helped" in second.reasons


def _chat(session: str, n: int, text: str, sent_at_ms: int) -> Message:
    body = {"type": "message", "session_id": session, "message_id": f"{session}-{n}", "sent_at": sent_at_ms,
            "customer": CHLOE, "text": text}  # fmt: skip
    event = InboundEvent(event_id=f"{session}-{n}", channel=Channel.CHAT, received_at_ms=int(time.time() * 1000),
                         payload=json.dumps(body).encode())  # fmt: skip
    return Message("ingress", 0, n, None, wire.encode(event))


def _decide_hop_with_window(
    runtime: Runtime, raw: list[Message], window_ms: int
) -> tuple[list[Emit], StateBook]:
    """normalize+route, then the deciding hop with a burst window; the deciding hop's book is returned."""
    first, decide = hops("fused")
    seen = SeenTickets().check_and_add
    routed, _ = run_hop(first, raw, runtime, seen)
    messages = [Message("routed", 0, i, e.key, e.value) for i, e in enumerate(routed) if e.sink == Sink.NEXT]
    book = StateBook(burst_window_ms=window_ms)
    emits, _ = run_hop(decide, messages, runtime, seen, audit_event, book)
    return emits, book


def test_conversation_burst_written_seconds_apart_decided_once_as_last_message(runtime):
    long_ago = 1_700_000_000_000  # written long before: the window is over, nothing is held
    raw = [_chat("s-burst", 1, "hi", long_ago), _chat("s-burst", 2, "I need to track my order NW-100297", long_ago + 1500),
           _chat("s-burst", 3, "where is it right now?", long_ago + 2500)]  # fmt: skip
    emits, book = _decide_hop_with_window(runtime, raw, 3000)
    outcomes = [wire.decode(e.value, Outcome) for e in emits if e.sink == Sink.OUTCOME]
    assert book.held == []
    folded = [o for o in outcomes if "conversation:burst" in o.reasons]
    (decided,) = [o for o in outcomes if "conversation:burst" not in o.reasons]
    assert [o.decision for o in folded] == [Decision.CLOSED, Decision.CLOSED]
    assert all(f"conversation:burst_into:{decided.ticket_id}" in o.reasons for o in folded)
    assert decided.decision is not Decision.CLOSED and decided.turn == 3
    assert decided.intent == "track_order"  # routed on the whole burst, not on "where is it right now?"
    assert [e.text for e in decided.transcript] == ["hi", "I need to track my order NW-100297"]


def test_conversation_burst_window_open_messages_held_with_due_time(runtime):
    now = int(time.time() * 1000)
    raw = [_chat("s-open", 1, "hi", now - 500), _chat("s-open", 2, "my order NW-100297 is late", now)]
    emits, book = _decide_hop_with_window(runtime, raw, 3000)
    assert not [e for e in emits if e.sink == Sink.OUTCOME]  # nothing decided yet
    assert [position for position, _ in book.held] == [0, 1]
    assert all(now + 2000 <= due <= now + 3500 for _, due in book.held)


def test_conversation_burst_window_zero_every_message_decided_alone(runtime):
    long_ago = 1_700_000_000_000
    raw = [
        _chat("s-zero", 1, "hi", long_ago),
        _chat("s-zero", 2, "my order NW-100297 is late", long_ago + 500),
    ]
    emits, _book = _decide_hop_with_window(runtime, raw, 0)
    outcomes = [wire.decode(e.value, Outcome) for e in emits if e.sink == Sink.OUTCOME]
    assert len(outcomes) == 2 and not any("conversation:burst" in o.reasons for o in outcomes)


def test_conversation_burst_released_first_piece_waits_for_later_piece_window(runtime):
    now = int(time.time() * 1000)
    # the first piece's window is over, the second's is not: neither may be decided yet
    raw = [_chat("s-late", 1, "hi", now - 5000), _chat("s-late", 2, "my order NW-100297 is late", now - 1000)]
    emits, book = _decide_hop_with_window(runtime, raw, 3000)
    assert not [e for e in emits if e.sink == Sink.OUTCOME]
    assert [position for position, _ in book.held] == [0, 1]
    assert all(due == now - 1000 + 3000 for _, due in book.held)
