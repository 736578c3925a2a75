"""Web chat widget webhook -> Ticket. The shape is ours; docs/ingress.md is its contract.

One webhook carries one event. ``type: "message"`` is a customer message; the widget's lifecycle
events (typing, read receipts, session start/end) carry nothing to answer and yield no ticket.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supportflow.processors.channels.common import (
    conversation_id_for,
    load_json,
    new_trace_id,
    parse_timestamp_ms,
    require_text,
    shape_error,
    ticket_id_for,
)
from supportflow.processors.contacts import email_address, normalize_email
from supportflow.schemas.errors import SchemaError
from supportflow.schemas.models import Attachment, Channel, InboundEvent, Ticket

NON_MESSAGE_TYPES = frozenset({"typing", "read", "session_started", "session_ended", "agent_joined"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChatCustomer(_Model):
    id: str | None = None
    email: str | None = None
    name: str | None = None
    handle: str | None = None


class ChatAttachment(_Model):
    filename: str
    content_type: str = "application/octet-stream"
    size_bytes: int = Field(0, ge=0)


class ChatMessage(_Model):
    type: str
    session_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1)
    sent_at: str | int | None = None
    customer: ChatCustomer = ChatCustomer()
    text: str | None = None
    sequence: int | None = Field(None, ge=1, description="1-based position in the session.")
    page_url: str | None = None
    attachments: list[ChatAttachment] = []


def _read(event: InboundEvent) -> dict[str, Any]:
    data = load_json(event.payload, "chat webhook")
    if not isinstance(data, dict):
        raise SchemaError(f"chat webhook must be a JSON object, got {type(data).__name__}")
    if not isinstance(data.get("type"), str):
        raise SchemaError("chat webhook has no string 'type' field")
    return data


def parse_chat(event: InboundEvent, now_ms: int) -> list[Ticket]:
    data = _read(event)
    if data["type"] in NON_MESSAGE_TYPES:
        return []
    if data["type"] != "message":
        raise SchemaError(f"unsupported chat event type {data['type']!r} (expected 'message')")
    try:
        msg = ChatMessage.model_validate(data)
    except ValidationError as exc:
        raise shape_error("chat message", exc) from exc
    customer = msg.customer
    email = email_address(customer.email)
    sender = email or (customer.handle or "").strip() or (customer.id or "").strip()
    if not sender:
        raise SchemaError("chat message has no customer identity (customer.email, .handle or .id)")
    metadata = {"message_id": msg.message_id, "session_id": msg.session_id}
    if msg.page_url:
        metadata["page_url"] = msg.page_url[:500]
    return [
        Ticket(
            ticket_id=ticket_id_for(Channel.CHAT.value, msg.message_id),
            conversation_id=conversation_id_for(Channel.CHAT.value, msg.session_id),
            channel=Channel.CHAT,
            sender=sender,
            customer_id=(customer.id or "").strip() or None,
            customer_name=(customer.name or "").strip() or None,
            text=require_text(msg.text, f"chat message {msg.message_id}"),
            attachments=[Attachment(**a.model_dump()) for a in msg.attachments],
            received_at_ms=parse_timestamp_ms(msg.sent_at, event.received_at_ms),
            ingested_at_ms=now_ms,
            trace_id=new_trace_id(),
            is_reply=(msg.sequence or 1) > 1,
            metadata=metadata,
            external_id=msg.message_id,
            # The body is HMAC-signed by the store's widget backend, which puts the logged-in account
            # in customer.id/.email (a guest's handle vouches for nothing).
            # Only a plain-ASCII address is an identity (normalize_email): a look-alike vouches for nobody.
            verified_email=normalize_email(customer.email) or "",
            verified_customer_id=(customer.id or "").strip(),
        )
    ]


def count_chat_messages(event: InboundEvent) -> int:
    data = _read(event)
    return 0 if data["type"] in NON_MESSAGE_TYPES else 1
