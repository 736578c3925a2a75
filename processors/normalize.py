"""Stage 1 — normalize: raw inbound event bytes -> zero or more tickets (one per customer message)."""

from __future__ import annotations

from supportflow.processors.channels import parse_event
from supportflow.schemas import wire
from supportflow.schemas.models import InboundEvent, PipelineRecord


def normalize(raw: bytes, max_body_bytes: int) -> list[PipelineRecord]:
    """Decode an ingress record and parse it with its channel's parser.

    Raises :class:`~supportflow.schemas.errors.PermanentError` subclasses for anything that cannot become
    a ticket; the agent dead-letters those with the original bytes.
    """
    event = wire.decode(raw, InboundEvent)
    # The ticket's ingested_at_ms is the event's arrival at ingress: where decision latency starts.
    tickets = parse_event(event, event.received_at_ms, max_body_bytes=max_body_bytes)
    return [PipelineRecord(ticket=t) for t in tickets]
