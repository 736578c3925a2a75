"""Golden conversations: the bundled file, rendering onto the real channel parsers, and scoring (no broker)."""

import itertools
import re
import time
from email import policy
from email.parser import BytesParser

import pytest

from supportflow.cli.main import main
from supportflow.evals.golden_conversations import (
    Conversation,
    api_thread,
    chat_session,
    conversation_markdown,
    default_conversations_path,
    load_conversations,
    load_customers,
    message_id,
    publish_steps,
    render_turn,
    turn_ticket_id,
)
from supportflow.evals.golden_score import reopen_figures, score_conversations, turn_results
from supportflow.processors.channels.common import conversation_id_for
from supportflow.processors.channels.parse import parse_event
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Band, Channel, Decision, Outcome, Tier

START_MS = 1_790_000_000_000
CONVERSATIONS = load_conversations(default_conversations_path())
BY_ID = {c.id: c for c in CONVERSATIONS}


def turns_expecting(reason):
    return [(c.id, k) for c in CONVERSATIONS for k, t in enumerate(c.turns, 1) if reason in t.reasons_include]


def test_load_conversations_bundled_file_covers_every_kind_the_set_promises():
    assert len(CONVERSATIONS) >= 40
    assert {c.channel for c in CONVERSATIONS} == set(Channel)
    assert all(2 <= len(c.turns) <= 4 for c in CONVERSATIONS)
    assert len(turns_expecting("conversation:not_helped")) >= 8
    assert len(turns_expecting("conversation:repeated")) >= 5
    assert len(turns_expecting("conversation:unresolved")) >= 4
    closed = [(c.id, k) for c in CONVERSATIONS for k, t in enumerate(c.turns, 1)
              if t.decision == Decision.CLOSED and "conversation:burst" not in t.reasons_include]  # fmt: skip
    assert len(closed) >= 8
    one_more = [t for c in CONVERSATIONS for t in c.turns if "one more thing" in t.text.lower()]
    assert one_more and all(t.expected_decision != Decision.CLOSED for t in one_more)
    bursts = [c for c in CONVERSATIONS if any(len(step) > 1 for step in c.steps())]
    assert len(bursts) >= 4 and {c.channel for c in bursts} == {Channel.CHAT, Channel.WHATSAPP}
    assert len([c for c in CONVERSATIONS if "follow_up" in c.tags]) >= 6
    assert len([c for c in CONVERSATIONS if any(t.sender for t in c.turns)]) >= 2
    later_rules = [c.id for c in CONVERSATIONS
                   if any(r.startswith("rule:") for t in c.turns[1:] for r in t.reasons_include)]  # fmt: skip
    assert len(later_rules) >= 3


def test_load_conversations_customers_and_orders_exist_in_the_crm_fixture():
    customers, owners = load_customers()
    for c in CONVERSATIONS:
        assert c.customer in customers
        for k, turn in enumerate(c.turns, 1):
            sender = c.sender_of(k)
            assert sender in customers, (c.id, k)
            for order in re.findall(r"NW-\d+", turn.text):
                assert owners[order] == sender, (c.id, k, order)


def expected_conversation_id(conv: Conversation) -> str:
    customer = load_customers()[0][conv.customer]
    return {
        Channel.EMAIL: conversation_id_for("email", message_id(conv, 1)),
        Channel.CHAT: conversation_id_for("chat", chat_session(conv)),
        Channel.WHATSAPP: conversation_id_for("whatsapp", str(customer["phone"])),
        Channel.API: api_thread(conv),
    }[conv.channel]


def expected_sender(conv: Conversation, k: int) -> str:
    customer = load_customers()[0][conv.sender_of(k)]
    return str(customer["phone" if conv.channel == Channel.WHATSAPP else "email"])


def test_render_turn_every_turn_parses_into_its_thread_sender_and_predicted_ticket_id():
    seen = set()
    for conv in CONVERSATIONS:
        for k in range(1, len(conv.turns) + 1):
            [ticket] = parse_event(render_turn(conv, k, START_MS), START_MS)
            assert ticket.ticket_id == turn_ticket_id(conv, k)
            assert ticket.conversation_id == expected_conversation_id(conv), (conv.id, k)
            assert ticket.sender == expected_sender(conv, k)
            assert ticket.text == conv.turns[k - 1].text
            seen.add(ticket.ticket_id)
    assert len(seen) == sum(len(c.turns) for c in CONVERSATIONS)


