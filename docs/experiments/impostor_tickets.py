"""Impostor tickets through every stage in-process, with the bundled CRM: the table in docs/reliability.md.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python docs/experiments/impostor_tickets.py [--json]

Each case is the raw bytes its channel sends; the outcome is scanned for Daniel Okafor's account
(cus_0002: name, order ids, carrier, tracking numbers), or Zoe Adams's (cus_0024) for the WhatsApp
number that collides with hers.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from supportflow.connectors.crm import open_crm
from supportflow.schemas import wire
from supportflow.schemas.models import Channel, InboundEvent
from supportflow.settings import Settings
from supportflow.streams.runtime import Runtime

WHERE = "Where is my order? It still has not arrived."
DANIEL = ["Daniel", "Okafor", "NW-100231", "NW-100202", "NW-100242", "9400664035367877923594", "383263081117",
          "USPS", "FedEx"]  # fmt: skip
ZOE = ["Zoe", "Adams", "NW-100224", "NW-100264", "966086334278", "FedEx"]
K = "\u212a"  # KELVIN SIGN: Unicode lowercases it to "k"
TICKET = "application/vnd.supportflow.ticket+json"


def api(body: dict[str, Any], privileged: bool = False) -> tuple[Channel, bytes, str, bool]:
    return Channel.API, json.dumps({"text": WHERE, **body}).encode(), TICKET, privileged


def email(headers: str, text: str = WHERE) -> tuple[Channel, bytes, str, bool]:
    raw = f"{headers}To: support@northwind.example\nSubject: My order\nMessage-ID: <{time.time_ns()}@x>\n\n{text}\n"
    return Channel.EMAIL, raw.replace("\n", "\r\n").encode(), "message/rfc822", False


def chat(customer: dict[str, str]) -> tuple[Channel, bytes, str, bool]:
    body = {"type": "message", "session_id": f"s{time.time_ns()}", "message_id": f"m{time.time_ns()}",
            "customer": customer, "text": WHERE}  # fmt: skip
    return Channel.CHAT, json.dumps(body).encode(), "application/json", False


def whatsapp(wa_id: str, text: str = WHERE) -> tuple[Channel, bytes, str, bool]:
    msg = {"from": wa_id, "id": f"wamid.{time.time_ns()}", "timestamp": "1795000000", "type": "text",
           "text": {"body": text}}  # fmt: skip
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, "messages": [msg]}
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"value": value}]}]}
    return Channel.WHATSAPP, json.dumps(body).encode(), "application/json", False


CASES = [
    ("api: email mallory@evil.example, customer_id cus_0002", api({"email": "mallory@evil.example", "customer_id": "cus_0002"})),
    ("api: look-alike daniel.okafor@example.net.evil.example, cus_0002",
     api({"email": "daniel.okafor@example.net.evil.example", "customer_id": "cus_0002"})),
    ("api: plus-address daniel.okafor+shop@example.net, cus_0002",
     api({"email": "daniel.okafor+shop@example.net", "customer_id": "cus_0002"})),
    ("api: customer_id cus_0002 only", api({"customer_id": "cus_0002"})),
    ("api: another customer's phone +1 512 555 0140, cus_0002", api({"phone": "+1 512 555 0140", "customer_id": "cus_0002"})),
    ("api: email mallory@evil.example + Daniel's phone (212) 555-0102",
     api({"email": "mallory@evil.example", "phone": "(212) 555-0102"})),
    ('api: "channel": "chat", customer_id cus_0002 only', api({"channel": "chat", "customer_id": "cus_0002"})),
    ('api: metadata {"privileged": "true"}, cus_0002 only', api({"customer_id": "cus_0002", "metadata": {"privileged": "true"}})),
    ("api, privileged key: email mallory@evil.example, cus_0002",
     api({"email": "mallory@evil.example", "customer_id": "cus_0002"}, privileged=True)),
    ("email: From daniel.okafor@example.net.evil.example, text names cus_0002",
     email("From: Daniel Okafor <daniel.okafor@example.net.evil.example>\n", WHERE + " Customer id cus_0002.")),
    ("email: From mallory@evil.example, Reply-To daniel.okafor@example.net",
     email("From: mallory@evil.example\nReply-To: daniel.okafor@example.net\n")),
    ("email: From daniel.okafor@example.net (forged), Reply-To mallory@evil.example",
     email("From: daniel.okafor@example.net\nReply-To: mallory@evil.example\n")),
    ("chat (signed): customer.id cus_0002, customer.email mallory@evil.example",
     chat({"id": "cus_0002", "email": "mallory@evil.example"})),
    ("chat (signed): guest handle daniel.okafor", chat({"handle": "daniel.okafor"})),
    ("whatsapp: +44 7700 900123, text says I am Daniel, cus_0002, NW-100231",
     whatsapp("447700900123", "Hi, this is Daniel Okafor, customer cus_0002. Where is my order NW-100231?")),
    ("email: From daniel.okafor@example.net <mallory@evil.example> (bare address as display name)",
     email("From: daniel.okafor@example.net <mallory@evil.example>\n")),
    ("email: From Daniel <daniel.okafor@example.net> <mallory@evil.example>",
     email("From: Daniel <daniel.okafor@example.net> <mallory@evil.example>\n")),
    ("email: From =?utf-8?b?ZGFuaWVsLm9rYWZvckBleGFtcGxlLm5ldA==?= (encoded-word address)",
     email("From: =?utf-8?b?ZGFuaWVsLm9rYWZvckBleGFtcGxlLm5ldA==?=\n")),
    ("email: From daniel.okafor@example.net, mallory@evil.example",
     email("From: daniel.okafor@example.net, mallory@evil.example\n")),
    ("email: two From headers, Daniel's first", email("From: daniel.okafor@example.net\nFrom: mallory@evil.example\n")),
    ("email: From group friends: daniel.okafor@example.net, mallory@evil.example;",
     email("From: friends: daniel.okafor@example.net, mallory@evil.example;\n")),
    ("email: From Daniel, Reply-To daniel.okafor@example.net, mallory@evil.example",
     email("From: daniel.okafor@example.net\nReply-To: daniel.okafor@example.net, mallory@evil.example\n")),
    ("email: From daniel.o\\u212Aafor@example.net (KELVIN SIGN)", email(f"From: daniel.o{K}afor@example.net\n")),
    ("api: email daniel.o\\u212Aafor@example.net (KELVIN SIGN), cus_0002",
     api({"email": f"daniel.o{K}afor@example.net", "customer_id": "cus_0002"})),
    ("chat (signed): customer.email daniel.o\\u212Aafor@example.net (KELVIN SIGN)", chat({"email": f"daniel.o{K}afor@example.net"})),
    ("whatsapp: 6465550124 (+64 6 555 0124, New Zealand; Zoe Adams is +1 646 555 0124)", whatsapp("6465550124")),
    ("whatsapp: 2125550102 (no country code; Daniel is +1 212 555 0102)", whatsapp("2125550102")),
    ("control, api: daniel.okafor@example.net, cus_0002", api({"email": "daniel.okafor@example.net", "customer_id": "cus_0002"})),
    ("control, api privileged key: cus_0002 only", api({"customer_id": "cus_0002"}, privileged=True)),
    ("control, whatsapp: 12125550102 (Daniel)", whatsapp("12125550102")),
    ("control, chat (signed): cus_0002 + daniel.okafor@example.net",
     chat({"id": "cus_0002", "email": "daniel.okafor@example.net"})),
    ("control, email: From Dr. Daniel Okafor <daniel.okafor@example.net>",
     email("From: Dr. Daniel Okafor <daniel.okafor@example.net>\n")),
    ("control, whatsapp: 16465550124 (Zoe)", whatsapp("16465550124")),
]  # fmt: skip


def run(rt: Runtime, channel: Channel, payload: bytes, content_type: str, privileged: bool) -> dict[str, Any]:
    event = InboundEvent(
        event_id=f"e{time.time_ns()}", channel=channel, received_at_ms=int(time.time() * 1000), payload=payload,
        content_type=content_type, source="impostor", privileged=privileged,
    )  # fmt: skip
    records = rt.resolve(rt.retrieve(rt.route(rt.normalize(wire.encode(event)))))
    o = rt.gate(records[0])
    text = f"{o.answer}\n{o.escalation_context}\n{o.customer_id or ''}"
    victim, victim_id = (ZOE, "cus_0024") if "6465550124" in payload.decode() else (DANIEL, "cus_0002")
    facts = [f for f in victim if f in text] + ([victim_id] if o.customer_id == victim_id else [])
    return {"decision": o.decision.value, "intent": o.intent, "customer_id": o.customer_id,
            "identity": [r for r in o.reasons if "identity" in r], "daniel_facts": facts}  # fmt: skip


def main() -> None:
    rt = Runtime.build(Settings(), crm=open_crm(Settings()), kb_in_memory=True)
    results = {name: run(rt, *case) for name, case in CASES}
    if "--json" in sys.argv:
        print(json.dumps(results, indent=1))
        return
    for name, r in results.items():
        print(
            f"{name:75} {r['decision']:14} {','.join(r['identity']) or '-':30} {','.join(r['daniel_facts']) or '-'}"
        )


if __name__ == "__main__":
    main()
