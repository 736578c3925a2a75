"""WhatsApp Cloud API webhook -> Tickets (one per customer message).

The envelope is Meta's: ``entry[].changes[].value`` holds ``messages[]`` (customer messages),
``statuses[]`` (delivery receipts for what we sent: ignored) and ``contacts[]`` (profile names).
One webhook can batch several messages, from several customers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supportflow.processors.channels.common import (
    conversation_id_for,
    load_json,
    new_trace_id,
    parse_timestamp_ms,
    shape_error,
    ticket_id_for,
)
from supportflow.processors.contacts import normalize_international_phone
from supportflow.schemas.errors import InvalidInputError, SchemaError
from supportflow.schemas.models import Attachment, Channel, InboundEvent, Ticket

WEBHOOK_OBJECT = "whatsapp_business_account"
# Message types that are not a question: a reaction emoji, "customer changed number" notices.
IGNORED_TYPES = frozenset({"reaction", "system", "ephemeral"})
MEDIA_TYPES = ("image", "video", "document", "audio", "sticker")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Profile(_Model):
    name: str | None = None


class Contact(_Model):
    wa_id: str
    profile: Profile = Profile()


class Media(_Model):
    id: str | None = None
    mime_type: str = "application/octet-stream"
    caption: str | None = None
    filename: str | None = None
    file_size: int = Field(0, ge=0)


class Reply(_Model):
    id: str | None = None
    title: str = ""
    description: str | None = None


class Interactive(_Model):
    type: str
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class Button(_Model):
    text: str = ""
    payload: str | None = None


class Text(_Model):
    body: str


class Context(_Model):
    id: str | None = None


class WaMessage(_Model):
    id: str = Field(min_length=1)
    from_: str = Field(alias="from", min_length=1)
    timestamp: str | int | None = None
    type: str
    text: Text | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    context: Context | None = None
    image: Media | None = None
    video: Media | None = None
    document: Media | None = None
    audio: Media | None = None
    sticker: Media | None = None


class Metadata(_Model):
    phone_number_id: str | None = None
    display_phone_number: str | None = None


class ChangeValue(_Model):
    messaging_product: str | None = None
    metadata: Metadata = Metadata()
    contacts: list[Contact] = []
    messages: list[WaMessage] = []
    statuses: list[dict[str, Any]] = []


class Change(_Model):
    field: str = "messages"
    value: ChangeValue


class Entry(_Model):
    id: str | None = None
    changes: list[Change]


class Webhook(_Model):
    object: str
    entry: list[Entry] = Field(min_length=1)


def _read(event: InboundEvent) -> Webhook:
    data = load_json(event.payload, "whatsapp webhook")
    if not isinstance(data, dict):
        raise SchemaError(f"whatsapp webhook must be a JSON object, got {type(data).__name__}")
    if data.get("object") != WEBHOOK_OBJECT:
        raise SchemaError(f"whatsapp webhook 'object' is {data.get('object')!r}, expected {WEBHOOK_OBJECT!r}")
    try:
        hook = Webhook.model_validate(data)
    except ValidationError as exc:
        raise shape_error("whatsapp webhook", exc) from exc
    for entry in hook.entry:
        for change in entry.changes:
            if not change.value.messages and not change.value.statuses:
                raise SchemaError(
                    f"whatsapp webhook change (field {change.field!r}) has neither 'messages' nor 'statuses'"
                )
    return hook


def _text_and_media(msg: WaMessage) -> tuple[str, list[Attachment], dict[str, str]]:
    """The words to answer, media listed as attachments, and how the text was obtained."""
    meta: dict[str, str] = {"message_type": msg.type}
    if msg.type == "text" and msg.text:
        return msg.text.body, [], meta
    if msg.type == "interactive" and msg.interactive:
        reply = msg.interactive.button_reply or msg.interactive.list_reply
        meta["interactive_type"] = msg.interactive.type
        if reply:
            if reply.id:
                meta["reply_id"] = reply.id
            text = reply.title + (f"\n{reply.description}" if reply.description else "")
            return text, [], meta
    if msg.type == "button" and msg.button:
        if msg.button.payload:
            meta["button_payload"] = msg.button.payload
        return msg.button.text, [], meta
    if msg.type in MEDIA_TYPES:
        media = getattr(msg, msg.type)
        if isinstance(media, Media):
            if media.id:
                meta["media_id"] = media.id
            # WhatsApp sends only a media id; bytes are fetched separately, so the size is often unknown.
            name = media.filename or f"{msg.type}-{media.id or msg.id}"
            attachment = Attachment(filename=name, content_type=media.mime_type, size_bytes=media.file_size)
            return media.caption or "", [attachment], meta
    return "", [], meta


def _sender_phone(msg: WaMessage) -> tuple[str, str]:
    """The sender (E.164 of ``from``, else ``+digits``) and the verified phone ("" if not valid).

    ``from`` (the ``wa_id``) is always international digits without ``+``: it is parsed with no
    default region, so ``6465550124`` is +64 6 555 0124 (New Zealand), never +1 646 555 0124. A
    value that is not a valid number (a number libphonenumber does not know yet, anything but
    digits) is kept as ``+digits`` to answer and thread on, and vouches for nobody.
    """
    digits = "".join(c for c in msg.from_ if c.isdigit())
    if not digits:
        raise SchemaError(f"whatsapp message {msg.id} has no phone number in 'from' ({msg.from_[:40]!r})")
    verified = normalize_international_phone(msg.from_)
    return verified or "+" + digits, verified or ""


def parse_whatsapp(event: InboundEvent, now_ms: int) -> list[Ticket]:
    hook = _read(event)
    tickets: list[Ticket] = []
    for entry in hook.entry:
        for change in entry.changes:
            value = change.value
            names = {c.wa_id: c.profile.name for c in value.contacts}
            for msg in value.messages:
                if msg.type in IGNORED_TYPES:
                    continue
                text, attachments, meta = _text_and_media(msg)
                if not text.strip():
                    raise InvalidInputError(
                        f"whatsapp message {msg.id} of type {msg.type!r} has no text or caption to answer"
                    )
                phone, verified_phone = _sender_phone(msg)
                meta["message_id"] = msg.id
                if value.metadata.phone_number_id:
                    meta["phone_number_id"] = value.metadata.phone_number_id
                if msg.context and msg.context.id:
                    meta["in_reply_to"] = msg.context.id
                tickets.append(
                    Ticket(
                        ticket_id=ticket_id_for(Channel.WHATSAPP.value, msg.id),
                        conversation_id=conversation_id_for(Channel.WHATSAPP.value, phone),
                        channel=Channel.WHATSAPP,
                        sender=phone,
                        customer_name=(names.get(msg.from_) or "").strip() or None,
                        text=text.strip(),
                        attachments=attachments,
                        received_at_ms=parse_timestamp_ms(msg.timestamp, event.received_at_ms),
                        ingested_at_ms=now_ms,
                        trace_id=new_trace_id(),
                        # A context block means the customer replied to one of our messages.
                        is_reply=msg.context is not None,
                        metadata=meta,
                        external_id=msg.id,
                        # Meta signs the webhook; ``from`` is the sender's number (if it is a valid one).
                        verified_phone=verified_phone,
                    )
                )
    return tickets


def count_whatsapp_messages(event: InboundEvent) -> int:
    hook = _read(event)
    return sum(
        1
        for entry in hook.entry
        for change in entry.changes
        for msg in change.value.messages
        if msg.type not in IGNORED_TYPES
    )
