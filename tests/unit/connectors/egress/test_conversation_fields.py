"""Schema v5 conversation fields in egress: the transcript in internal notes, the public handoff of an
escalation (posted once, also across redeliveries), closed conversations, and the webhook body."""

from supportflow.connectors.egress import Fate, IdempotencyStore
from supportflow.connectors.egress.fields import (
    TRANSCRIPT_MAX_CHARS,
    TRANSCRIPT_MAX_ENTRIES,
    conversation_section,
)
from supportflow.schemas.models import Author, Decision, Outcome, TranscriptEntry
from tests.fakes.crm_server import Respond
from tests.unit.connectors.egress.builders import dispatcher, message, outcome

T0_MS = 1_772_452_800_000  # 2026-03-02 12:00 UTC
HANDOFF = "Thanks for your patience. A person from our team will take over and reply here within 4 hours."
ESCALATED = dict(
    decision=Decision.ESCALATED, reasons=["rule:legal"], intent="refund_request", answer="",
    escalation_context="Customer threatens legal action over refund NW-100234.",
)  # fmt: skip
ZD_TICKET = "/api/v2/tickets/4711.json"


def _transcript(n: int, text: str = "message {i}") -> list[TranscriptEntry]:
    """``n`` entries, customer and assistant in turn, one minute apart, numbered from 1."""
    return [
        TranscriptEntry(
            author=Author.CUSTOMER if i % 2 else Author.ASSISTANT,
            text=text.format(i=i),
            at_ms=T0_MS + (i - 1) * 60_000,
            ticket_id=f"tkt_{i}",
        )
        for i in range(1, n + 1)
    ]


def _escalated(**kw) -> Outcome:
    return outcome(**{**ESCALATED, **kw})


def _closed(**kw) -> Outcome:
    """The builders know no band for ``closed``; the pipeline gives it the band of the routed message."""
    fields = outcome(Decision.SUGGESTED).model_dump()
    return Outcome(**{**fields, "decision": Decision.CLOSED, "answer": "", **kw})


def _public(requests) -> list:
    return [r for r in requests if r.json["ticket"]["comment"]["public"] is True]


# -- internal notes: the conversation so far --------------------------------------------------------


def test_zendesk_escalation_note_transcript_follows_context_oldest_first(server):
    transcript = [
        TranscriptEntry(author=Author.CUSTOMER, text="Where is my\nrefund?", at_ms=T0_MS, ticket_id="t1"),
        TranscriptEntry(author=Author.ASSISTANT, text="It takes 5 days.", at_ms=T0_MS + 90_000),
    ]
    dispatcher("zendesk", server).handle(message(_escalated(turn=3, transcript=transcript)))
    body = server.recorded("zendesk")[0].json["ticket"]["comment"]["body"]
    assert body.index("legal action") < body.index("Conversation so far")
    assert "Message 3 of this conversation." in body
    tail = body[body.index("Conversation so far") :].splitlines()
    assert tail[-2:] == [
        "[2026-03-02 12:00 UTC] Customer: Where is my refund?",
        "[2026-03-02 12:01 UTC] Assistant: It takes 5 days.",
    ]
    assert "left out" not in body


def test_zendesk_escalation_note_long_transcript_keeps_newest_and_counts_the_rest(server):
    dispatcher("zendesk", server).handle(message(_escalated(turn=26, transcript=_transcript(25))))
    body = server.recorded("zendesk")[0].json["ticket"]["comment"]["body"]
    shown = [line for line in body.splitlines() if line.startswith("[2026-")]
    assert len(shown) == TRANSCRIPT_MAX_ENTRIES
    assert shown[0].endswith("Assistant: message 6") and shown[-1].endswith("Customer: message 25")
    assert "(5 earlier messages left out)" in body


def test_conversation_section_long_entries_stay_within_the_character_bound():
    section = conversation_section(_escalated(turn=11, transcript=_transcript(10, "{i} " + "x" * 1_990)))
    shown = [line for line in section.splitlines() if line.startswith("[2026-")]
    assert sum(len(line) + 1 for line in shown) <= TRANSCRIPT_MAX_CHARS
    assert len(shown) == 3 and shown[-1].split(": ", 1)[1].startswith("10 ")
    assert "(7 earlier messages left out)" in section


def test_conversation_section_newest_entry_over_the_bound_is_cut_not_dropped():
    section = conversation_section(_escalated(turn=2, transcript=_transcript(1, "y" * 20_000)))
    (shown,) = [line for line in section.splitlines() if line.startswith("[2026-")]
    assert len(shown) == TRANSCRIPT_MAX_CHARS and shown.endswith("y\u2026")
    assert "left out" not in section


