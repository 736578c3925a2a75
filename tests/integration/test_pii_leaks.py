"""Seeded PII never leaves the pipeline unredacted: not in a model prompt, a log line, a metric, the audit topic.

The real pipeline (embedded broker, a real worker process at DEBUG log level) runs with the LLM tier
enabled against a loopback OpenAI-compatible fake that answers with valid, cited JSON. Tickets from
real CRM customers carry emails, phones (US/UK/DE), Luhn-valid cards, mod-97-valid IBANs, IPv4/IPv6
addresses, street addresses and the customer's own name. After the run every surface is scanned for
every seeded string (and its digits-only / compact forms). The outcomes topic is not scanned: it goes
to the CRM and the human agent, who may greet the customer by name.

Guards against a vacuous pass: every ticket must have been answered by the model, every placeholder
kind must show up in the prompts, and the same scanner must find every seeded string in the raw
ingress records.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from supportflow.processors.channels import parse_event
from supportflow.schemas import wire
from supportflow.schemas.errors import SchemaError
from supportflow.schemas.models import AuditEvent, Channel, InboundEvent, Outcome
from supportflow.settings import get_settings
from supportflow.streams.collect import OutcomeReader, read_to_end
from supportflow.streams.embedded import EmbeddedBroker, free_port
from supportflow.streams.harness import canary_event
from supportflow.streams.ingest import publish_events
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import ensure_topics, pipeline_topics
from tests.fakes.citing_llm import CitingOpenAIServer, llm_env, prompt_text

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TICKET_CONTENT_TYPE = "application/vnd.supportflow.ticket+json"

# (customer id, CRM email, text). Customers are real CRM fixture entries (non-VIP, English), so the
# route stage finds them and redaction knows their name, email and phone.
TICKETS = [
    ("cus_0002", "daniel.okafor@example.net",
     "I forgot my password and cannot reset it, the reset email never arrives. Send it to "
     "d.okafor.home@gmail.com or call me on +1 (650) 253-0000. Daniel Okafor"),
    ("cus_0002", "daniel.okafor@example.net",
     "I forgot my password and the reset link never arrives at daniel.okafor@example.net. "
     "My number is +1 212 555 0102. Thanks, Daniel Okafor"),
    ("cus_0006", "priya.raman@example.com",
     "Which payment methods do you accept? My Visa 4111 1111 1111 1111 was declined. Priya Raman"),
    ("cus_0007", "ethan.walsh@example.org",
     "How do I change the shipping address on my order? New address: 221B Baker Street, London, "
     "mobile 07700 900123. Ethan Walsh"),
    ("cus_0031", "henry.lawson@example.com",
     "How do I change the shipping address on my order? New address: Hauptstraße 5, Berlin, "
     "phone +49 30 901820. Henry Lawson"),
    ("cus_0024", "zoe.adams@example.com",
     "What is your refund policy for returned items? Refund to GB82 WEST 1234 5698 7654 32 please. Zoe Adams"),
    ("cus_0014", "noah.patel@example.com",
     "How can I edit my account details? I logged in from 203.0.113.42 and 2001:db8::8a2e:370:7334, "
     "my phone is (415) 555-2671. Noah Patel"),
    ("cus_0034", "olivia.bennett@example.com",
     "What is your refund policy? I live at 1600 Pennsylvania Avenue NW, landline +44 20 7946 0958. "
     "Olivia Bennett"),
    ("cus_0020", "chloe.nguyen@example.com",
     "Which payment methods do you accept? Can I pay from DE89 3704 0044 0532 0130 00 or with my "
     "Mastercard 5500 0000 0000 0004? Chloe Nguyen"),
]  # fmt: skip

# Every seeded PII string, by kind, exactly as written in the tickets.
SEEDED: dict[str, list[str]] = {
    "email": ["d.okafor.home@gmail.com", "daniel.okafor@example.net"],
    "phone": ["+1 (650) 253-0000", "+1 212 555 0102", "07700 900123", "+49 30 901820", "(415) 555-2671",
              "+44 20 7946 0958"],
    "card": ["4111 1111 1111 1111", "5500 0000 0000 0004"],
    "iban": ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00"],
    "ip": ["203.0.113.42", "2001:db8::8a2e:370:7334"],
    "address": ["221B Baker Street", "Hauptstraße 5", "1600 Pennsylvania Avenue"],
    "name": ["Daniel Okafor", "Priya Raman", "Ethan Walsh", "Henry Lawson", "Zoe Adams", "Noah Patel",
             "Olivia Bennett", "Chloe Nguyen"],
}  # fmt: skip
# Surnames alone are PII too ("Thanks, Okafor"); these are distinctive enough to scan on word boundaries.
SURNAMES = ["Okafor", "Raman", "Walsh", "Lawson", "Adams", "Patel", "Bennett", "Nguyen"]
PLACEHOLDERS = ["[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[IP]", "[ADDRESS]", "[NAME]"]


def _needles() -> dict[str, re.Pattern[str]]:
    """Seeded string -> case-insensitive pattern matching it and its reformatted variants."""
    needles: dict[str, re.Pattern[str]] = {}
    for kind, values in SEEDED.items():
        for value in values:
            forms = {value}
            if kind in ("phone", "card"):
                forms.add(re.sub(r"\D", "", value))  # +49 30 901820 -> 4930901820 (E.164, logs)
            if kind in ("card", "iban"):
                forms.add(value.replace(" ", ""))
            alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
            needles[value] = re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w])", re.IGNORECASE)
    for surname in SURNAMES:
        needles[surname] = re.compile(rf"\b{re.escape(surname)}\b", re.IGNORECASE)
    return needles


NEEDLES = _needles()


def find_leaks(haystacks: Iterable[str]) -> list[tuple[str, str]]:
    """(seeded string, surrounding text) for every occurrence of seeded PII in ``haystacks``."""
    leaks = []
    for text in haystacks:
        for value, pattern in NEEDLES.items():
            for m in pattern.finditer(text):
                leaks.append((value, text[max(0, m.start() - 60) : m.end() + 60]))
    return leaks


def _event(n: int, customer_id: str, email: str, text: str) -> InboundEvent:
    body = {"ticket_id": f"pii-{n:03d}", "customer_id": customer_id, "email": email, "text": text}
    return InboundEvent(
        event_id=f"evt_pii_{n:03d}", channel=Channel.API, received_at_ms=int(time.time() * 1000),
        payload=json.dumps(body, ensure_ascii=False).encode(), content_type=TICKET_CONTENT_TYPE,
        source="test_pii_leaks",
    )  # fmt: skip


@dataclass
class Surfaces:
    outcomes: dict[str, Outcome]
    prompts: list[str]
    log_lines: list[str]
    metric_lines: list[str]
    audit_events: list[AuditEvent]
    ingress_payloads: list[str]


def _wait_outcomes(reader: OutcomeReader, ticket_ids: set[str], timeout_s: float, log: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not ticket_ids <= set(reader.collected.outcomes):
        reader.poll(0.2)
    missing = ticket_ids - set(reader.collected.outcomes)
    assert not missing, f"no outcome after {timeout_s}s for {sorted(missing)}; worker log: {log}"


def _scrape(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text: str = response.read().decode("utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _audit_events(bootstrap: str, topic: str) -> list[AuditEvent]:
    events = []
    for _key, value in read_to_end(bootstrap, topic):
        try:
            events.append(wire.decode(value, AuditEvent))
        except SchemaError:
            continue
    return events


@pytest.fixture(scope="module")
def surfaces(tmp_path_factory) -> Surfaces:
    settings = get_settings()
    t = settings.topics
    log_path = tmp_path_factory.mktemp("pii-worker") / "worker-0.log"
    metrics_port = free_port()
    with CitingOpenAIServer() as llm, EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, pipeline_topics(settings))
        env = {
            **llm_env(llm.base_url),
            "SUPPORTFLOW_LOG_LEVEL": "DEBUG",
            "SUPPORTFLOW_METRICS_PORT": str(metrics_port),
        }
        worker = WorkerProcess(broker.bootstrap, embedded=True, env=env, log_path=log_path)
        reader = OutcomeReader(broker.bootstrap, t.full(t.outcomes), t.full(t.dead_letter))
        try:
            canary = canary_event()
            publish_events(broker.bootstrap, t.full(t.ingress), [canary])
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and not reader.collected.total and worker.alive():
                reader.poll(0.2)
            assert reader.collected.total, f"worker not ready; log: {log_path}"
            events = [_event(n, *ticket) for n, ticket in enumerate(TICKETS)]
            publish_events(broker.bootstrap, t.full(t.ingress), events)
            expected = {parse_event(e, e.received_at_ms)[0].ticket_id for e in events}
            _wait_outcomes(reader, expected, 180, str(log_path))
            metric_lines = _scrape(metrics_port)  # before the worker stops: its registry dies with it
        finally:
            reader.close()
            stop_all([worker])
        outcomes = {k: v for k, v in reader.collected.outcomes.items() if k in expected}
        audit = _audit_events(broker.bootstrap, t.full(t.audit))
        ingress = [
            wire.decode(v, InboundEvent).payload.decode("utf-8")
            for _, v in read_to_end(broker.bootstrap, t.full(t.ingress))
        ]
        prompts = [prompt_text(r.body) for r in llm.requests]
    log_lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    return Surfaces(outcomes, prompts, log_lines, metric_lines, audit, ingress)


def _check(surface: str, haystacks: list[str]) -> None:
    leaks = find_leaks(haystacks)
    print(
        f"PII scan {surface}: {len(haystacks)} scanned for {len(NEEDLES)} seeded strings: {len(leaks)} leaks"
    )
    shown = "\n".join(f"  {value!r} in ...{context!r}..." for value, context in leaks[:10])
    assert not leaks, f"{len(leaks)} PII occurrences in {surface}, e.g.:\n{shown}"


def _luhn_ok(number: str) -> bool:
    digits = [int(c) for c in reversed(re.sub(r"\D", "", number))]
    return sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0


def _iban_ok(iban: str) -> bool:
    compact = iban.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


def test_pii_seeds_are_valid_and_in_the_tickets():
    assert all(_luhn_ok(card) for card in SEEDED["card"])
    assert all(_iban_ok(iban) for iban in SEEDED["iban"])
    texts = " ".join(text for _, _, text in TICKETS)
    assert [v for values in SEEDED.values() for v in values if v not in texts] == []


def test_pii_scan_every_ticket_was_answered_by_the_model(surfaces):
    assert len(surfaces.outcomes) == len(TICKETS)
    unanswered = {tid: o.reasons for tid, o in surfaces.outcomes.items() if not o.model}
    assert not unanswered, f"tickets the model never saw prove nothing: {unanswered}"
    assert len(surfaces.prompts) >= len(TICKETS)
    intents = sorted(o.intent for o in surfaces.outcomes.values())
    print(f"PII scan: {len(surfaces.prompts)} prompts; intents {intents}")


def test_pii_scan_scanner_finds_every_seeded_string_in_raw_ingress(surfaces):
    found = {value for value, _ in find_leaks(surfaces.ingress_payloads)}
    assert found == set(NEEDLES), f"scanner misses {sorted(set(NEEDLES) - found)}"


def test_pii_scan_prompts_carry_placeholders_not_pii(surfaces):
    joined = "\n".join(surfaces.prompts)
    assert [p for p in PLACEHOLDERS if p not in joined] == []
    _check("prompts", surfaces.prompts)


def test_pii_scan_worker_log_has_no_pii(surfaces):
    assert any(" DEBUG " in line for line in surfaces.log_lines), "the worker did not log at DEBUG"
    _check("worker log lines", surfaces.log_lines)


def test_pii_scan_metric_labels_have_no_pii(surfaces):
    assert any(line.startswith("supportflow_llm_calls_total{") and 'outcome="ok"' in line
               for line in surfaces.metric_lines), "scraped metrics do not show the model calls"  # fmt: skip
    _check("metric lines", surfaces.metric_lines)


def test_pii_scan_audit_topic_has_no_pii(surfaces):
    audited = {e.ticket_id for e in surfaces.audit_events}
    assert set(surfaces.outcomes) <= audited, "a decided ticket has no audit record"
    records = [json.dumps(e.model_dump(mode="json"), ensure_ascii=False) for e in surfaces.audit_events]
    _check("audit records", records)
