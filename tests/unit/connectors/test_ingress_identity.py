"""What each parser vouches for: the verified identity fields come from authenticated fields only."""

from __future__ import annotations

import json
from typing import Any

from supportflow.connectors.ingress import EMAIL_CONTENT_TYPE, TICKET_CONTENT_TYPE, parse_event
from supportflow.schemas.models import Channel, InboundEvent, Ticket

NOW = 1_795_000_000_000


def _one(channel: Channel, payload: bytes, content_type: str, privileged: bool = False) -> Ticket:
    event = InboundEvent(
        event_id="e", channel=channel, received_at_ms=NOW, payload=payload, content_type=content_type,
        source="test", privileged=privileged,
    )  # fmt: skip
    [ticket] = parse_event(event, NOW)
    return ticket


def _api(body: dict[str, Any], privileged: bool = False) -> Ticket:
    return _one(Channel.API, json.dumps(body).encode(), TICKET_CONTENT_TYPE, privileged)


def _email(headers: str) -> Ticket:
    raw = f"{headers}To: support@northwind.example\nSubject: order\nMessage-ID: <m1@x>\n\nWhere is it?\n"
    return _one(Channel.EMAIL, raw.replace("\n", "\r\n").encode(), EMAIL_CONTENT_TYPE)


def test_api_ticket_claimed_customer_id_not_verified():
    t = _api({"email": "Mallory@Evil.Example", "customer_id": "cus_0002", "text": "where is my order?"})
    assert t.customer_id == "cus_0002"  # the claim travels, for the identity check to compare
    assert (t.verified_email, t.verified_phone, t.verified_customer_id) == ("mallory@evil.example", "", "")


def test_api_ticket_channel_chat_still_api_rules():
    # Naming another channel does not borrow that channel's trust in customer ids.
    t = _api({"channel": "chat", "customer_id": "cus_0002", "text": "where is my order?"})
    assert t.channel == Channel.CHAT and t.verified_customer_id == ""


def test_api_ticket_phone_verified_as_e164():
    t = _api({"phone": "(212) 555-0102", "text": "where is my order?"})
    assert t.verified_phone == "+12125550102"


def test_api_ticket_privileged_event_customer_id_verified():
    t = _api({"customer_id": " cus_0002 ", "text": "where is my order?"}, privileged=True)
    assert t.verified_customer_id == "cus_0002"


def test_api_ticket_client_metadata_cannot_claim_privilege():
    t = _api({"customer_id": "cus_0002", "text": "hi", "metadata": {"privileged": "true"}})
    assert t.verified_customer_id == ""


def _chat_body(customer: dict[str, str]) -> bytes:
    return json.dumps(
        {"type": "message", "session_id": "s", "message_id": "m", "customer": customer, "text": "hi"}
    ).encode()


def test_chat_signed_customer_id_and_email_verified():
    t = _one(
        Channel.CHAT, _chat_body({"id": "cus_0014", "email": "Noah.Patel@Example.com"}), "application/json"
    )
    assert (t.verified_email, t.verified_customer_id) == ("noah.patel@example.com", "cus_0014")


def test_chat_guest_handle_nothing_verified():
    t = _one(Channel.CHAT, _chat_body({"handle": "guest-7f3a"}), "application/json")
    assert (t.verified_email, t.verified_phone, t.verified_customer_id) == ("", "", "")


def test_whatsapp_wa_id_verified_as_e164():
    message = {"from": "12125550102", "id": "wamid.1", "timestamp": "1795000000", "type": "text",
               "text": {"body": "where is my order?"}}  # fmt: skip
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, "messages": [message]}
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"value": value}]}]}
    t = _one(Channel.WHATSAPP, json.dumps(body).encode(), "application/json")
    assert t.verified_phone == "+12125550102" and t.verified_email == ""


def test_email_from_address_verified_lowercased():
    t = _email("From: Daniel Okafor <Daniel.Okafor@Example.NET>\n")
    assert t.sender == t.verified_email == "daniel.okafor@example.net"


def test_email_reply_to_elsewhere_nothing_verified():
    # Answers go to Reply-To; vouching for From would mail From's account to whoever Reply-To names.
    t = _email("From: Daniel Okafor <daniel.okafor@example.net>\nReply-To: mallory@evil.example\n")
    assert t.sender == "mallory@evil.example" and t.verified_email == ""


def test_email_reply_to_same_mailbox_verified():
    t = _email("From: daniel.okafor@example.net\nReply-To: Daniel <DANIEL.OKAFOR@example.net>\n")
    assert t.verified_email == "daniel.okafor@example.net"
