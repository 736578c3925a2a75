"""The route stage with the bundled CRM fixture: only the verified sender's own record is bound.

Daniel Okafor (cus_0002, daniel.okafor@example.net, +12125550102) has a shipped order NW-100231, USPS
tracking 9400664035367877923594. Before identity binding, an API ticket from anyone naming cus_0002
was auto-resolved with those facts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supportflow.connectors.crm import SqliteCrm
from supportflow.processors.channels import EMAIL_CONTENT_TYPE, TICKET_CONTENT_TYPE
from supportflow.processors.identity import IDENTITY_MISMATCH, IDENTITY_UNVERIFIED
from supportflow.schemas import wire
from supportflow.schemas.models import Band, Channel, Decision, InboundEvent, PipelineRecord
from supportflow.settings import Settings
from supportflow.streams.runtime import Runtime

# Shared with tests/integration/test_impostor.py: the question, and everything about Daniel's account
# an answer could name (the first name only with a greeting).
WHERE = "Where is my order? It still has not arrived."
DANIEL_FACTS = [
    "Daniel",
    "Okafor",
    "NW-100231",
    "NW-100202",
    "9400664035367877923594",
    "383263081117",
    "USPS",
]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    crm = SqliteCrm(Path(tmp_path_factory.mktemp("crm")) / "crm.sqlite3")  # built from supportflow/data/crm
    rt = Runtime.build(Settings(), crm=crm, kb_in_memory=True)
    yield rt
    crm.close()
    rt.kb.close()


def _api(body: dict[str, Any], privileged: bool = False) -> InboundEvent:
    return InboundEvent(
        event_id="e", channel=Channel.API, received_at_ms=int(time.time() * 1000),
        payload=json.dumps({"ticket_id": f"id-{time.monotonic_ns()}", **body}).encode(),
        content_type=TICKET_CONTENT_TYPE, source="test", privileged=privileged,
    )  # fmt: skip


def _routed(rt: Runtime, event: InboundEvent) -> PipelineRecord:
    [record] = rt.route(rt.normalize(wire.encode(event)))
    assert record.route is not None
    return record


@pytest.mark.parametrize(
    "sender",
    [{"email": "mallory@evil.example"}, {"email": "daniel.okafor@example.net.evil.example"},
     {"email": "daniel.okafor+shop@example.net"}, {"phone": "+1 512 555 0140"}],
    ids=["impostor", "lookalike", "plus-address", "other-customers-phone"],
)  # fmt: skip
def test_route_sender_naming_cus_0002_no_customer_mismatch(runtime, sender):
    record = _routed(runtime, _api({**sender, "customer_id": "cus_0002", "text": WHERE}))
    assert record.customer is None
    assert IDENTITY_MISMATCH in record.route.reasons and record.route.band != Band.AUTO


def test_route_impostor_email_with_victims_phone_no_customer_mismatch(runtime):
    record = _routed(
        runtime, _api({"email": "mallory@evil.example", "phone": "(212) 555-0102", "text": WHERE})
    )
    assert record.customer is None and IDENTITY_MISMATCH in record.route.reasons


def test_route_customer_id_only_unverified_no_customer(runtime):
    record = _routed(runtime, _api({"customer_id": "cus_0002", "text": WHERE}))
    assert record.customer is None
    assert IDENTITY_UNVERIFIED in record.route.reasons and record.route.band != Band.AUTO


def test_route_verified_sender_claiming_own_id_bound(runtime):
    record = _routed(
        runtime, _api({"email": "Daniel.Okafor@Example.NET", "customer_id": "cus_0002", "text": WHERE})
    )
    assert record.customer is not None and record.customer.customer_id == "cus_0002"
    assert not [r for r in record.route.reasons if r.startswith("identity:")]


def test_route_privileged_event_asserted_id_bound(runtime):
    record = _routed(runtime, _api({"customer_id": "cus_0002", "text": WHERE}, privileged=True))
    assert record.customer is not None and record.customer.customer_id == "cus_0002"


def test_route_email_reply_to_impostor_unverified(runtime):
    raw = (
        "From: Daniel Okafor <daniel.okafor@example.net>\r\nReply-To: mallory@evil.example\r\n"
        "To: support@northwind.example\r\nSubject: order\r\nMessage-ID: <rt-1@x>\r\n\r\n" + WHERE + "\r\n"
    )
    event = InboundEvent(
        event_id="e", channel=Channel.EMAIL, received_at_ms=int(time.time() * 1000), payload=raw.encode(),
        content_type=EMAIL_CONTENT_TYPE, source="test",
    )  # fmt: skip
    record = _routed(runtime, event)
    assert record.customer is None and IDENTITY_UNVERIFIED in record.route.reasons


def _decide(rt: Runtime, event: InboundEvent):
    records = rt.resolve(rt.retrieve(rt.route(rt.normalize(wire.encode(event)))))
    return rt.gate(records[0])


def test_stages_impostor_order_status_not_auto_no_account_data(runtime):
    outcome = _decide(
        runtime, _api({"email": "mallory@evil.example", "customer_id": "cus_0002", "text": WHERE})
    )
    assert outcome.decision != Decision.AUTO_RESOLVED and outcome.customer_id is None
    text = outcome.answer + outcome.escalation_context
    assert [f for f in DANIEL_FACTS if f in text] == []
    # The same question from Daniel himself does get his order: the check above is not vacuous.
    own = _decide(
        runtime, _api({"email": "daniel.okafor@example.net", "customer_id": "cus_0002", "text": WHERE})
    )
    assert own.customer_id == "cus_0002" and "NW-100231" in own.answer


def _email_event(headers: str) -> InboundEvent:
    raw = f"{headers}To: support@northwind.example\nSubject: order\nMessage-ID: <rt-{time.monotonic_ns()}@x>\n\n{WHERE}\n"
    return InboundEvent(
        event_id="e", channel=Channel.EMAIL, received_at_ms=int(time.time() * 1000),
        payload=raw.replace("\n", "\r\n").encode(), content_type=EMAIL_CONTENT_TYPE, source="test",
    )  # fmt: skip


@pytest.mark.parametrize(
    "headers",
    ["From: daniel.okafor@example.net <mallory@evil.example>\n",
     "From: Daniel <daniel.okafor@example.net> <mallory@evil.example>\n",
     "From: =?utf-8?b?ZGFuaWVsLm9rYWZvckBleGFtcGxlLm5ldA==?=\n",
     "From: daniel.okafor@example.net, mallory@evil.example\n",
     "From: daniel.okafor@example.net\nFrom: mallory@evil.example\n",
     "From: friends: daniel.okafor@example.net, mallory@evil.example;\n",
     "From: daniel.okafor@example.net\nReply-To: daniel.okafor@example.net, mallory@evil.example\n"],
    ids=["bare-address-name", "two-angle-addrs", "encoded-word-address", "two-addresses", "two-from-headers",
         "group", "reply-to-two-addresses"],
)  # fmt: skip
def test_route_email_ambiguous_from_no_customer_unverified(runtime, headers):
    record = _routed(runtime, _email_event(headers))
    assert record.customer is None
    assert IDENTITY_UNVERIFIED in record.route.reasons and record.route.band != Band.AUTO


@pytest.mark.parametrize(
    "headers",
    ["From: Daniel Okafor <daniel.okafor@example.net>\n", "From: Dr. Daniel Okafor <daniel.okafor@example.net>\n",
     "From: =?utf-8?q?Dani=C3=A9l?= <daniel.okafor@example.net>\n"],
    ids=["name", "period-in-name", "encoded-word-name"],
)  # fmt: skip
def test_route_email_unambiguous_from_bound(runtime, headers):
    record = _routed(runtime, _email_event(headers))
    assert record.customer is not None and record.customer.customer_id == "cus_0002"


def _whatsapp_event(wa_id: str) -> InboundEvent:
    message = {"from": wa_id, "id": f"wamid.{time.monotonic_ns()}", "timestamp": "1795000000", "type": "text",
               "text": {"body": WHERE}}  # fmt: skip
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, "messages": [message]}
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"value": value}]}]}
    return InboundEvent(
        event_id="e", channel=Channel.WHATSAPP, received_at_ms=int(time.time() * 1000),
        payload=json.dumps(body).encode(), content_type="application/json", source="test",
    )  # fmt: skip


def test_route_whatsapp_nz_wa_id_not_us_customer(runtime):
    # Zoe Adams (cus_0024) is +1 646 555 0124; the wa_id 6465550124 is +64 6 555 0124 in New Zealand.
    record = _routed(runtime, _whatsapp_event("6465550124"))
    assert record.ticket.sender == "+6465550124" and record.customer is None


def test_route_whatsapp_wa_id_without_country_code_unverified(runtime):
    record = _routed(runtime, _whatsapp_event("2125550102"))
    assert record.customer is None and IDENTITY_UNVERIFIED in record.route.reasons


def test_route_whatsapp_own_number_bound(runtime):
    record = _routed(runtime, _whatsapp_event("16465550124"))
    assert record.customer is not None and record.customer.customer_id == "cus_0024"


@pytest.mark.parametrize(
    "event",
    [
        _api({"email": "daniel.o\u212aafor@example.net", "text": WHERE}),
        _api({"email": "daniel.o\u212aafor@example.net", "customer_id": "cus_0002", "text": WHERE}),
        _email_event("From: Daniel Okafor <daniel.o\u212aafor@example.net>\n"),
        InboundEvent(
            event_id="e", channel=Channel.CHAT, received_at_ms=1_795_000_000_000, content_type="application/json",
            source="test", payload=json.dumps({"type": "message", "session_id": "s", "message_id": "m-k",
                                               "customer": {"email": "daniel.o\u212aafor@example.net"},
                                               "text": WHERE}).encode(),
        ),
    ],
    ids=["api", "api-claiming-cus_0002", "email", "chat"],
)  # fmt: skip
def test_route_kelvin_sign_email_no_customer_unverified(runtime, event):
    record = _routed(runtime, event)
    assert record.customer is None
    assert IDENTITY_UNVERIFIED in record.route.reasons and record.route.band != Band.AUTO
