"""The records that cross topic boundaries, as pydantic models.

The Avro schemas in ``schemas/avro/`` are generated from these models (``supportflow schemas dump``)
and checked against them by a test, so the two never drift. Every record carries ``schema_version``;
new fields get defaults so older records still decode (see :mod:`supportflow.schemas.wire`).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 6


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    WHATSAPP = "whatsapp"
    API = "api"


class Band(StrEnum):
    AUTO = "auto"
    SUGGEST = "suggest"
    ESCALATE = "escalate"


class Tier(StrEnum):
    COMMODITY = "commodity"
    FRONTIER = "frontier"


class Decision(StrEnum):
    AUTO_RESOLVED = "auto_resolved"
    SUGGESTED = "suggested"
    ESCALATED = "escalated"
    #: The customer closed the conversation ("thanks, that worked"): no agent and no new answer.
    CLOSED = "closed"


class Author(StrEnum):
    CUSTOMER = "customer"
    #: An automatic answer or acknowledgement supportflow sent.
    ASSISTANT = "assistant"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class InboundEvent(_Record):
    """What a platform sent us, untouched: the ingress topic's value.

    ``payload`` keeps the original bytes so a dead letter can carry them and a fix can replay them.
    """

    schema_version: int = SCHEMA_VERSION
    event_id: str
    channel: Channel
    received_at_ms: int
    payload: bytes
    content_type: str = "application/json"
    source: str = Field("", description="File name, webhook path or API client that produced it.")
    # Added in schema version 3; the default (and every older record) is an ordinary client.
    privileged: bool = Field(
        False,
        description="Set only by the ingress service, for POST /tickets authenticated with "
        "webhook.privileged_api_key: the tickets' customer_id counts as a verified identity.",
    )


class Attachment(_Record):
    filename: str
    content_type: str
    size_bytes: int


class Ticket(_Record):
    """One customer message, normalized across channels."""

    schema_version: int = SCHEMA_VERSION
    ticket_id: str
    conversation_id: str
    channel: Channel
    sender: str = Field(description="Email address, phone number or chat handle of the customer.")
    customer_id: str | None = None
    customer_name: str | None = None
    subject: str = ""
    text: str
    attachments: list[Attachment] = []
    received_at_ms: int
    ingested_at_ms: int
    trace_id: str
    is_reply: bool = False
    metadata: dict[str, str] = {}
    # Added in schema version 3 (docs/ingress.md, identity binding): who the channel vouches the sender
    # is, set by the parser from authenticated fields only. Empty (the default, and every older record)
    # vouches for nothing, so the ticket gets no CRM record.
    verified_email: str = Field("", description="Sender address the channel vouches for (normalized).")
    verified_phone: str = Field("", description="Sender phone the channel vouches for (E.164).")
    verified_customer_id: str = Field(
        "", description="Customer id asserted by a trusted source: signed chat, privileged API key."
    )
    # Added in schema version 4; empty on every older record.
    external_id: str = Field(
        "",
        description="The source system's id of the message (docs/ingress.md): API ticket id, email "
        "Message-ID, WhatsApp or chat message id; 'sha1:...' when the message carried none.",
    )


class RouteDecision(_Record):
    intent: str
    confidence: float
    band: Band
    tier: Tier
    reasons: list[str] = Field(default=[], description="Every rule or threshold that fired.")
    language: str = "en"
    model: str = Field("", description="Router artifact that made the prediction.")


class Source(_Record):
    chunk_id: str
    article_id: str
    title: str
    section: str
    text: str
    score: float
    url: str = ""


class Order(_Record):
    order_id: str
    status: str
    total: float
    currency: str = "USD"
    placed_at: str = ""
    items: list[str] = []
    tracking_number: str = ""
    carrier: str = ""
    delivered_at: str = ""


class CustomerContext(_Record):
    customer_id: str
    name: str = ""
    email: str = ""
    phone: str = ""
    tier: str = "standard"
    vip: bool = False
    language: str = "en"
    orders: list[Order] = []


class Answer(_Record):
    text: str
    citations: list[str] = Field(default=[], description="Chunk ids of the help-center sections used.")
    model: str = ""
    tier: Tier = Tier.COMMODITY
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    groundedness: float = 0.0
    unsupported: list[str] = Field(default=[], description="Claims the groundedness check could not find.")


class TranscriptEntry(_Record):
    """One earlier message of a conversation, redacted."""

    author: Author
    text: str
    at_ms: int
    ticket_id: str = ""


class Thread(_Record):
    """What the conversation state says about a ticket's conversation when it is decided."""

    turn: int = Field(1, description="1-based position of the customer's message in its conversation.")
    transcript: list[TranscriptEntry] = Field(default=[], description="Earlier messages, oldest first.")
    intent_in_focus: str = Field("", description="Intent of the conversation's last routed message.")
    order_in_focus: str = Field("", description="Order id the conversation last talked about.")
    signals: list[str] = Field(
        default=[], description="conversation:* findings (not_helped, repeated, closing...)."
    )
    burst: list[str] = Field(default=[], description="Ticket ids of earlier messages decided with this one.")