def test_render_turn_email_reply_references_the_first_message_id():
    conv = BY_ID["ur-01"].model_copy(update={"channel": Channel.EMAIL, "subject": "Orders"})
    raw = render_turn(conv, 3, START_MS).payload
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert str(msg["References"]).split() == [f"<{message_id(conv, 1)}>", f"<{message_id(conv, 2)}>"]
    assert str(msg["In-Reply-To"]) == f"<{message_id(conv, 2)}>"
    [ticket] = parse_event(render_turn(conv, 3, START_MS), START_MS)
    assert ticket.is_reply and ticket.subject == "Orders"


def test_render_turn_impostor_claims_the_thread_with_a_different_sender():
    for cid in ("im-01", "im-02", "im-03"):
        conv = BY_ID[cid]
        [first] = parse_event(render_turn(conv, 1, START_MS), START_MS)
        [other] = parse_event(render_turn(conv, 2, START_MS), START_MS)
        assert other.conversation_id == first.conversation_id
        assert other.sender != first.sender and other.verified_email != first.verified_email
        assert conv.expected_turn(2) == 1
    assert BY_ID["im-03"].expected_turn(3) == 2  # the customer's own thread goes on


@pytest.mark.parametrize("cid", ["nh-01", "nh-02", "nh-03", "nh-04"])
def test_render_turn_message_times_are_spaced_by_gap_s(cid):
    conv = BY_ID[cid]
    [t1] = parse_event(render_turn(conv, 1, START_MS), 0)
    [t2] = parse_event(render_turn(conv, 2, START_MS), 0)
    assert t1.received_at_ms == START_MS
    assert t2.received_at_ms - t1.received_at_ms == conv.gap_s(2) * 1000


def test_publish_steps_bursts_share_a_wave_and_replies_wait_for_the_next():
    waves = [list(wave.events(live=False)) for wave in publish_steps(CONVERSATIONS)]
    first = [ref for ref, _ in waves[0]]
    assert [ref for ref in first if ref[0] == "bu-01"] == [("bu-01", 1), ("bu-01", 2), ("bu-01", 3)]
    at = first.index(("bu-01", 1))
    assert first[at : at + 3] == [("bu-01", 1), ("bu-01", 2), ("bu-01", 3)]  # back to back
    assert ("nh-01", 2) in [ref for ref, _ in waves[1]] and ("nh-01", 2) not in first
    assert [ref for ref, _ in waves[1] if ref[0] == "bu-03"] == [("bu-03", 2), ("bu-03", 3)]
    assert len(waves) == max(len(c.steps()) for c in CONVERSATIONS)


def test_publish_steps_live_wave_sends_burst_pieces_gap_apart_dated_when_sent():
    before = int(time.time() * 1000)
    wave = publish_steps([BY_ID["bu-01"]])[0]
    times = [parse_event(event, 0)[0].received_at_ms for _, event in wave.events(live=True)]
    assert times[0] >= before  # dated when taken, not in advance
    conv = BY_ID["bu-01"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    never_early = [gap >= conv.gap_s(k) * 1000 - 5 for gap, k in zip(gaps, (2, 3), strict=True)]
    assert all(never_early), gaps


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


TWO_TURNS = """
- id: x-1
  customer: {customer}
  channel: {channel}
  turns:
    - {{text: "{text}", band: auto, intent: track_order}}
    - {{text: "thanks", decision: closed{extra}}}
"""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"customer": "cus_9999"}, "customer cus_9999 is not in the CRM fixture"),
        ({"text": "Where is NW-100201?"}, "order NW-100201 is not cus_0002's"),
        ({"extra": ", band: auto"}, "exactly one of 'decision' and 'band'"),
        ({"extra": ", sender: cus_9998"}, "sender cus_9998 is not in the CRM fixture"),
        ({"extra": ", reasons_include: [not_helped]"}, "not of the form 'kind:name'"),
    ],
)
def test_load_conversations_bad_case_is_refused_naming_file_and_case(tmp_path, fields, message):
    values = {"customer": "cus_0002", "channel": "chat", "text": "Where is NW-100231?", "extra": ""}
    path = write(tmp_path, TWO_TURNS.format(**{**values, **fields}))
    with pytest.raises(InvalidInputError, match=message) as info:
        load_conversations(path)
    assert f"{path}:x-1" in str(info.value)