def test_conversation_section_first_message_without_history_is_empty():
    assert conversation_section(_escalated()) == ""
    assert "no earlier messages on record" in conversation_section(_escalated(turn=4)).lower()


def test_zendesk_draft_note_with_transcript_puts_draft_first(server):
    o = outcome(Decision.SUGGESTED, turn=2, transcript=_transcript(1, "my parcel is late"))
    dispatcher("zendesk", server).handle(message(o))
    body = server.recorded("zendesk")[0].json["ticket"]["comment"]["body"]
    assert body.index(o.answer) < body.index("Conversation so far") < body.index("my parcel is late")
    assert "Message 2 of this conversation." in body


def test_freshdesk_escalation_note_carries_transcript_as_html(server):
    transcript = _transcript(2, "order <NW-{i}>")
    dispatcher("freshdesk", server).handle(message(_escalated(turn=3, transcript=transcript)))
    note = server.recorded("freshdesk", "/api/v2/tickets/4711/notes")[0].json
    assert note["private"] is True
    first, second = note["body"].index("order &lt;NW-1&gt;"), note["body"].index("order &lt;NW-2&gt;")
    assert note["body"].index("Conversation so far") < first < second


# -- escalation handoff: public, once ---------------------------------------------------------------


def test_zendesk_escalation_with_handoff_posts_note_then_public_handoff(server):
    d = dispatcher("zendesk", server, group_map={"rule:legal": 360001})
    handled = d.handle(message(_escalated(handoff_message=HANDOFF)))
    note, handoff = server.recorded("zendesk", ZD_TICKET)
    assert handled.fate == Fate.DELIVERED and (note.status, handoff.status) == (200, 200)
    assert note.json["ticket"]["comment"]["public"] is False and note.json["ticket"]["group_id"] == 360001
    assert handoff.json == {"ticket": {"comment": {"body": HANDOFF, "public": True}}}
    assert note.key != handoff.key


def test_zendesk_escalation_without_handoff_posts_nothing_public(server):
    d = dispatcher("zendesk", server)
    d.handle(message(_escalated(ticket_id="a")))
    d.handle(message(_escalated(ticket_id="b", handoff_message="  \n")))
    assert len(server.recorded("zendesk")) == 2 and _public(server.recorded("zendesk")) == []


def test_zendesk_handoff_redelivered_outcome_is_not_posted_again(server):
    d = dispatcher("zendesk", server)
    first = d.handle(message(_escalated(handoff_message=HANDOFF), 0))
    second = d.handle(message(_escalated(handoff_message=HANDOFF), 1))
    assert (first.fate, second.fate) == (Fate.DELIVERED, Fate.DUPLICATE)
    assert len(_public(server.recorded("zendesk"))) == 1


def test_zendesk_handoff_failed_then_redelivered_posts_it_once_and_the_note_once(server):
    store = IdempotencyStore()
    server.script(Respond(200), *[Respond(500)] * 4, path=ZD_TICKET)  # the note lands, the handoff fails
    first = dispatcher("zendesk", server, store).handle(message(_escalated(handoff_message=HANDOFF)))
    assert first.fate == Fate.DEAD_LETTERED
    again = dispatcher("zendesk", server, store).handle(message(_escalated(handoff_message=HANDOFF)))
    assert again.fate == Fate.DELIVERED
    requests = server.recorded("zendesk", ZD_TICKET)
    assert len([r for r in requests if r not in _public(requests)]) == 1
    assert [r.status for r in _public(requests)] == [500] * 4 + [200]


def test_zendesk_linked_ticket_gets_handoff_once_as_public_comment(server):
    store = IdempotencyStore()
    o = _escalated(conversation_id="chat-42", handoff_message=HANDOFF)
    dispatcher("zendesk", server, store).handle(message(o, 0))
    dispatcher("zendesk", server, store).handle(message(o, 1))
    (ticket,) = server.tickets.of("zendesk")
    assert [c["public"] for c in ticket.comments] == [False, False, True]  # opening, note, handoff
    assert ticket.comments[-1]["body"] == HANDOFF
    assert all(m["supportflow"]["ticket_id"] == o.ticket_id for m in ticket.metadata[1:])


