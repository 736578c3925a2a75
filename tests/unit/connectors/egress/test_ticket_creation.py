"""Outcomes of conversations the helpdesk has no ticket for: egress finds or creates one, exactly once.

Every channel: an email, chat, WhatsApp or API conversation id is not a helpdesk ticket id, so the first
outcome creates a ticket carrying the conversation id (Zendesk ``external_id``, Freshdesk ``sf-`` tag);
later messages, retries and redeliveries land on that ticket.
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from supportflow.connectors.egress import Fate, IdempotencyStore
from supportflow.connectors.egress.freshdesk import conversation_tag
from supportflow.schemas import wire
from supportflow.schemas.models import Channel, DeadLetter, Decision
from tests.fakes.crm_server import Respond
from tests.unit.connectors.egress.builders import dispatcher, message, outcome

#: channel -> (conversation id, message external_id) as ingress gives them (docs/ingress.md).
SOURCES = {
    Channel.API: ("ord-2211", "api-tkt-1"),
    Channel.EMAIL: ("<CAF=thread-1@mail.example.com>", "<CAF=msg-1@mail.example.com>"),
    Channel.CHAT: ("chat_7f3a", "chatmsg-101"),
    Channel.WHATSAPP: ("wa:+15125550140", "wamid.HBgLMTUxMjU1NTAxNDAVAgASGBQz"),
}
CHANNELS = list(SOURCES)
FALLBACK = "support-inbox@example.com"


def _outcome(channel: Channel, n: int = 1, **kw):
    conversation, external_id = SOURCES[channel]
    return outcome(
        ticket_id=f"tkt_{n}", conversation_id=conversation, channel=channel,
        external_id=external_id if n == 1 else f"{external_id}-{n}", **kw,
    )  # fmt: skip


def _freshdesk(server, store=None, **kw):
    return dispatcher("freshdesk", server, store, fallback_requester_email=FALLBACK, **kw)


# -- Zendesk ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
def test_zendesk_outcome_without_helpdesk_ticket_creates_one_with_external_id(server, channel):
    record = _outcome(channel, decision=Decision.SUGGESTED)
    handled = dispatcher("zendesk", server).handle(message(record))
    find, create, update = server.recorded("zendesk")
    (ticket,) = server.tickets.of("zendesk")
    assert handled.fate == Fate.DELIVERED
    assert find.method == "GET" and urlsplit(find.path).path == "/api/v2/tickets.json"
    assert parse_qs(urlsplit(find.path).query) == {"external_id": [record.conversation_id]}
    assert create.method == "POST" and create.status == 201
    assert create.json["ticket"]["external_id"] == record.conversation_id == ticket.external_id
    assert update.method == "PUT" and update.path == f"/api/v2/tickets/{ticket.id}.json"
    assert update.json["ticket"]["metadata"] == {
        "supportflow": {"external_id": record.external_id, "ticket_id": "tkt_1"}
    }
    assert [c["public"] for c in ticket.comments] == [False, False]  # opening note, then the draft
    assert record.answer in ticket.comments[1]["body"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_zendesk_redelivered_outcome_with_external_id_creates_no_second_ticket(server, channel):
    d = dispatcher("zendesk", server)
    first, second = d.handle(message(_outcome(channel), 0)), d.handle(message(_outcome(channel), 1))
    assert (first.fate, second.fate) == (Fate.DELIVERED, Fate.DUPLICATE)
    (ticket,) = server.tickets.of("zendesk")
    assert len(ticket.comments) == 2  # the opening note and the answer, once
    assert len(server.recorded("zendesk")) == 3  # the redelivery sent nothing


def test_zendesk_redelivery_to_a_worker_without_the_link_finds_ticket_by_external_id(server):
    record = _outcome(Channel.EMAIL)
    dispatcher("zendesk", server).handle(message(record))
    handled = dispatcher("zendesk", server, IdempotencyStore()).handle(message(record))
    (ticket,) = server.tickets.of("zendesk")
    puts = [r for r in server.recorded("zendesk") if r.method == "PUT"]
    assert [r.method for r in server.recorded("zendesk")] == ["GET", "POST", "PUT", "GET", "PUT"]
    assert puts[0].key == puts[1].key and handled.already_applied == 1  # the helpdesk replayed it
    assert len(ticket.comments) == 2


def test_zendesk_next_message_of_conversation_with_external_id_updates_the_same_ticket(server):
    d = dispatcher("zendesk", server)
    d.handle(message(_outcome(Channel.CHAT, 1)))
    d.handle(message(_outcome(Channel.CHAT, 2, decision=Decision.SUGGESTED), 1))
    (ticket,) = server.tickets.of("zendesk")
    assert [r.method for r in server.recorded("zendesk")] == ["GET", "POST", "PUT", "PUT"]
    assert len(ticket.comments) == 3
    assert [m["supportflow"]["external_id"] for m in ticket.metadata[1:]] == [
        SOURCES[Channel.CHAT][1],
        f"{SOURCES[Channel.CHAT][1]}-2",
    ]


def test_zendesk_failed_update_after_creation_retried_by_external_id_posts_note_once(server):
    server.script(Respond(400), path="/api/v2/tickets/90001.json")
    record = _outcome(Channel.WHATSAPP)
    first = dispatcher("zendesk", server).handle(message(record))
    retry = dispatcher("zendesk", server, IdempotencyStore()).handle(message(record))
    (ticket,) = server.tickets.of("zendesk")
    assert (first.fate, retry.fate) == (Fate.DEAD_LETTERED, Fate.DELIVERED)
    assert len(ticket.comments) == 2 and ticket.comments[1]["body"] == record.answer


def test_zendesk_numeric_conversation_id_updates_without_lookup_or_external_id(server):
    dispatcher("zendesk", server).handle(message(outcome(conversation_id="4711")))
    (req,) = server.recorded("zendesk")
    assert req.method == "PUT" and req.path == "/api/v2/tickets/4711.json"
    assert "metadata" not in req.json["ticket"] and server.tickets.of("zendesk") == []


def test_zendesk_requester_is_the_customer_address_or_the_fallback(server):
    d = dispatcher("zendesk", server, fallback_requester_email=FALLBACK)
    d.handle(message(_outcome(Channel.EMAIL, customer_id="grace.kim@example.com")))
    d.handle(message(_outcome(Channel.WHATSAPP, customer_id="+15125550140")))
    requesters = [r.json["ticket"]["requester"]["email"] for r in server.recorded() if r.method == "POST"]
    assert requesters == ["grace.kim@example.com", FALLBACK]


def test_zendesk_failed_lookup_dead_letters_with_the_request_and_creates_nothing(server):
    server.script(Respond(403))
    handled = dispatcher("zendesk", server).handle(message(_outcome(Channel.API)))
    dead = wire.decode(handled.dead_letter.value, DeadLetter)
    assert handled.fate == Fate.DEAD_LETTERED and dead.source.startswith("GET ")
    assert server.tickets.of("zendesk") == []


# -- Freshdesk --------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
def test_freshdesk_outcome_without_helpdesk_ticket_creates_one_with_external_id_tag(server, channel):
    record = _outcome(channel)
    handled = _freshdesk(server).handle(message(record))
    find, create, reply, update = server.recorded("freshdesk")
    (ticket,) = server.tickets.of("freshdesk")
    tag = conversation_tag(record.conversation_id)
    assert handled.fate == Fate.DELIVERED
    assert find.method == "GET" and urlsplit(find.path).path == "/api/v2/search/tickets"
    assert parse_qs(urlsplit(find.path).query) == {"query": [f"\"tag:'{tag}'\""]}
    assert create.method == "POST" and create.json["email"] == FALLBACK and tag in create.json["tags"]
    assert record.conversation_id in ticket.subject
    assert reply.path == f"/api/v2/tickets/{ticket.id}/reply"
    assert update.path == f"/api/v2/tickets/{ticket.id}" and tag in update.json["tags"]
    assert tag in ticket.tags  # kept by the update, which replaces tags: the next lookup finds it


@pytest.mark.parametrize("channel", CHANNELS)
def test_freshdesk_redelivered_outcome_with_external_id_creates_no_second_ticket(server, channel):
    d = _freshdesk(server)
    first, second = d.handle(message(_outcome(channel), 0)), d.handle(message(_outcome(channel), 1))
    again = _freshdesk(server, IdempotencyStore()).handle(message(_outcome(channel), 1))
    (ticket,) = server.tickets.of("freshdesk")
    assert (first.fate, second.fate, again.fate) == (Fate.DELIVERED, Fate.DUPLICATE, Fate.DELIVERED)
    assert len(ticket.comments) == 2  # the opening description and the reply, once
    assert [r.method for r in server.recorded("freshdesk")].count("POST") == 3  # create, reply, replay


def test_freshdesk_next_message_of_conversation_with_external_id_updates_the_same_ticket(server):
    d = _freshdesk(server)
    d.handle(message(_outcome(Channel.EMAIL, 1)))
    d.handle(message(_outcome(Channel.EMAIL, 2, decision=Decision.SUGGESTED), 1))
    (ticket,) = server.tickets.of("freshdesk")
    assert [c.get("private") for c in ticket.comments] == [False, None, True]  # opening, reply, note


def test_freshdesk_whatsapp_customer_phone_is_the_requester(server):
    _freshdesk(server).handle(message(_outcome(Channel.WHATSAPP, customer_id="+15125550140")))
    (create,) = [r for r in server.recorded("freshdesk") if urlsplit(r.path).path == "/api/v2/tickets"]
    assert create.json["phone"] == create.json["name"] == "+15125550140" and "email" not in create.json


def test_freshdesk_without_requester_or_fallback_dead_letters_before_sending(server):
    handled = dispatcher("freshdesk", server).handle(message(_outcome(Channel.CHAT)))
    dead = wire.decode(handled.dead_letter.value, DeadLetter)
    assert handled.fate == Fate.DEAD_LETTERED and server.recorded() == []
    assert "SUPPORTFLOW_EGRESS__FALLBACK_REQUESTER_EMAIL" in dead.error_message


def test_ticket_link_survives_a_restart_with_the_sqlite_store(server, tmp_path):
    record = _outcome(Channel.EMAIL)
    for offset in (0, 1):
        store = IdempotencyStore(tmp_path / "egress-zendesk.sqlite3")
        dispatcher("zendesk", server, store).handle(message(record, offset))
        store.close()
    assert [r.method for r in server.recorded("zendesk")] == ["GET", "POST", "PUT"]
