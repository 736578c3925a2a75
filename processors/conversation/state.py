"""What a conversation remembers between messages, and the pure operations on it.

A conversation's state is one value per conversation id (the Kafka key of every record of it), so it
lives in the partition that decides its messages. Inside it, every sender has a thread of their own:
a message that claims a conversation id but comes from someone else starts a new thread in the same
value and never sees the other sender's history.

Everything is bounded: the last ``MAX_ENTRIES`` messages (each cut to ``MAX_ENTRY_CHARS``), the last
``MAX_SENDERS`` senders, the last ``MAX_DECIDED`` ticket ids, and a thread untouched for longer than
the configured age starts over. Texts are stored redacted, as a model would see them.

State changes are :data:`StateOp` functions (old bytes -> new bytes) rather than whole values, so two
hops that both write a conversation (the per-stage topology) merge instead of overwriting each other.
Each op is idempotent per ticket id: a redelivered message does not add a turn twice.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ValidationError

from supportflow.processors.orders import last_order
from supportflow.processors.redact import redact, redact_customer_terms
from supportflow.schemas.models import Author, Decision, Outcome, PipelineRecord, Ticket, TranscriptEntry

log = logging.getLogger(__name__)

STATE_VERSION = 1
MAX_ENTRIES = 20
MAX_ENTRY_CHARS = 1000
MAX_SENDERS = 4
MAX_DECIDED = 64
#: Questions already decided (answered, drafted or handed over) whose vectors are kept to recognise the
#: same question asked again.
MAX_ANSWERED_VECTORS = 3

StateOp = Callable[[bytes | None], bytes]


class Entry(BaseModel):
    author: Author
    text: str
    at_ms: int
    ticket_id: str = ""


class SenderThread(BaseModel):
    """One sender's side of a conversation."""

    entries: list[Entry] = []
    customer_messages: int = 0
    #: Customer messages since the conversation last closed.
    unresolved: int = 0
    intent_in_focus: str = ""
    order_in_focus: str = ""
    last_decision: str = ""
    #: Intent of the last automatic answer: what a "that didn't help" reopens.
    last_auto_intent: str = ""
    answered_vectors: list[str] = []
    #: ticket id -> the turn it was (bounded): redeliveries keep their turn and add nothing.
    turns: dict[str, int] = {}
    decided: list[str] = []
    updated_at_ms: int = 0


class ConversationState(BaseModel):
    v: int = STATE_VERSION
    senders: dict[str, SenderThread] = {}


