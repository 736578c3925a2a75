"""Generic signed webhook: ``POST`` the outcome as JSON to any URL.

The body is the whole outcome (``Outcome.model_dump(mode="json")``), so receivers get every field,
the conversation ones included: ``turn``, ``transcript`` (redacted, oldest first) and
``handoff_message``, and the ``closed`` decision. Posting the handoff to the customer is the receiver's
choice.

Headers on every attempt:

- ``X-Supportflow-Timestamp``: unix seconds when this attempt was signed (fresh per retry, so a receiver
  can reject replays older than a few minutes without rejecting our late retries);
- ``X-Supportflow-Signature``: ``sha256=`` + hex HMAC-SHA256(secret, ``"{timestamp}." + body``);
- ``Idempotency-Key``: sha256(connector, ticket id, decision): receivers dedupe on it.

:func:`verify_signature` is the receiver's side, for integrators writing one in Python.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping

import httpx

from supportflow.connectors.egress.delivery import HttpCall
from supportflow.connectors.egress.fields import require_settings
from supportflow.connectors.egress.settings import EgressSettings
from supportflow.connectors.egress.tickets import TicketLink
from supportflow.schemas.models import Outcome

SIGNATURE_HEADER = "X-Supportflow-Signature"
TIMESTAMP_HEADER = "X-Supportflow-Timestamp"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    received: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when ``received`` signs ``body`` at ``timestamp`` and the timestamp is within tolerance."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(signature(secret, timestamp, body), received)


def outcome_json(outcome: Outcome) -> bytes:
    return json.dumps(outcome.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode()


class WebhookConnector:
    name = "webhook"
    already_applied_statuses: frozenset[int] = frozenset()

    def __init__(self, settings: EgressSettings, clock: Callable[[], float] = time.time) -> None:
        require_settings(settings, self.name, "webhook_url", "webhook_secret")
        self._url = settings.webhook_url
        self._secret = settings.webhook_secret
        self._clock = clock

    def auth(self) -> httpx.Auth | None:
        return None  # authenticity comes from the HMAC signature

    def _sign(self, body: bytes) -> Mapping[str, str]:
        timestamp = str(int(self._clock()))
        return {
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self._secret.get_secret_value().encode(), timestamp, body),
        }

    def ticket_link(self, outcome: Outcome) -> TicketLink | None:
        return None  # the receiver gets the outcome itself; there is no ticket to find

    def calls(self, outcome: Outcome, ticket_id: str | None = None) -> list[HttpCall]:
        return [
            HttpCall(
                step="",
                method="POST",
                url=self._url,
                content=outcome_json(outcome),
                headers={"Content-Type": "application/json"},
                sign=self._sign,
            )
        ]
