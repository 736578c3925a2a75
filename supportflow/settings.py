"""The one place environment variables are read.

Every knob is a field of :class:`Settings` (env prefix ``SUPPORTFLOW_``; nested fields use ``__``,
e.g. ``SUPPORTFLOW_TOPICS__PARTITIONS=12``). The object is frozen: code receives it, never mutates it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUPPORTFLOW_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    broker: str | None = Field(
        None, description="Kafka bootstrap servers. Unset: start the embedded Tansu broker."
    )
    app_id: str = "supportflow"
    data_dir: Path = Field(Path(".supportflow"), description="Local state: Qdrant, CRM db, router.")
    topics: TopicSettings = TopicSettings()
    thresholds: Thresholds = Thresholds()
    models: ModelTiers = ModelTiers()
    policy_path: Path | None = Field(None, description="YAML policy; unset uses the shipped default.")
    router_path: Path | None = Field(None, description="Trained router artifact; unset uses the shipped one.")
    collection: str = "helpcenter"
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    crm_db: Path | None = None
    help_center_languages: tuple[str, ...] = ("en",)
    metrics_port: int = Field(0, ge=0, le=65535, description="0 disables the metrics endpoint.")
    session_timeout_s: float = Field(
        10.0, gt=0, description="Consumer-group session timeout; short keeps rebalances fast."
    )
    log_level: str = "INFO"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
