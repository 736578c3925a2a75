"""Secrets and knobs of the ingress HTTP service: ``Settings.webhook`` (env ``SUPPORTFLOW_WEBHOOK__<FIELD>``).

The model lives in :mod:`supportflow.settings` with every other setting (env vars are read in one
place); it is re-exported here for the service.
"""

from __future__ import annotations

from pydantic import SecretStr

from supportflow.settings import WebhookSettings

__all__ = ["WebhookSettings", "secret_value"]


def secret_value(secret: SecretStr | None) -> bytes | None:
    """The secret's bytes, or None when unset or empty (an empty secret must never verify anything)."""
    if secret is None:
        return None
    value = secret.get_secret_value()
    return value.encode() if value else None