class PipelineRecord(_Record):
    """The record handed from stage to stage; each stage fills its own part."""

    schema_version: int = SCHEMA_VERSION
    ticket: Ticket
    route: RouteDecision | None = None
    sources: list[Source] = []
    customer: CustomerContext | None = None
    answer: Answer | None = None
    failures: list[str] = Field(default=[], description="Degradations on the way (e.g. model timeout).")
    timings_ms: dict[str, float] = {}
    embedding: bytes = Field(b"", description="float32 ticket vector from the router, reused by retrieval.")
    # Added in schema version 5.
    thread: Thread | None = None


class Outcome(_Record):
    """The decision for one ticket: what CRMs consume and SREs count."""

    schema_version: int = SCHEMA_VERSION
    ticket_id: str
    conversation_id: str
    customer_id: str | None = None
    channel: Channel
    decision: Decision
    reasons: list[str] = []
    intent: str
    confidence: float
    band: Band
    tier: Tier
    model: str = ""
    answer: str = Field("", description="Sent to the customer when auto_resolved, else the agent's draft.")
    citations: list[str] = []
    groundedness: float = 0.0
    timings_ms: dict[str, float] = {}
    trace_id: str
    decided_at_ms: int = 0
    latency_ms: float = 0.0
    # Added in schema version 2; defaults let version-1 records decode.
    language: str = "en"
    cost_usd: float = 0.0
    escalation_context: str = Field("", description="Transcript, sources, CRM facts for the human.")
    # Added in schema version 4; empty on every older record.
    external_id: str = Field("", description="The ticket's external_id: the source system's message id.")
    # Added in schema version 5; defaults let older records decode as first messages.
    turn: int = Field(1, description="1-based position of the message in its conversation.")
    transcript: list[TranscriptEntry] = Field(
        default=[], description="Earlier messages of the conversation, redacted, oldest first."
    )
    handoff_message: str = Field(
        "", description="Customer-facing message for an escalation (language, channel and hours aware)."
    )
    # Added in schema version 6; empty on every older record.
    router_version: str = Field("", description="Which router artifact decided (name@content hash).")
    policy_version: str = Field("", description="Which policy decided (name@content hash).")


class DeadLetter(_Record):
    """A message a stage could not process: the original bytes plus where and why."""

    schema_version: int = SCHEMA_VERSION
    stage: str
    error_class: str
    error_message: str
    original: bytes
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    failed_at_ms: int
    channel: str = ""
    source: str = ""


class AuditEvent(_Record):
    """One ticket's journey for the audit topic. Text fields are PII-redacted before they get here."""

    schema_version: int = SCHEMA_VERSION
    ticket_id: str
    trace_id: str
    conversation_id: str
    channel: Channel
    decided_at_ms: int
    decision: Decision
    reasons: list[str] = []
    intent: str = ""
    confidence: float = 0.0
    router_model: str = ""
    redacted_input: str = Field("", description="The ticket text as a model would see it.")
    crm_fields_shown: list[str] = Field(default=[], description="CRM facts put into the prompt.")
    sources: list[str] = Field(default=[], description="chunk_id@score of every retrieved section.")
    model: str = ""
    model_output: str = Field("", description="The answer/draft, redacted.")
    citations: list[str] = []
    groundedness: float = 0.0
    unsupported_claims: list[str] = []
    failures: list[str] = []
    timings_ms: dict[str, float] = {}
    # Added in schema version 6; empty on every older record.
    router_version: str = ""
    policy_version: str = ""


class FeedbackKind(StrEnum):
    """What happened after a decision, as the helpdesk, the customer or an import reports it."""

    DRAFT_SENT_UNCHANGED = "draft_sent_unchanged"
    DRAFT_EDITED = "draft_edited"
    DRAFT_DISCARDED = "draft_discarded"
    ESCALATION_RESOLVED = "escalation_resolved"
    REOPENED = "reopened"
    CSAT = "csat"
    INTENT_CORRECTION = "intent_correction"


class Feedback(_Record):
    """One piece of feedback on a decided ticket: the ``feedback`` topic's value, keyed by ticket id.

    Added in schema version 6. Text is PII-redacted and agent ids are hashed before they get here.
    """

    schema_version: int = SCHEMA_VERSION
    feedback_id: str = Field(description="Stable id of this feedback event: replays dedupe on it.")
    ticket_id: str
    external_id: str = Field("", description="The source system's id of the ticket or message.")
    kind: FeedbackKind
    score: float | None = Field(
        None, description="CSAT rating 1-5 (Zendesk good/bad as 5/1), where one applies."
    )
    edited_text: str = Field("", description="The agent's final text when a draft was edited, redacted.")
    corrected_intent: str = Field("", description="The intent an agent says was right.")
    agent_id_hash: str = Field("", description="Keyed hash of the agent's id; never the id itself.")
    source: str = Field(description="zendesk | freshdesk | api | file")
    occurred_at_ms: int
    received_at_ms: int = 0