def test_freshdesk_escalation_with_handoff_replies_after_note_and_update(server):
    handled = dispatcher("freshdesk", server).handle(
        message(_escalated(handoff_message="A <person> will\nreply"))
    )
    note, update, reply = server.recorded("freshdesk")
    assert handled.fate == Fate.DELIVERED
    assert (note.path, update.method, reply.path) == (
        "/api/v2/tickets/4711/notes", "PUT", "/api/v2/tickets/4711/reply",
    )  # fmt: skip
    assert reply.json == {"body": "A &lt;person&gt; will<br>reply"} and reply.status == 201
    assert len({note.key, update.key, reply.key}) == 3


def test_freshdesk_handoff_failed_then_redelivered_replies_once(server):
    store = IdempotencyStore()
    server.script(*[Respond(500)] * 4, path="/api/v2/tickets/4711/reply")
    first = dispatcher("freshdesk", server, store).handle(message(_escalated(handoff_message=HANDOFF)))
    again = dispatcher("freshdesk", server, store).handle(message(_escalated(handoff_message=HANDOFF)))
    third = dispatcher("freshdesk", server, store).handle(message(_escalated(handoff_message=HANDOFF)))
    assert (first.fate, again.fate, third.fate) == (Fate.DEAD_LETTERED, Fate.DELIVERED, Fate.DUPLICATE)
    assert [r.status for r in server.recorded("freshdesk", "/api/v2/tickets/4711/reply")] == [500] * 4 + [201]
    assert len(server.recorded("freshdesk", "/api/v2/tickets/4711/notes")) == 1
    assert len(server.recorded("freshdesk", "/api/v2/tickets/4711")) == 1


# -- closed conversations ---------------------------------------------------------------------------


def test_zendesk_closed_solves_with_internal_note_and_tag(server):
    d = dispatcher("zendesk", server, group_map={"track_order": 360002}, default_group_id=9)
    handled = d.handle(message(_closed(turn=4, handoff_message=HANDOFF, transcript=_transcript(3))))
    (req,) = server.recorded("zendesk")
    ticket = req.json["ticket"]
    assert handled.fate == Fate.DELIVERED and req.status == 200
    assert ticket["comment"] == {"body": "Customer closed the conversation (turn 4).", "public": False}
    assert ticket["status"] == "solved" and "supportflow-closed" in ticket["additional_tags"]
    assert "group_id" not in ticket and "priority" not in ticket


def test_freshdesk_closed_resolves_with_private_note_and_no_reply(server):
    d = dispatcher("freshdesk", server, group_map={"track_order": 77})
    handled = d.handle(message(_closed(turn=2, handoff_message=HANDOFF)))
    note, update = server.recorded("freshdesk")
    assert handled.fate == Fate.DELIVERED
    assert note.path == "/api/v2/tickets/4711/notes" and note.json["private"] is True
    assert note.json["body"] == "Customer closed the conversation (turn 2)."
    assert update.json == {
        "tags": ["supportflow", "closed", "track_order", "supportflow-closed"],
        "status": 4,
    }


def test_zendesk_closed_with_acknowledgement_posts_it_publicly(server):
    d = dispatcher("zendesk", server)
    d.handle(message(_closed(turn=2, answer="Glad we could help!")))
    (req,) = server.recorded("zendesk")
    assert req.json["ticket"]["comment"] == {"body": "Glad we could help!", "public": True}
    assert req.json["ticket"]["status"] == "solved"


def test_freshdesk_closed_with_acknowledgement_replies_then_resolves(server):
    d = dispatcher("freshdesk", server)
    d.handle(message(_closed(turn=2, answer="Glad we could help!")))
    reply, update = server.recorded("freshdesk")
    assert reply.path == "/api/v2/tickets/4711/reply" and "Glad we could help!" in reply.json["body"]
    assert update.json["status"] == 4


# -- webhook ----------------------------------------------------------------------------------------


def test_webhook_escalation_body_carries_conversation_fields(server):
    o = _escalated(turn=3, transcript=_transcript(2), handoff_message=HANDOFF)
    dispatcher("webhook", server).handle(message(o))
    body = server.recorded("webhook")[0].json
    assert body["turn"] == 3 and body["handoff_message"] == HANDOFF
    assert body["transcript"] == [
        {"author": "customer", "text": "message 1", "at_ms": T0_MS, "ticket_id": "tkt_1"},
        {"author": "assistant", "text": "message 2", "at_ms": T0_MS + 60_000, "ticket_id": "tkt_2"},
    ]


def test_webhook_closed_outcome_is_posted_with_its_decision(server):
    handled = dispatcher("webhook", server).handle(message(_closed(turn=5)))
    (req,) = server.recorded("webhook")
    assert handled.fate == Fate.DELIVERED and req.status == 202
    assert (req.json["decision"], req.json["turn"]) == ("closed", 5)
