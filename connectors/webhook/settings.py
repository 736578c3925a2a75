"""Secrets and knobs of the ingress HTTP service (env prefix ``SUPPORTFLOW_WEBHOOK_``).

Kept apart from :class:`supportflow.settings.Settings` so the service can be reviewed on its own; the
lead may fold it in as ``Settings.webhook``. Every secret is optional: an endpoint whose secret is unset
answers 503 ``not_configured`` instead of accepting unsigned requests (secure default).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPORTFLOW_WEBHOOK_", frozen=True, extra="ignore")

    whatsapp_app_secret: SecretStr | None = Field(
        None, description="Meta app secret: X-Hub-Signature-256 key."
    )
    whatsapp_verify_token: SecretStr | None = Field(None, description="Token echoed in the GET handshake.")
    chat_hmac_secret: SecretStr | None = Field(None, description="Shared secret of the chat widget webhook.")
    api_key: SecretStr | None = Field(None, description="Bearer key for POST /tickets.")
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


def secret_value(secret: SecretStr | None) -> bytes | None:
    """The secret's bytes, or None when unset or empty (an empty secret must never verify anything)."""
    if secret is None:
        return None
    value = secret.get_secret_value()
    return value.encode() if value else None
