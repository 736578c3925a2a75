"""Accepted HTTP bodies -> InboundEvents with the raw bytes intact and deterministic ids."""

from __future__ import annotations

import hashlib

import orjson

from supportflow.connectors.webhook.errors import RequestRejected
from supportflow.processors.channels import JSON_CONTENT_TYPE, TICKET_CONTENT_TYPE, parse_event
from supportflow.schemas.errors import SupportflowError
from supportflow.schemas.models import Channel, InboundEvent


def event_id_for(channel: Channel, body: bytes) -> str:
    """sha256 of channel and body: a platform's redelivery of the same webhook gets the same id."""
    return "evt_" + hashlib.sha256(channel.value.encode() + b"\x1f" + body).hexdigest()[:32]


def webhook_event(channel: Channel, body: bytes, path: str, received_at_ms: int) -> InboundEvent:
    """A signed platform webhook is accepted as-is; if it is poison the pipeline dead-letters the bytes.

    (Rejecting it here would make the platform retry it forever and leave no copy for an operator.)
    """
    return InboundEvent(
        event_id=event_id_for(channel, body), channel=channel, received_at_ms=received_at_ms,
        payload=body, content_type=JSON_CONTENT_TYPE, source=path,
    )  # fmt: skip


def _ticket_event(
    body: bytes, source: str, received_at_ms: int, max_body_bytes: int, privileged: bool = False
) -> InboundEvent:
    event = InboundEvent(
        event_id=event_id_for(Channel.API, body), channel=Channel.API, received_at_ms=received_at_ms,
        payload=body, content_type=TICKET_CONTENT_TYPE, source=source, privileged=privileged,
    )  # fmt: skip
    # API clients can fix and resend, so they hear about a bad ticket now (422) instead of from the DLQ.
    try:
        parse_event(event, received_at_ms, max_body_bytes=max_body_bytes)
    except SupportflowError as exc:
        raise RequestRejected(422, "invalid_ticket", f"{source}: {exc}") from exc
    return event


def _check_json(raw: bytes, where: str) -> None:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # also raised for invalid UTF-8
        raise RequestRejected(400, "invalid_json", f"{where} is not valid UTF-8 JSON: {exc}") from exc


def ticket_events(
    body: bytes, *, jsonl: bool, path: str, received_at_ms: int, max_body_bytes: int, privileged: bool = False
) -> list[InboundEvent]:
    """One event for a JSON body (an object or an array of them); one per non-empty line of JSONL.

    ``privileged``: the client authenticated with ``webhook.privileged_api_key`` (its customer_ids count
    as verified identity)."""
    if not jsonl:
        _check_json(body, "body")
        return [_ticket_event(body, path, received_at_ms, max_body_bytes, privileged)]
    events = []
    for lineno, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        _check_json(line, f"line {lineno}")
        events.append(_ticket_event(line, f"{path}:{lineno}", received_at_ms, max_body_bytes, privileged))
    if not events:
        raise RequestRejected(422, "invalid_ticket", "the JSONL body holds no tickets")
    return events
