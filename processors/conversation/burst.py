"""Bursts: chat and WhatsApp messages of one conversation written seconds apart are decided once, together.

People type a question in pieces ("hi" / "my order" / "NW-100231 hasn't arrived"). Decided one by one,
the first pieces get drafts nobody needs and the last lacks what the first said. So a chat or WhatsApp
message is held until ``window`` has passed since it was written; messages of the same conversation
that arrive meanwhile join it, and the burst is decided as one message: the last one carries the
decision (its text preceded by the earlier pieces), the earlier ones are closed with the reason
``conversation:burst`` and name the ticket they were folded into.

"Written" is the channel's own timestamp, never later than when supportflow received the message
(a sender's clock in the future cannot hold a message longer). A backlog costs no extra wait: a
message read after its window has passed is never held. Email and API messages are whole by nature
and never held or folded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from supportflow.processors.conversation.state import sender_key
from supportflow.schemas.models import (
    Band,
    Channel,
    Decision,
    Outcome,
    PipelineRecord,
    Ticket,
    Tier,
)

BURST = "conversation:burst"
BURST_CHANNELS = frozenset({Channel.CHAT, Channel.WHATSAPP})


def written_ms(ticket: Ticket) -> int:
    received, ingested = ticket.received_at_ms, ticket.ingested_at_ms
    if received > 0 and ingested > 0:
        return min(received, ingested)
    return received if received > 0 else ingested


def _thread(record: PipelineRecord) -> tuple[str, str]:
    return record.ticket.conversation_id, sender_key(record.ticket)


def held(records: Sequence[PipelineRecord], now_ms: int, window_ms: int) -> dict[int, int]:
    """Indices of the records to hold, with when they may be decided (epoch ms).

    A thread is held while the window of any of its chat/WhatsApp messages in the batch is open: all
    of its messages wait for the latest, so a burst is never decided in parts, nor out of order."""
    if window_ms <= 0:
        return {}
    latest: dict[tuple[str, str], int] = {}
    for record in records:
        if record.ticket.channel in BURST_CHANNELS:
            key = _thread(record)
            latest[key] = max(latest.get(key, 0), written_ms(record.ticket) + window_ms)
    out: dict[int, int] = {}
    for i, record in enumerate(records):
        due = latest.get(_thread(record), 0)
        if now_ms < due:
            out[i] = due
    return out


@dataclass(frozen=True)
class Fold:
    """The records a batch decides (a burst's last message carrying the whole burst's text) and the
    earlier messages folded into them."""

    records: list[PipelineRecord]
    folded: list[tuple[PipelineRecord, str]]  # (earlier message, ticket id it was folded into)
    pieces: dict[str, list[PipelineRecord]]  # decided ticket id -> the earlier messages of its burst


def fold(records: Sequence[PipelineRecord], window_ms: int) -> Fold:
    """Consecutive chat/WhatsApp messages of one thread, each written within ``window_ms`` of the one
    before, become one: the last, its text preceded by the others'."""
    groups: list[list[PipelineRecord]] = []
    last_of: dict[tuple[str, str], list[PipelineRecord]] = {}
    for record in records:
        key = _thread(record)
        group = last_of.get(key)
        joins = (
            window_ms > 0
            and group is not None
            and record.ticket.channel in BURST_CHANNELS
            and group[-1].ticket.channel in BURST_CHANNELS
            and 0 <= written_ms(record.ticket) - written_ms(group[-1].ticket) <= window_ms
        )
        if joins and group is not None:
            group.append(record)
            continue
        group = [record]
        groups.append(group)
        last_of[key] = group
    decided: list[PipelineRecord] = []
    folded: list[tuple[PipelineRecord, str]] = []
    pieces: dict[str, list[PipelineRecord]] = {}
    for group in groups:
        last = group[-1]
        if len(group) == 1:
            decided.append(last)
            continue
        text = "\n".join(r.ticket.text for r in group)
        decided.append(
            last.model_copy(update={"ticket": last.ticket.model_copy(update={"text": text}), "route": None})
        )
        folded += [(r, last.ticket.ticket_id) for r in group[:-1]]
        pieces[last.ticket.ticket_id] = group[:-1]
    return Fold(decided, folded, pieces)


def folded_outcome(
    record: PipelineRecord, into: str, turn: int, now_ms: int, versions: Mapping[str, str] | None = None
) -> Outcome:
    """The outcome of a message decided as part of a later one: closed, naming that one; ``versions``
    are the deciding worker's router and policy versions."""
    ticket, route = record.ticket, record.route
    return Outcome(
        ticket_id=ticket.ticket_id, conversation_id=ticket.conversation_id,
        customer_id=record.customer.customer_id if record.customer else None, channel=ticket.channel,
        decision=Decision.CLOSED, reasons=[BURST, f"{BURST}_into:{into}"],
        intent=route.intent if route else "unknown", confidence=route.confidence if route else 0.0,
        band=route.band if route else Band.SUGGEST, tier=route.tier if route else Tier.COMMODITY,
        trace_id=ticket.trace_id, timings_ms=dict(record.timings_ms), decided_at_ms=now_ms,
        latency_ms=float(max(0, now_ms - ticket.ingested_at_ms)), language=route.language if route else "en",
        external_id=ticket.external_id, turn=turn, **(versions or {}),
    )  # fmt: skip
