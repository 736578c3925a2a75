"""The ingress service's HTTP bodies as pydantic models: what :mod:`.openapi` publishes as schemas.

These describe the contract, they do not parse: the webhooks are persisted as signed bytes and parsed
downstream by :mod:`supportflow.processors.channels`, which is deliberately more lenient than what is
documented here. A class docstring becomes its schema's description; classes without one have none.
Optional fields are ``X | None = None`` here and simply not required in the document (3.0 has no null).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from supportflow.schemas.models import Channel
from supportflow.streams.flag_registry import FLAGS

# ---------------------------------------------------------------------------------------- responses


class Error(BaseModel):
    error: str = Field(description="Stable machine-readable code, e.g. invalid_signature.")
    message: str = Field(description="What was wrong, for a human.")


class Accepted(BaseModel):
    """Every listed event is acknowledged by the broker (acks=all) on the ingress topic."""

    status: Literal["accepted"]
    event_ids: list[Annotated[str, Field(pattern="^evt_[0-9a-f]{32}$")]] = Field(
        description="sha256(channel, raw body): a redelivered request gets the same id."
    )


class FeedbackAccepted(BaseModel):
    """accepted: every listed feedback is on the feedback topic (acks=all). ignored: the payload held no
    feedback. dead_lettered: a signed helpdesk payload that is not feedback, kept on the dead-letter topic."""

    status: Literal["accepted", "ignored", "dead_lettered"]
    feedback_ids: list[str] = Field(description="Derived from the payload: a redelivery gets the same ids.")
    reason: str | None = Field(None, description="Why a payload was dead-lettered.")


class FlagSet(BaseModel):
    name: str
    value: Any = Field(description="The value written, typed (a JSON boolean for a boolean flag).")
    set_at_ms: int = Field(description="When the control topic acknowledged it.")


class Flags(BaseModel):
    flags: dict[str, Any]


class Status(BaseModel):
    status: str


# ----------------------------------------------------------------------------------- request bodies


class WhatsAppChangeValue(BaseModel):
    messaging_product: str | None = None
    metadata: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] | None = None
    messages: list[dict[str, Any]] | None = None
    statuses: list[dict[str, Any]] | None = None


class WhatsAppChange(BaseModel):
    field: str | None = None
    value: WhatsAppChangeValue


class WhatsAppEntry(BaseModel):
    id: str | None = None
    changes: list[WhatsAppChange]


class WhatsAppWebhook(BaseModel):
    """Meta WhatsApp Cloud API webhook envelope (only the fields supportflow reads)."""

    object: Literal["whatsapp_business_account"]
    entry: list[WhatsAppEntry] = Field(min_length=1)


class ChatCustomer(BaseModel):
    id: str | None = None
    email: str | None = None
    name: str | None = None
    handle: str | None = None


class ChatEvent(BaseModel):
    """Chat widget event; type 'message' carries a customer message (docs/ingress.md)."""

    type: str = Field(json_schema_extra={"example": "message"})
    session_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1)
    sent_at: str | int | None = None
    text: str | None = None
    sequence: int | None = Field(None, ge=1)
    page_url: str | None = None
    customer: ChatCustomer | None = None


class Attachment(BaseModel):
    filename: str
    content_type: str | None = None
    size_bytes: int | None = Field(None, ge=0)


class ApiTicket(BaseModel):
    """One ticket. Needs text and one of email, phone or customer_id; otherwise 422."""

    ticket_id: str | None = Field(None, min_length=1, description="Your id; dedupes resubmissions.")
    channel: Channel | None = None
    customer_id: str | None = None
    email: str | None = Field(None, json_schema_extra={"format": "email"})
    phone: str | None = None
    name: str | None = None
    subject: str | None = None
    text: str = Field(min_length=1)
    conversation_id: str | None = None
    created_at: str | float | None = None
    attachments: list[Attachment] | None = None
    metadata: dict[str, str] | None = None


class FeedbackRecord(BaseModel):
    """One piece of feedback on a decided ticket (docs/learning.md). Needs ticket_id or external_id."""

    ticket_id: str | None = Field(None, description="supportflow's ticket id, or the conversation id.")
    external_id: str | None = Field(None, description="The helpdesk's ticket id.")
    kind: Literal[
        "draft_sent_unchanged", "draft_edited", "draft_discarded", "escalation_resolved", "reopened", "csat",
        "intent_correction",
    ]  # fmt: skip
    score: float | None = Field(None, ge=1, le=5, description="Required for csat: 1 (worst) to 5 (best).")
    edited_text: str | None = Field(None, description="The text the agent sent; redacted before it is kept.")
    corrected_intent: str | None = Field(None, description="Required for intent_correction.")
    agent_id: str | None = Field(None, description="Kept only as a keyed hash.")
    occurred_at: str | float | None = Field(None, description="ISO 8601 or epoch seconds; default: now.")
    feedback_id: str | None = Field(None, description="Your id; default: derived from the record.")


class HelpdeskWebhook(BaseModel):
    """A Zendesk ticket event or satisfaction rating, or a Freshdesk automation webhook body
    (``{"freshdesk_webhook": {...}}``): docs/learning.md lists the fields read."""

    model_config = {"extra": "allow"}


class FlagAssignment(BaseModel):
    name: str = Field(json_schema_extra={"enum": sorted(FLAGS), "example": "auto_resolve"})
    # Every flag in the registry is a boolean today; the server also takes the words below.
    value: bool = Field(
        description=(
            "The flag's value. Boolean flags also accept the strings true/false, on/off, yes/no, "
            "1/0 (any case) and the integers 1/0; they are stored as a JSON boolean. An unknown "
            "name or any other value is rejected with 422 invalid_flag."
        ),
        json_schema_extra={"example": False},
    )


#: Every schema the document publishes (nested models are added as they are referenced).
CONTRACT_MODELS: tuple[type[BaseModel], ...] = (
    Error, Accepted, WhatsAppWebhook, ChatEvent, Attachment, ApiTicket, FlagAssignment, FlagSet, Flags,
    Status, FeedbackAccepted, FeedbackRecord, HelpdeskWebhook,
)  # fmt: skip
