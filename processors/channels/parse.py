"""Dispatch an InboundEvent to its channel's parser, with one error contract for all of them.

Callers can rely on: a list of Tickets, or a SchemaError / InvalidInputError whose message says what
was wrong. Any other exception from a parser (a bug, a library quirk on hostile input) is wrapped as
SchemaError so the pipeline dead-letters the message instead of crashing the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from supportflow.processors.channels.api import count_api_messages, parse_api
from supportflow.processors.channels.chat import count_chat_messages, parse_chat
from supportflow.processors.channels.common import TICKET_CONTENT_TYPE, check_size, with_message_identity
from supportflow.processors.channels.email import count_email_messages, parse_email
from supportflow.processors.channels.whatsapp import count_whatsapp_messages, parse_whatsapp
from supportflow.schemas.errors import InvalidInputError, SchemaError, SupportflowError
from supportflow.schemas.models import Channel, InboundEvent, Ticket
from supportflow.settings import Thresholds

DEFAULT_MAX_BODY_BYTES: int = Thresholds.model_fields["max_body_bytes"].default

Parser = Callable[[InboundEvent, int], list[Ticket]]
Counter = Callable[[InboundEvent], int]

_PARSERS: dict[Channel, tuple[Parser, Counter]] = {
    Channel.EMAIL: (parse_email, count_email_messages),
    Channel.CHAT: (parse_chat, count_chat_messages),
    Channel.WHATSAPP: (parse_whatsapp, count_whatsapp_messages),
    Channel.API: (parse_api, count_api_messages),
}


def handlers_for(event: InboundEvent) -> tuple[Parser, Counter]:
    """The (parser, counter) pair for an event, unwrapped: tests use it to prove parsers need no net."""
    # The generic ticket shape can name any channel; its content type, not the channel, says how to read it.
    if event.content_type == TICKET_CONTENT_TYPE:
        return _PARSERS[Channel.API]
    try:
        return _PARSERS[Channel(event.channel)]
    except (KeyError, ValueError) as exc:
        raise InvalidInputError(f"unknown channel {event.channel!r}") from exc


def parse_event(
    event: InboundEvent, now_ms: int, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> list[Ticket]:
    """The tickets an inbound event carries ([] when there is nothing to answer, e.g. receipts)."""
    try:
        check_size(event, max_body_bytes)
        parser, _ = handlers_for(event)
        return [with_message_identity(t) for t in parser(event, now_ms)]
    except SupportflowError:
        raise
    except Exception as exc:  # hostile input must dead-letter, never crash the worker
        raise SchemaError(
            f"{getattr(event.channel, 'value', event.channel)} payload could not be parsed: "
            f"{type(exc).__name__}: {str(exc)[:300]}"
        ) from exc


@dataclass(frozen=True)
class ExpectedFates:
    """What the pipeline must give a set of events: one outcome per distinct ticket id (a redelivered
    message is decided once) and one dead letter per event that does not parse (an API array with a
    bad item is one dead letter, not one per item)."""

    ticket_ids: frozenset[str]
    dead_letter_events: frozenset[str]  # event ids

    @property
    def total(self) -> int:
        return len(self.ticket_ids) + len(self.dead_letter_events)


def expected_fates(
    events: Iterable[InboundEvent], *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> ExpectedFates:
    ticket_ids: set[str] = set()
    bad_events: set[str] = set()
    for event in events:
        try:
            ticket_ids.update(t.ticket_id for t in parse_event(event, 0, max_body_bytes=max_body_bytes))
        except SupportflowError:
            bad_events.add(event.event_id)
    return ExpectedFates(frozenset(ticket_ids), frozenset(bad_events))


def count_fates(events: Iterable[InboundEvent], *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> int:
    """How many outcomes and dead letters the pipeline gives these events (:class:`ExpectedFates`)."""
    return expected_fates(events, max_body_bytes=max_body_bytes).total


def count_messages(event: InboundEvent) -> int:
    """How many customer messages the raw event holds; an undecodable event counts as one."""
    try:
        _, counter = handlers_for(event)
        return counter(event)
    except Exception:
        return 1
