"""Helpers every channel parser shares: ids, JSON decoding, timestamps, shape errors."""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from supportflow.schemas.errors import InvalidInputError, SchemaError
from supportflow.schemas.models import Channel, InboundEvent, Ticket

# JSONL lines and API submissions use the generic ticket shape whatever channel they name; this
# content type tells the dispatcher to read the shape, while ``event.channel`` keeps the origin.
TICKET_CONTENT_TYPE = "application/vnd.supportflow.ticket+json"
EMAIL_CONTENT_TYPE = "message/rfc822"
JSON_CONTENT_TYPE = "application/json"


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def ticket_id_for(namespace: str, source_id: str) -> str:
    """Deterministic ticket id: a redelivered message gets the same id, so downstream stages dedupe."""
    return "tkt_" + _digest(namespace, source_id)[:16]


#: What may differ between deliveries of one message without making it another message.
_DELIVERY_FIELDS = frozenset({"ticket_id", "trace_id", "received_at_ms", "ingested_at_ms", "schema_version"})
#: The channel's source id, which the parser's ticket id already hashes: left out so a message gets the
#: same ticket id from workers on either side of the schema version that added it (a rolling deploy).
_SOURCE_ID_FIELDS = frozenset({"external_id"})


def with_message_identity(ticket: Ticket) -> Ticket:
    """The ticket with its final id: the channel's source id *and* everything the message is.

    A redelivery (same source id, same parsed message; only the delivery times differ) keeps its id,
    so every stage dedupes it. A source id reused for anything else (other text, sender, conversation,
    verified identity, attachments: a client that recycles ids, a chat platform that numbers messages
    per session) is a new message: it gets its own id and its own decision instead of being
    suppressed as a duplicate. Text is compared in Unicode NFC, so a re-encoding is a redelivery.
    """
    fields = ticket.model_dump(mode="json", exclude=_DELIVERY_FIELDS | _SOURCE_ID_FIELDS)
    fields["text"] = unicodedata.normalize("NFC", fields["text"])
    fields["subject"] = unicodedata.normalize("NFC", fields["subject"])
    content = hashlib.sha1(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return ticket.model_copy(update={"ticket_id": "tkt_" + _digest(ticket.ticket_id, content)[:16]})


def conversation_id_for(namespace: str, thread_key: str) -> str:
    return "conv_" + _digest(namespace, thread_key)[:16]


def content_hash(payload: bytes) -> str:
    """Identity of a message that carries no id of its own (same bytes, same id)."""
    return hashlib.sha1(payload).hexdigest()


def new_trace_id() -> str:
    return uuid.uuid4().hex


def check_size(event: InboundEvent, max_body_bytes: int) -> None:
    size = len(event.payload)
    if size > max_body_bytes:
        raise InvalidInputError(
            f"{event.channel.value} event is {size} bytes, over the {max_body_bytes}-byte limit "
            "(thresholds.max_body_bytes)"
        )


def decode_utf8(payload: bytes, what: str) -> str:
    """JSON is UTF-8 by definition (RFC 8259); a leading BOM is tolerated."""
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{what} is not valid UTF-8 (byte 0x{payload[exc.start]:02x} at offset {exc.start})"
        ) from exc


def load_json(payload: bytes, what: str) -> Any:
    text = decode_utf8(payload, what)
    if not text.strip():
        raise SchemaError(f"{what} is empty")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SchemaError(f"{what} is not valid JSON: {exc}") from exc


def shape_error(what: str, exc: ValidationError, limit: int = 3) -> SchemaError:
    """One line per problem, e.g. ``chat message: customer.email: Input should be a valid string``."""
    problems = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        problems.append(f"{loc}: {err['msg']}")
    more = f" (+{exc.error_count() - limit} more)" if exc.error_count() > limit else ""
    return SchemaError(f"{what} has the wrong shape: " + "; ".join(problems) + more)


def require_text(text: str | None, what: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise InvalidInputError(f"{what} has no text to answer")
    return cleaned


def parse_timestamp_ms(value: str | int | float | None, fallback_ms: int) -> int:
    """ISO 8601 string, epoch seconds or epoch milliseconds -> epoch ms; unreadable -> ``fallback_ms``.

    A bad client clock is not worth dead-lettering a customer message, so this never raises; a value
    outside years 1970..9999 (which would not even fit the wire format's 64-bit long) counts as unreadable.
    """
    if value is None or value == "":
        return fallback_ms
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
            number = float(value)
            # Epoch seconds are ~1.7e9 today; anything past 1e11 is already milliseconds.
            ms = int(number if number > 1e11 else number * 1000)
        else:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            ms = int(parsed.timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        return fallback_ms
    return ms if 0 <= ms <= _MAX_TIMESTAMP_MS else fallback_ms


_MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def channel_from_name(name: str | None) -> Channel | None:
    if not isinstance(name, str):
        return None
    try:
        return Channel(name.strip().lower())
    except ValueError:
        return None
