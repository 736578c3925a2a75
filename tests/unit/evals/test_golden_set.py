"""The bundled golden set: size, coverage, policy-derived bands, and channel renders the real parsers accept."""

import json
from collections import Counter

import pytest

from supportflow.evals.golden import (
    GoldenCase,
    GoldenTicket,
    default_set_path,
    load_golden,
    pipeline_ticket_id,
    render_event,
)
from supportflow.processors.channels import parse_event
from supportflow.processors.router.policy import load_policy
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Band, Channel


@pytest.fixture(scope="module")
def cases():
    return load_golden(default_set_path())


def test_golden_set_bundled_has_at_least_300_cases_on_every_channel(cases):
    assert len(cases) >= 300
    assert set(Counter(c.channel for c in cases)) == set(Channel)


def test_golden_set_covers_every_policy_rule_and_language(cases):
    tags = Counter(t for c in cases for t in c.tags)
    for tag in (
        "policy:vip",
        "policy:legal",
        "policy:account_closure",
        "policy:refund",
        "policy:anger",
        "policy:human_request",
        "policy:out_of_scope",
        "lang:es",
        "lang:de",
        "lang:fr",
        "lang:pt",
        "refund:below",
        "negative:anger",
    ):
        assert tags[tag] >= 1, tag
    assert len({c.expected_intent for c in cases if "bitext" in c.tags}) == 27


def test_golden_set_bitext_bands_follow_the_shipped_policy(cases):
    policy = load_policy()
    for c in cases:
        if "bitext" in c.tags and not any(t.startswith("policy:") for t in c.tags):
            assert c.expected_band == policy.for_intent(c.expected_intent).band, c.id


def test_golden_set_rule_cases_are_never_auto(cases):
    cautious = {
        "policy:vip",
        "policy:legal",
        "policy:account_closure",
        "policy:refund",
        "policy:anger",
        "policy:human_request",
        "policy:out_of_scope",
        "policy:language",
    }
    for c in cases:
        if cautious & set(c.tags):
            assert c.expected_band != Band.AUTO, c.id


def test_render_event_every_bundled_case_parses_to_its_predicted_ticket_id(cases):
    for c in cases:
        event = render_event(c, now_ms=1_795_000_000_000)
        tickets = parse_event(event, event.received_at_ms)
        assert len(tickets) == 1, c.id
        t = tickets[0]
        assert t.ticket_id == pipeline_ticket_id(c)
        assert t.channel == c.channel
        assert " ".join(t.text.split()) == " ".join(c.ticket.text.split())


def test_pipeline_ticket_id_differs_per_channel_for_the_same_id():
    ticket = GoldenTicket(text="hi", email="a@example.com", phone="+14155550101")
    ids = {pipeline_ticket_id(GoldenCase(id="x-1", channel=ch, ticket=ticket, expected_intent="oos",
                                         expected_band=Band.SUGGEST)) for ch in Channel}  # fmt: skip
    assert len(ids) == 4


def _write(tmp_path, rows):
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROW = {"id": "a-1", "channel": "api", "ticket": {"text": "where is my order", "customer_id": "cus_0002"},
       "expected_intent": "track_order", "expected_band": "auto"}  # fmt: skip


def test_load_golden_duplicate_id_raises(tmp_path):
    with pytest.raises(InvalidInputError, match="duplicate golden id"):
        load_golden(_write(tmp_path, [ROW, ROW]))


def test_load_golden_unknown_band_raises_with_line_number(tmp_path):
    with pytest.raises(InvalidInputError, match=":2:"):
        load_golden(_write(tmp_path, [ROW, {**ROW, "id": "a-2", "expected_band": "maybe"}]))


def test_load_golden_whatsapp_case_without_phone_raises(tmp_path):
    with pytest.raises(InvalidInputError, match=r"needs ticket\.phone"):
        load_golden(_write(tmp_path, [{**ROW, "channel": "whatsapp"}]))
