"""The golden set: its format, and how each case becomes a real inbound event for the live pipeline.

A golden case is one customer message with the decision a support lead expects for it (intent, band,
the help-center articles a correct answer may cite, the facts it must contain). ``render_event`` turns
it into the bytes the platform would really send on its channel (RFC 5322 email, our chat webhook, a
WhatsApp Cloud API webhook, or the generic API ticket), with ids derived from the case id so the
pipeline's ticket id is known in advance: outcomes are matched back to cases by that id.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supportflow.data import data_path
from supportflow.processors.channels.common import EMAIL_CONTENT_TYPE, JSON_CONTENT_TYPE
from supportflow.processors.channels.parse import parse_event
from supportflow.processors.channels.whatsapp import WEBHOOK_OBJECT
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Band, Channel, InboundEvent

SUPPORT_ADDRESS = "support@northwind-outfitters.example"
# Email Message-IDs need a domain; this one is reserved for golden-set traffic so it is recognisable.
MESSAGE_ID_DOMAIN = "golden.supportflow.example"
WHATSAPP_BUSINESS_NUMBER = "15550783881"


class GoldenTicket(BaseModel):
    """The ticket in the generic API shape; channel renderers read the same fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1)
    subject: str = ""
    email: str | None = None
    phone: str | None = None
    customer_id: str | None = None
    name: str | None = None


class GoldenCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    channel: Channel
    ticket: GoldenTicket
    customer_id: str | None = None
    expected_intent: str
    expected_band: Band
    expected_articles: list[str] = []
    required_facts: list[str] = []
    tags: list[str] = []


def default_set_path() -> Path:
    return data_path("golden", "golden.jsonl")


def load_golden(path: Path) -> list[GoldenCase]:
    """Parse and validate a golden JSONL file; a bad line or a repeated id is an InvalidInputError."""
    if not path.is_file():
        raise InvalidInputError(f"golden set not found: {path}")
    cases: list[GoldenCase] = []
    seen: set[str] = set()
    for lineno, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = GoldenCase.model_validate(orjson.loads(line))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise InvalidInputError(f"{path}:{lineno}: not a golden case: {str(exc)[:300]}") from exc
        if case.id in seen:
            raise InvalidInputError(f"{path}:{lineno}: duplicate golden id {case.id!r}")
        _check_identity(case, f"{path}:{lineno}")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise InvalidInputError(f"golden set {path} holds no cases")
    return cases


def _check_identity(case: GoldenCase, where: str) -> None:
    """Each channel needs the identity its real wire format carries, or the render would be invalid."""
    t = case.ticket
    needs = {Channel.EMAIL: t.email, Channel.WHATSAPP: t.phone, Channel.CHAT: t.email or t.customer_id}
    if case.channel in needs and not needs[case.channel]:
        field = {"email": "email", "whatsapp": "phone", "chat": "email or customer_id"}[case.channel.value]
        raise InvalidInputError(f"{where}: {case.channel.value} case {case.id} needs ticket.{field}")
    if case.channel == Channel.API and not (t.email or t.phone or t.customer_id):
        raise InvalidInputError(f"{where}: api case {case.id} needs email, phone or customer_id")


def _message_id(case: GoldenCase) -> str:
    return f"{case.id}@{MESSAGE_ID_DOMAIN}"


def _wamid(case: GoldenCase) -> str:
    return f"wamid.golden.{case.id}"


def pipeline_ticket_id(case: GoldenCase) -> str:
    """The ticket id the ingress parser will assign to this case's rendered event."""
    # The id depends on the source id and the message's content, so the case is parsed as the
    # pipeline parses it (the render time does not enter the id).
    return parse_event(render_event(case, now_ms=0), 0)[0].ticket_id


#: Golden single cases are independent conversations. WhatsApp threads by phone number, so cases that
#: share a number are dated this far apart: beyond the age after which a thread starts over
#: (``SUPPORTFLOW_CONVERSATION__MAX_AGE_S``, 7 days by default), measured between message times.
THREAD_SPACING_MS = 8 * 24 * 3600 * 1000