def test_load_conversations_two_whatsapp_threads_from_one_number_are_refused(tmp_path):
    one = TWO_TURNS.format(customer="cus_0002", channel="whatsapp", text="Where is NW-100231?", extra="")
    path = write(tmp_path, one + one.replace("x-1", "x-2"))
    with pytest.raises(InvalidInputError, match="x-2: WhatsApp sender cus_0002 already writes in x-1"):
        load_conversations(path)


def test_cmd_eval_golden_unreadable_conversations_exits_2_before_starting_anything(tmp_path):
    assert main(["eval", "golden", "--conversations", str(tmp_path / "missing.yaml")]) == 2


# ------------------------------------------------------------------------------------------ scoring

SCORED = """
- id: s-1
  customer: cus_0002
  channel: chat
  tags: [not_helped]
  turns:
    - {text: "Where is my order NW-100231?", band: auto, intent: track_order, facts: ["9400"]}
    - {text: "that didn't help", decision: escalated, reasons_include: [conversation:not_helped]}
- id: s-2
  customer: cus_0006
  channel: api
  turns:
    - {text: "How do I reset my password?", band: auto, intent: recover_password}
    - {text: "How do I add an address?", band: auto, intent: set_up_shipping_address}
    - {text: "And the payment methods?", decision: escalated, reasons_include: [conversation:unresolved]}
- id: s-3
  customer: cus_0010
  channel: whatsapp
  turns:
    - {text: "What payment methods do you accept?", band: auto, intent: check_payment_methods}
    - {text: "thanks, that worked!", decision: closed}
- id: s-4
  customer: cus_0020
  channel: chat
  turns:
    - {text: "hi", decision: closed, reasons_include: [conversation:burst]}
    - {text: "how do I reset my password", gap_s: 2, band: auto, intent: recover_password}
    - {text: "still not working", decision: escalated, reasons_include: [conversation:not_helped]}
"""


def out(decision, *reasons, intent="track_order", answer="", citations=(), turn=1):
    band = {Decision.AUTO_RESOLVED: Band.AUTO, Decision.SUGGESTED: Band.SUGGEST}.get(decision, Band.ESCALATE)
    return Outcome(ticket_id="t", conversation_id="c", channel=Channel.CHAT, decision=decision,
                   reasons=list(reasons), intent=intent, confidence=0.9, band=band, tier=Tier.COMMODITY,
                   answer=answer, citations=list(citations), trace_id="x", turn=turn)  # fmt: skip


A, E, C = Decision.AUTO_RESOLVED, Decision.ESCALATED, Decision.CLOSED
ARTICLES = {"track_order": ["track-your-order"], "recover_password": ["reset-your-password"],
            "set_up_shipping_address": ["manage-shipping-addresses"], "check_payment_methods": ["payment-methods"]}  # fmt: skip


def scored(tmp_path, outcomes):
    convs = load_conversations(write(tmp_path, SCORED))
    return turn_results(convs, outcomes, ARTICLES)


