"""Egress configuration, read from ``SUPPORTFLOW_EGRESS_*`` environment variables.

Kept beside the connectors (not in :mod:`supportflow.settings`) so the egress workers can be deployed
and configured on their own; the fields are plain enough to fold into the main ``Settings`` later.
Secrets are :class:`SecretStr`: they never appear in reprs, logs or dead letters.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Priority = Literal["low", "normal", "high", "urgent"]


class EgressSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPORTFLOW_EGRESS_", frozen=True, extra="ignore")

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