def render_events(cases: list[GoldenCase], now_ms: int | None = None) -> list[InboundEvent]:
    """Every case rendered, each its own conversation (see :data:`THREAD_SPACING_MS`)."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    threads = [case.ticket.phone if case.channel == Channel.WHATSAPP else case.id for case in cases]
    remaining = Counter(threads)
    events = []
    for case, thread in zip(cases, threads, strict=True):
        remaining[thread] -= 1  # the thread's last case is dated now, earlier ones further back
        events.append(render_event(case, now - remaining[thread] * THREAD_SPACING_MS))
    return events


def render_event(case: GoldenCase, now_ms: int | None = None) -> InboundEvent:
    """The case as the bytes its channel really sends (ingest re-stamps ``received_at_ms`` on publish)."""
    received = now_ms if now_ms is not None else int(time.time() * 1000)
    if case.channel == Channel.EMAIL:
        payload, content_type = _email_bytes(case, received), EMAIL_CONTENT_TYPE
    elif case.channel == Channel.CHAT:
        payload, content_type = orjson.dumps(_chat_body(case, received)), JSON_CONTENT_TYPE
    elif case.channel == Channel.WHATSAPP:
        payload, content_type = orjson.dumps(_whatsapp_body(case, received)), JSON_CONTENT_TYPE
    else:
        payload, content_type = orjson.dumps(_api_body(case)), JSON_CONTENT_TYPE
    return InboundEvent(
        event_id=f"golden-{case.id}",
        channel=case.channel,
        received_at_ms=received,
        payload=payload,
        content_type=content_type,
        source=f"golden:{case.id}",
    )


def _api_body(case: GoldenCase) -> dict[str, object]:
    body: dict[str, object] = {"ticket_id": case.id}
    body.update(case.ticket.model_dump(exclude_none=True, exclude_defaults=True))
    return body


def _email_bytes(case: GoldenCase, received_ms: int) -> bytes:
    t = case.ticket
    msg = EmailMessage()
    msg["From"] = formataddr((t.name or "", t.email or ""))
    msg["To"] = formataddr(("Northwind Outfitters Support", SUPPORT_ADDRESS))
    msg["Subject"] = t.subject or _subject_from_text(t.text)
    msg["Date"] = format_datetime(datetime.fromtimestamp(received_ms / 1000, tz=UTC))
    msg["Message-ID"] = f"<{_message_id(case)}>"
    msg.set_content(t.text + "\n")
    return msg.as_bytes()


def _subject_from_text(text: str, words: int = 6) -> str:
    """Mail clients require no subject, but people write one; the first words are the usual choice."""
    head = " ".join(text.split()[:words])
    return head if len(text.split()) <= words else head + " ..."


def _chat_body(case: GoldenCase, received_ms: int) -> dict[str, object]:
    t = case.ticket
    customer = {k: v for k, v in {"id": t.customer_id, "name": t.name, "email": t.email}.items() if v}
    return {
        "type": "message",
        "session_id": f"gs_{case.id}",
        "message_id": case.id,
        "sent_at": received_ms,
        "customer": customer,
        "text": t.text,
    }


def _whatsapp_body(case: GoldenCase, received_ms: int) -> dict[str, object]:
    t = case.ticket
    wa_id = "".join(c for c in t.phone or "" if c.isdigit())
    message = {
        "from": wa_id,
        "id": _wamid(case),
        "timestamp": str(received_ms // 1000),
        "type": "text",
        "text": {"body": t.text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": WHATSAPP_BUSINESS_NUMBER, "phone_number_id": "golden"},
        "contacts": [{"profile": {"name": t.name or ""}, "wa_id": wa_id}],
        "messages": [message],
    }
    return {
        "object": WEBHOOK_OBJECT,
        "entry": [{"id": "golden", "changes": [{"value": value, "field": "messages"}]}],
    }