def test_score_conversations_per_turn_figures_reopen_rate_and_closed(tmp_path):
    outcomes = {
        # s-1: answered without the tracking number (bad), then reopened as expected.
        ("s-1", 1): out(A, answer="It is on its way.", citations=["track-your-order#status"]),
        ("s-1", 2): out(E, "conversation:not_helped:phrase", turn=2),
        # s-2: two good answers, the third message not escalated (a recall miss).
        ("s-2", 1): out(A, intent="recover_password", citations=["reset-your-password#steps"]),
        ("s-2", 2): out(
            A, intent="set_up_shipping_address", citations=["manage-shipping-addresses#add"], turn=2
        ),
        ("s-2", 3): out(A, intent="check_payment_methods", citations=["payment-methods#cards"], turn=3),
        # s-3: good answer, closing seen.
        ("s-3", 1): out(A, intent="check_payment_methods", citations=["payment-methods#cards"]),
        ("s-3", 2): out(C, turn=2),
        # s-4: burst folded, answered, reopened.
        ("s-4", 1): out(C, "conversation:burst"),
        ("s-4", 2): out(A, intent="recover_password", citations=["reset-your-password#steps"], turn=2),
        ("s-4", 3): out(E, "conversation:not_helped", turn=3),
    }
    s = score_conversations(scored(tmp_path, outcomes))
    assert (s["conversations"], s["cases"], s["missing"]) == (4, 10, 0)
    t1, t2, t3 = s["per_turn"]["1"], s["per_turn"]["2"], s["per_turn"]["3+"]
    assert (t1["cases"], t1["auto_resolved"], t1["bad_answers"], t1["decision_accuracy"]) == (4, 3, 1, 1.0)
    assert t1["escalation_recall"] is None
    assert (t2["cases"], t2["decision_accuracy"], t2["escalation_recall"]) == (4, 1.0, 1.0)
    assert (t3["cases"], t3["decision_accuracy"], t3["escalation_recall"]) == (2, 0.5, 0.5)
    assert t3["bad_answers"] == 1
    assert s["bad_answers"] == 2 and s["bad_answer_rate"] == round(2 / 6, 4)
    assert s["escalation_recall"] == round(2 / 3, 4) and s["escalation_precision"] == 1.0
    assert (s["closed_expected"], s["closed_accuracy"], s["closed_when_not_expected"]) == (2, 1.0, 0)
    # Six automatic answers; s-1#1 and s-4#2 were followed by "did not help".
    assert (s["automatic_answers"], s["reopened"], s["reopen_rate"]) == (6, 2, round(2 / 6, 4))
    assert {f["id"] for f in s["failures"]} == {"s-1#1", "s-2#3"}
    assert "missing_fact:9400" in next(f for f in s["failures"] if f["id"] == "s-1#1")["problems"]
    assert "## Conversations" in conversation_markdown(s) and "s-2#3" in conversation_markdown(s)


def test_score_conversations_missing_reason_and_wrong_closing_are_failures(tmp_path):
    outcomes = {
        ("s-1", 1): out(A, answer="tracking 9400", citations=["track-your-order#status"]),
        ("s-1", 2): out(E, "rule:anger", turn=2),  # escalated, but not for the reason expected
        ("s-3", 1): out(C),  # a question closed: the customer gets nothing
    }
    s = score_conversations(scored(tmp_path, outcomes))
    assert s["missing"] == 7 and s["closed_when_not_expected"] == 1
    assert s["per_turn"]["2"]["reasons_accuracy"] == 0.0 and s["per_turn"]["2"]["decision_accuracy"] == 0.25
    problems = {f["id"]: f["problems"] for f in s["failures"]}
    assert problems["s-1#2"] == ["missing_reason:conversation:not_helped"]
    assert s["reopen_rate"] == 0.0 and s["automatic_answers"] == 1


def test_reopen_figures_burst_reply_is_judged_by_the_message_carrying_the_burst(tmp_path):
    text = """
- id: b-1
  customer: cus_0028
  channel: whatsapp
  turns:
    - {text: "Where is my order NW-100285?", band: auto, intent: track_order}
    - {text: "that didn't help", decision: closed, reasons_include: [conversation:burst]}
    - {text: "it says delivered but nothing is here", gap_s: 2, decision: escalated}
"""
    convs = load_conversations(write(tmp_path, text))
    outcomes = {("b-1", 1): out(A), ("b-1", 2): out(C, "conversation:burst"),
                ("b-1", 3): out(E, "conversation:not_helped")}  # fmt: skip
    assert reopen_figures(turn_results(convs, outcomes, ARTICLES)) == (1, 1)


def test_render_events_cases_sharing_a_whatsapp_number_dated_beyond_thread_age():
    from supportflow.evals.golden import THREAD_SPACING_MS, default_set_path, load_golden, render_events
    from supportflow.settings import ConversationSettings

    cases = load_golden(default_set_path())
    events = render_events(cases, now_ms=10**13)
    by_thread: dict[str, list[int]] = {}
    for event in events:
        (ticket,) = parse_event(event, 0)
        by_thread.setdefault(ticket.conversation_id, []).append(ticket.received_at_ms)
    shared = [sorted(times) for times in by_thread.values() if len(times) > 1]
    assert shared  # the set has customers writing more than one WhatsApp case
    max_age_ms = ConversationSettings().max_age_s * 1000
    assert max_age_ms < THREAD_SPACING_MS
    assert all(b - a > max_age_ms for times in shared for a, b in itertools.pairwise(times))
