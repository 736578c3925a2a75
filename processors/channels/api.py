"""Generic ticket JSON (REST API submissions, ``.jsonl`` bulk imports) -> Tickets.

A payload is one ticket object or a JSON array of them. ``channel`` names where the customer wrote
from (default ``api``) so an integration can forward, say, a phone transcript as channel ``api`` or a
helpdesk email as channel ``email`` without rebuilding the raw email.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supportflow.processors.channels.common import (
    channel_from_name,
    content_hash,
    load_json,
    new_trace_id,
    parse_timestamp_ms,
    require_text,
    shape_error,
    ticket_id_for,
)
from supportflow.processors.contacts import email_address, normalize_email, normalize_phone
from supportflow.schemas.errors import InvalidInputError, SchemaError
from supportflow.schemas.models import Attachment, Channel, InboundEvent, Ticket

MAX_TICKETS_PER_EVENT = 500


class ApiAttachment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    filename: str
    content_type: str = "application/octet-stream"
    size_bytes: int = Field(0, ge=0)


class ApiTicket(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ticket_id: str | None = Field(None, min_length=1)
    id: str | int | None = None
    channel: str | None = None
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    subject: str = ""
    text: str | None = None
    conversation_id: str | None = None
    created_at: str | int | float | None = None
    attachments: list[ApiAttachment] = []
    metadata: dict[str, str] = {}


def _items(event: InboundEvent) -> list[Any]:
    data = load_json(event.payload, "api ticket")
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InvalidInputError("api payload is an empty list: no tickets")
    if len(items) > MAX_TICKETS_PER_EVENT:
        raise InvalidInputError(f"api payload holds {len(items)} tickets, over {MAX_TICKETS_PER_EVENT}")
    return items


def parse_api(event: InboundEvent, now_ms: int) -> list[Ticket]:
    return [_ticket(item, n, event, now_ms) for n, item in enumerate(_items(event))]


def _ticket(item: Any, index: int, event: InboundEvent, now_ms: int) -> Ticket:
    what = "api ticket" if index == 0 else f"api ticket #{index}"
    if not isinstance(item, dict):
        raise SchemaError(f"{what} must be a JSON object, got {type(item).__name__}")
    try:
        body = ApiTicket.model_validate(item)
    except ValidationError as exc:
        raise shape_error(what, exc) from exc

    channel = event.channel
    if body.channel is not None:
        named = channel_from_name(body.channel)
        if named is None:
            allowed = ", ".join(c.value for c in Channel)
            raise InvalidInputError(
                f"{what} names unknown channel {body.channel!r} (expected one of {allowed})"
            )
        channel = named

    source_id = body.ticket_id or (str(body.id) if body.id is not None else None)
    id_source = "ticket_id"
    if not source_id:
        # No id from the client: the canonical content is the identity, so a resubmission dedupes.
        source_id = "sha1:" + content_hash(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
        id_source = "content-hash"

    email = email_address(body.email)  # as written (ASCII lowercased): the sender, not yet an identity
    phone = normalize_phone(body.phone)
    if body.email and not email:
        raise SchemaError(f"{what} has an invalid email address {body.email[:80]!r}")
    if body.phone and not phone:
        raise SchemaError(f"{what} has an invalid phone number {body.phone[:40]!r}")
    sender = email or phone or (body.customer_id or "").strip()
    if not sender:
        raise SchemaError(f"{what} needs 'email', 'phone' or 'customer_id' to know who is asking")

    ticket_id = ticket_id_for(Channel.API.value, source_id)
    claimed_id = (body.customer_id or "").strip() or None
    # A client-given conversation id is the client's own thread key: kept verbatim so it can correlate.
    thread = (body.conversation_id or "").strip() or None
    metadata = {"source_id": source_id, "id_source": id_source, **_small(body.metadata)}
    return Ticket(
        ticket_id=ticket_id,
        conversation_id=thread or "conv_" + ticket_id[4:],
        channel=channel,
        sender=sender,
        customer_id=claimed_id,
        customer_name=(body.name or "").strip() or None,
        subject=body.subject.strip(),
        text=require_text(body.text, f"{what} {source_id}"),
        attachments=[Attachment(**a.model_dump()) for a in body.attachments],
        received_at_ms=parse_timestamp_ms(body.created_at, event.received_at_ms),
        ingested_at_ms=now_ms,
        trace_id=new_trace_id(),
        is_reply=thread is not None,
        metadata=metadata,
        external_id=source_id,  # the client's id, or the content hash (metadata id_source says which)
        # The authenticated integration vouches for the contact it forwards; a customer_id is only a
        # claim unless the client used the privileged key (docs/ingress.md, identity binding).
        # Only a plain-ASCII address is an identity (normalize_email): a look-alike vouches for nobody.
        verified_email=normalize_email(body.email) or "",
        verified_phone=phone or "",
        verified_customer_id=(claimed_id or "") if event.privileged else "",
    )


def _small(metadata: dict[str, str], max_items: int = 20, max_chars: int = 200) -> dict[str, str]:
    """Client metadata rides along on every record, so it is capped."""
    return {k[:64]: v[:max_chars] for k, v in list(metadata.items())[:max_items]}


def count_api_messages(event: InboundEvent) -> int:
    data = load_json(event.payload, "api ticket")
    return len(data) if isinstance(data, list) else 1
