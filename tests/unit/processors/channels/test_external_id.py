"""Every parser puts the source system's id of the message on the ticket as ``external_id``."""

from __future__ import annotations

import json
from typing import Any

from supportflow.processors.channels import EMAIL_CONTENT_TYPE, TICKET_CONTENT_TYPE, parse_event
from supportflow.processors.channels.common import with_message_identity
from supportflow.schemas.models import Channel, InboundEvent, Ticket

NOW = 1_795_000_000_000
EMAIL_HEAD = (
    "From: Maya Thompson <maya.thompson@example.com>\r\nTo: support@northwind.example\r\nSubject: Boots\r\n"
)


def _event(channel: Channel, payload: Any, content_type: str = "application/json") -> InboundEvent:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return InboundEvent(
        event_id="e", channel=channel, received_at_ms=NOW, payload=raw, content_type=content_type, source="t"
    )


def _one(channel: Channel, payload: Any, content_type: str = "application/json") -> Ticket:
    [ticket] = parse_event(_event(channel, payload, content_type), NOW)
    return ticket


def _api(**fields: Any) -> Ticket:
    body = {"email": "maya.thompson@example.com", "text": "where is my order?", **fields}
    return _one(Channel.API, body, TICKET_CONTENT_TYPE)


def _email(headers: str) -> Ticket:
    raw = (EMAIL_HEAD + headers + "\r\nWhere are my boots?\r\n").encode()
    return _one(Channel.EMAIL, raw, EMAIL_CONTENT_TYPE)


def test_api_parse_external_id_is_the_source_message_id() -> None:
    assert _api(ticket_id="ZD-48213").external_id == "ZD-48213"
    assert _api(id=48213).external_id == "48213"


def test_api_parse_without_id_external_id_is_the_content_hash_marked_derived() -> None:
    ticket = _api()
    assert ticket.external_id.startswith("sha1:")
    assert ticket.external_id == ticket.metadata["source_id"]
    assert ticket.metadata["id_source"] == "content-hash"


def test_email_parse_external_id_is_the_source_message_id() -> None:
    ticket = _email("Message-ID: <CAF7x9q2@mail.example.com>\r\n")
    assert ticket.external_id == "CAF7x9q2@mail.example.com"
    assert ticket.metadata["id_source"] == "message-id"


def test_email_parse_external_id_never_holds_the_sender_address() -> None:
    ticket = _email("Reply-To: maya.t@example.org\r\nMessage-ID: <20261122.4411@mx.example.com>\r\n")
    assert ticket.sender == "maya.t@example.org"
    assert ticket.external_id == "20261122.4411@mx.example.com"
    assert "maya" not in ticket.external_id


def test_email_parse_without_message_id_external_id_is_the_content_hash_marked_derived() -> None:
    ticket = _email("")
    assert ticket.external_id.startswith("sha1:")
    assert ticket.external_id == ticket.metadata["message_id"]
    assert ticket.metadata["id_source"] == "content-hash"


def test_chat_parse_external_id_is_the_source_message_id() -> None:
    body = {"type": "message", "session_id": "chs_1", "message_id": "msg_77", "text": "hi",
            "customer": {"handle": "guest-4411"}}  # fmt: skip
    assert _one(Channel.CHAT, body).external_id == "msg_77"


def test_whatsapp_parse_external_id_is_the_source_message_id() -> None:
    message = {"from": "14155550101", "id": "wamid.HBgLMTQxNTU1NTAxMDEVAgASGBQ", "timestamp": "1795500000",
               "type": "text", "text": {"body": "where is my order?"}}  # fmt: skip
    hook = {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {"messages": [message]}}]}]}  # fmt: skip
    assert _one(Channel.WHATSAPP, hook).external_id == "wamid.HBgLMTQxNTU1NTAxMDEVAgASGBQ"


def test_with_message_identity_external_id_leaves_the_ticket_id_unchanged() -> None:
    ticket = _api(ticket_id="ZD-48213")
    without = ticket.model_copy(update={"external_id": ""})
    assert with_message_identity(without).ticket_id == with_message_identity(ticket).ticket_id
