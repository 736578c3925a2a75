"""What every feedback source shares: ids, hashed agent ids, redacted text, timestamps.

Ids are derived from the payload (source + source event id, or the content), so a webhook the helpdesk
delivers twice, or a file published twice, yields the same ``feedback_id`` and is counted once.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

import orjson

from supportflow.processors.redact import redact
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Feedback, FeedbackKind

#: Longest edited text kept (an agent's reply; anything longer is cut before redaction).
MAX_TEXT_CHARS = 8_000
#: Plausible feedback times (2000-01-01 .. 2200-01-01): anything else is a unit or typing mistake.
MIN_TIME_MS, MAX_TIME_MS = 946_684_800_000, 7_258_118_400_000


class FeedbackError(InvalidInputError):
    """A payload that cannot become feedback: it goes to the dead-letter topic with this reason."""


def feedback_id(source: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join((source, *parts)).encode()).hexdigest()
    return f"fb_{digest[:32]}"


def content_id(source: str, doc: Any) -> str:
    """An id from the canonical JSON of ``doc``: the same record published twice gets the same id."""
    return feedback_id(source, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode())


def hash_agent(agent_id: str, key: bytes | None) -> str:
    """Keyed hash of an agent id (HMAC-SHA256, first 16 bytes as hex); empty when there is no id.

    Without a key the id is dropped instead of hashed unkeyed: an unkeyed hash of an email address is
    reversible by guessing, so it would leak the id it is meant to hide.
    """
    agent = agent_id.strip()
    if not agent or key is None:
        return ""
    return hmac.new(key, agent.encode(), hashlib.sha256).hexdigest()[:32]


def redacted(text: str) -> str:
    return redact(text[:MAX_TEXT_CHARS]).text if text else ""


def text_field(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FeedbackError(f"{name} must be a string, got {type(value).__name__}")
    return str(value).strip()


def timestamp_ms(value: Any, default_ms: int) -> int:
    """Epoch milliseconds from epoch seconds/milliseconds or an ISO 8601 string; ``default_ms`` if unset."""
    if value is None or value == "":
        return default_ms
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FeedbackError("a timestamp must be a number or an ISO 8601 string")
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.replace(".", "", 1).isdigit():
            return timestamp_ms(float(text), default_ms)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise FeedbackError(f"timestamp {text[:40]!r} is not ISO 8601") from exc
        if parsed.tzinfo is None:
            raise FeedbackError(f"timestamp {text[:40]!r} has no time zone")
        ms = int(parsed.timestamp() * 1000)
    else:
        ms = int(value if value > 1e11 else value * 1000)  # seconds until the year 5138
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        raise FeedbackError("timestamp is not between the years 2000 and 2200")
    return ms


def load_json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FeedbackError(f"{what} is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise FeedbackError(f"{what} must be a JSON object, got {type(doc).__name__}")
    return doc


def build(
    *, fid: str, ticket_id: str, external_id: str, kind: FeedbackKind, source: str, occurred_at_ms: int,
    received_at_ms: int, score: float | None = None, text: str = "", corrected_intent: str = "",
    agent_id_hash: str = "",
) -> Feedback:  # fmt: skip
    if not ticket_id and not external_id:
        raise FeedbackError("feedback needs a ticket_id or an external_id")
    return Feedback(
        feedback_id=fid, ticket_id=ticket_id or external_id, external_id=external_id, kind=kind,
        score=score, edited_text=redacted(text), corrected_intent=corrected_intent,
        agent_id_hash=agent_id_hash, source=source, occurred_at_ms=occurred_at_ms,
        received_at_ms=received_at_ms,
    )  # fmt: skip
