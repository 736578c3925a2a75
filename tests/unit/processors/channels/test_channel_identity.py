"""What each parser vouches for: the verified identity fields come from authenticated fields only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from supportflow.processors.channels import EMAIL_CONTENT_TYPE, TICKET_CONTENT_TYPE, parse_event
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


def _whatsapp(wa_id: str) -> Ticket:
    message = {"from": wa_id, "id": "wamid.1", "timestamp": "1795000000", "type": "text",
               "text": {"body": "where is my order?"}}  # fmt: skip
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, "messages": [message]}
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"value": value}]}]}
    return _one(Channel.WHATSAPP, json.dumps(body).encode(), "application/json")


def test_whatsapp_wa_id_verified_as_e164():
    t = _whatsapp("12125550102")
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


# The stdlib parser reads all of these as one of Daniel's addresses (or drops a second mailbox), while a
# mail client, or the person behind the message, may mean another: nobody is vouched for.
AMBIGUOUS_FROM = {
    "bare-address-display-name": "From: daniel.okafor@example.net <mallory@evil.example>\n",
    "name-then-two-angle-addrs": "From: Daniel <daniel.okafor@example.net> <mallory@evil.example>\n",
    "encoded-word-address-only": "From: =?utf-8?b?ZGFuaWVsLm9rYWZvckBleGFtcGxlLm5ldA==?=\n",
    "encoded-word-address-name": "From: =?utf-8?b?ZGFuaWVsLm9rYWZvckBleGFtcGxlLm5ldA==?= <mallory@evil.example>\n",
    "quoted-address-name": 'From: "daniel.okafor@example.net" <mallory@evil.example>\n',
    "fullwidth-at-in-name": "From: Daniel \uff20 <daniel.okafor@example.net>\n",
    "two-addresses": "From: daniel.okafor@example.net, mallory@evil.example\n",
    "two-from-headers": "From: daniel.okafor@example.net\nFrom: mallory@evil.example\n",
    "bare-cr-second-from": "From: mallory@evil.example\rFrom: daniel.okafor@example.net\n",
    "group": "From: friends: daniel.okafor@example.net, mallory@evil.example;\n",
    "reply-to-two-addresses": "From: daniel.okafor@example.net\nReply-To: daniel.okafor@example.net, mallory@evil.example\n",
    "two-reply-to-headers": "From: daniel.okafor@example.net\nReply-To: daniel.okafor@example.net\nReply-To: mallory@evil.example\n",
    "address-in-comment": "From: daniel.okafor@example.net (mallory@evil.example)\n",
    "route-addr": "From: <@evil.example:daniel.okafor@example.net>\n",
    "at-in-quoted-local-part": 'From: "daniel.okafor@example.net"@evil.example\n',
    "not-a-header-line": "From: daniel.okafor@example.net\nnot a header\nReply-To: mallory@evil.example\n",
}  # fmt: skip


@pytest.mark.parametrize("headers", AMBIGUOUS_FROM.values(), ids=AMBIGUOUS_FROM.keys())
def test_email_ambiguous_from_or_reply_to_nothing_verified(headers):
    t = _email(headers)
    assert t.verified_email == ""


def test_email_bare_address_display_name_sender_kept_unverified():
    # The reply target stays what the parser read; it is just not vouched for.
    t = _email("From: daniel.okafor@example.net <mallory@evil.example>\n")
    assert (t.sender, t.verified_email) == ("daniel.okafor@example.net", "")


LEGITIMATE_FROM = {
    "quoted-name": ('From: "Daniel Okafor" <daniel.okafor@example.net>\n', "daniel.okafor@example.net"),
    "unquoted-name": ("From: Daniel Okafor <daniel.okafor@example.net>\n", "daniel.okafor@example.net"),
    "bare-address": ("From: daniel.okafor@example.net\n", "daniel.okafor@example.net"),
    "encoded-word-utf8-name": ("From: =?utf-8?q?Luc=C3=ADa?= <lucia@example.es>\n", "lucia@example.es"),
    "encoded-word-latin1-name": ("From: =?iso-8859-1?q?Luc=EDa_Fern=E1ndez?= <lucia.fernandez@example.es>\n",
                                 "lucia.fernandez@example.es"),
    "encoded-word-comma-name": ("From: =?utf-8?q?M=C3=BCller=2C_Thomas?= <thomas.mueller@example.de>\n",
                                "thomas.mueller@example.de"),
    "raw-utf8-name": ("From: Thomas M\u00fcller <thomas.mueller@example.de>\n", "thomas.mueller@example.de"),
    "period-in-name": ("From: Dr. Daniel Okafor <daniel.okafor@example.net>\n", "daniel.okafor@example.net"),
    "initial-in-name": ("From: Daniel O. <daniel.okafor@example.net>\n", "daniel.okafor@example.net"),
    "name-is-same-address": ('From: "daniel.okafor@example.net" <daniel.okafor@example.net>\n',
                             "daniel.okafor@example.net"),
    "folded": ("From: Daniel Okafor\n <daniel.okafor@example.net>\n", "daniel.okafor@example.net"),
    "comment-name": ("From: daniel.okafor@example.net (Daniel Okafor)\n", "daniel.okafor@example.net"),
    "empty-reply-to": ("From: daniel.okafor@example.net\nReply-To: \n", "daniel.okafor@example.net"),
}  # fmt: skip


@pytest.mark.parametrize("headers, address", LEGITIMATE_FROM.values(), ids=LEGITIMATE_FROM.keys())
def test_email_unambiguous_from_verified(headers, address):
    t = _email(headers)
    assert t.sender == t.verified_email == address


def test_email_from_kelvin_sign_lookalike_not_verified_not_folded():
    # U+212A KELVIN SIGN lowercases to "k": the address must neither be vouched for nor become Daniel's.
    t = _email("From: daniel.o\u212aafor@example.net\n")
    assert t.verified_email == "" and t.sender == "daniel.o\u212aafor@example.net"


def test_api_ticket_kelvin_sign_email_not_verified_not_folded():
    t = _api({"email": "Daniel.O\u212aafor@example.net", "text": "where is my order?"})
    assert t.verified_email == "" and t.sender == "daniel.o\u212aafor@example.net"


def test_chat_signed_kelvin_sign_email_not_verified():
    t = _one(Channel.CHAT, _chat_body({"email": "daniel.o\u212aafor@example.net"}), "application/json")
    assert t.verified_email == "" and t.sender == "daniel.o\u212aafor@example.net"


def test_whatsapp_ten_digit_wa_id_international_not_us():
    # 6465550124 is +64 6 555 0124 (New Zealand); read with the US default it was +1 646 555 0124.
    t = _whatsapp("6465550124")
    assert t.sender == t.verified_phone == "+6465550124"


@pytest.mark.parametrize("wa_id", ["2125550102", "0012125550102", "1 212 555 0102", "(212) 555-0102"])
def test_whatsapp_wa_id_not_valid_international_not_verified(wa_id):
    # Still a ticket (answered and threaded on "+digits"), but it vouches for no number.
    t = _whatsapp(wa_id)
    assert t.verified_phone == "" and t.sender == "+" + "".join(c for c in wa_id if c.isdigit())