def sender_key(ticket: Ticket) -> str:
    """Who wrote the message, as the channel vouches for it: a short hash, never the address itself."""
    identity = (
        ticket.verified_customer_id
        or ticket.verified_email
        or ticket.verified_phone
        or ticket.sender.strip().lower()
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def load_state(raw: bytes | None) -> ConversationState:
    """The stored state; an unreadable value starts over (it is advisory: losing it costs context, not tickets)."""
    if not raw:
        return ConversationState()
    try:
        state = ConversationState.model_validate_json(raw)
    except ValidationError:
        log.warning("conversation state unreadable (%d bytes); starting the conversation over", len(raw))
        return ConversationState()
    return state if state.v == STATE_VERSION else ConversationState()


def dump_state(state: ConversationState) -> bytes:
    return state.model_dump_json(exclude_defaults=True).encode()


def sender_thread(raw: bytes | None, ticket: Ticket, max_age_ms: int) -> SenderThread:
    """The thread of ``ticket``'s sender in this conversation, empty when new or expired: when the
    message was written more than ``max_age_ms`` after the thread's newest message (message times,
    not processing times, so a replayed backlog keeps its threads as they were)."""
    found = load_state(raw).senders.get(sender_key(ticket))
    if found is None or expired(found, ticket, max_age_ms):
        return SenderThread()
    return found


def _newest_customer_ms(thread: SenderThread) -> int:
    return max((e.at_ms for e in thread.entries if e.author is Author.CUSTOMER), default=0)


def expired(thread: SenderThread, ticket: Ticket, max_age_ms: int) -> bool:
    if not max_age_ms or ticket.ticket_id in thread.turns:
        return False
    newest = _newest_customer_ms(thread)
    return bool(newest) and ticket.received_at_ms - newest > max_age_ms


def turn_of(raw: bytes | None, ticket: Ticket) -> int:
    """The turn ``ticket`` was given in its thread (1 when it is not there)."""
    thread = load_state(raw).senders.get(sender_key(ticket))
    return thread.turns.get(ticket.ticket_id, 1) if thread else 1


def quantize(vector: bytes) -> str:
    """A float32 unit vector as base64 int8 (a quarter of the bytes; cosine within ~0.01)."""
    values = np.frombuffer(vector, dtype=np.float32)
    return base64.b64encode(np.clip(np.round(values * 127), -127, 127).astype(np.int8).tobytes()).decode()


def max_similarity(vector: bytes, stored: list[str]) -> float:
    """Highest cosine between ``vector`` and the stored quantized vectors (0 when there are none)."""
    if not vector or not stored:
        return 0.0
    query = np.frombuffer(vector, dtype=np.float32)
    best = 0.0
    for item in stored:
        other = np.frombuffer(base64.b64decode(item), dtype=np.int8).astype(np.float32)
        if other.shape != query.shape:
            continue  # written with another encoder: not comparable
        norm = float(np.linalg.norm(query) * np.linalg.norm(other))
        if norm:
            best = max(best, float(query @ other) / norm)
    return best


def _transcript_entry(entry: Entry) -> TranscriptEntry:
    return TranscriptEntry(author=entry.author, text=entry.text, at_ms=entry.at_ms, ticket_id=entry.ticket_id)


def is_late(thread: SenderThread, ticket: Ticket) -> bool:
    """The message was written before the newest message already in the thread (it arrived out of order)."""
    return ticket.ticket_id not in thread.turns and ticket.received_at_ms < _newest_customer_ms(thread)


def transcript_before(thread: SenderThread, ticket: Ticket) -> list[TranscriptEntry]:
    """Earlier messages, oldest first, as they were when ``ticket`` arrived.

    A redelivered ticket sees what came before its own entry; a late one (written before messages
    already here) sees only the customer messages written before it and the answers to those.
    """
    entries = thread.entries
    own = next(
        (i for i, e in enumerate(entries) if e.ticket_id == ticket.ticket_id and e.author is Author.CUSTOMER),
        None,
    )
    if own is not None:
        entries = entries[:own]
    elif is_late(thread, ticket):
        before = {
            e.ticket_id for e in entries if e.author is Author.CUSTOMER and e.at_ms <= ticket.received_at_ms
        }
        entries = [e for e in entries if e.ticket_id in before]
    return [_transcript_entry(e) for e in entries]


def _update(
    raw: bytes | None, sender: str, now_ms: int, change: Callable[[SenderThread], SenderThread | None]
) -> bytes:
    state = load_state(raw)
    thread = state.senders.pop(sender, None) or SenderThread()
    thread = change(thread) or thread
    thread.entries = thread.entries[-MAX_ENTRIES:]
    thread.updated_at_ms = max(thread.updated_at_ms, now_ms)
    state.senders[sender] = thread  # last written sender last: the oldest is evicted first
    while len(state.senders) > MAX_SENDERS:
        state.senders.pop(next(iter(state.senders)))
    return dump_state(state)


def _bounded_ids(ids: dict[str, int]) -> dict[str, int]:
    return dict(list(ids.items())[-MAX_DECIDED:])


def note_customer_message(
    record: PipelineRecord, now_ms: int, *, text: str | None = None, counts_unresolved: bool = True
) -> StateOp:
    """The op that adds ``record``'s message (or ``text``), redacted, as the sender's next turn, once
    per ticket id. ``counts_unresolved=False``: a piece of a burst, which counts once, as the burst."""
    ticket = record.ticket
    redacted_text = redact(
        ticket.text if text is None else text, known=redact_customer_terms(record.customer)
    ).text
    sender = sender_key(ticket)
    route = record.route
    thread_view = record.thread

    def change(thread: SenderThread) -> SenderThread | None:
        if ticket.ticket_id in thread.turns:
            return None
        if thread_view is not None and thread_view.turn == 1 and thread.entries:
            thread = SenderThread()  # converse found the thread expired: this message starts it over
        thread.customer_messages += 1
        thread.turns = _bounded_ids({**thread.turns, ticket.ticket_id: thread.customer_messages})
        thread.unresolved += 1 if counts_unresolved else 0
        thread.entries.append(
            Entry(
                author=Author.CUSTOMER,
                text=redacted_text[:MAX_ENTRY_CHARS],
                at_ms=ticket.received_at_ms,
                ticket_id=ticket.ticket_id,
            )
        )
        if route is not None and route.intent not in ("", "oos", "unknown"):
            thread.intent_in_focus = route.intent
        named = last_order(ticket.text if text is None else text)
        thread.order_in_focus = (
            named or (thread_view.order_in_focus if thread_view else "") or thread.order_in_focus
        )
        return thread

    return lambda raw: _update(raw, sender, now_ms, change)


def note_decision(record: PipelineRecord, outcome: Outcome, now_ms: int) -> StateOp:
    """The op that records ``outcome`` (and the answer sent, if any) in the sender's thread, once."""
    ticket = record.ticket
    sender = sender_key(ticket)
    vector = quantize(record.embedding) if record.embedding else ""
    answer = (
        redact(outcome.answer, known=redact_customer_terms(record.customer)).text if outcome.answer else ""
    )

    def change(thread: SenderThread) -> None:
        if ticket.ticket_id in thread.decided:
            return
        thread.decided = [*thread.decided, ticket.ticket_id][-MAX_DECIDED:]
        if "conversation:burst" in outcome.reasons:
            return  # a piece of a burst: the burst's own decision is what counts
        thread.last_decision = outcome.decision.value
        if outcome.decision is Decision.CLOSED:
            thread.unresolved = 0
        elif vector:  # a question someone answered (or will): asked again, it is a repeat
            thread.answered_vectors = [*thread.answered_vectors, vector][-MAX_ANSWERED_VECTORS:]
        if outcome.decision is Decision.AUTO_RESOLVED:
            thread.last_auto_intent = outcome.intent
            thread.entries.append(
                Entry(
                    author=Author.ASSISTANT,
                    text=answer[:MAX_ENTRY_CHARS],
                    at_ms=outcome.decided_at_ms or now_ms,
                    ticket_id=ticket.ticket_id,
                )
            )

    return lambda raw: _update(raw, sender, now_ms, change)


@dataclass
class StateBook:
    """A batch's view of the conversations it touches, and the changes it made, in order."""

    values: dict[bytes, bytes | None] = field(default_factory=dict)
    ops: list[tuple[bytes, StateOp]] = field(default_factory=list)
    #: Chat/WhatsApp messages written this close together are decided as one (0: never).
    burst_window_ms: int = 0
    #: Set by the hop: (message position, epoch ms) of messages to hand back once their window closes.
    held: list[tuple[int, int]] = field(default_factory=list)
    #: Set by the hop: decided ticket id -> the earlier messages of its burst.
    pieces: dict[str, list[PipelineRecord]] = field(default_factory=dict)

    def get(self, key: bytes) -> bytes | None:
        return self.values.get(key)

    def apply(self, key: bytes, op: StateOp) -> None:
        self.values[key] = op(self.values.get(key))
        self.ops.append((key, op))
