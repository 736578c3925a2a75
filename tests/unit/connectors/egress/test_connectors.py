"""Each connector's requests, per decision, as the validating loopback helpdesk receives them."""

import pytest

from supportflow.connectors.egress import Fate, IdempotencyStore, verify_signature
from supportflow.connectors.egress.webhook import WebhookConnector, signature
from supportflow.schemas.models import Decision
from tests.fakes.crm_server import Respond
from tests.unit.connectors.egress.builders import dispatcher, message, outcome, settings

ESCALATED = dict(
    decision=Decision.ESCALATED, reasons=["rule:legal", "gate:groundedness<0.92"], intent="refund_request",
    answer="", escalation_context="Customer threatens legal action over refund NW-100234.",
)  # fmt: skip


# -- Zendesk ----------------------------------------------------------------------------------------


def test_zendesk_auto_resolved_posts_public_reply_and_solves(server):
    handled = dispatcher("zendesk", server).handle(message(outcome()))
    (req,) = server.recorded("zendesk")
    ticket = req.json["ticket"]
    assert handled.fate == Fate.DELIVERED and req.status == 200
    assert req.method == "PUT" and req.path == "/api/v2/tickets/4711.json"
    assert ticket["comment"] == {"body": outcome().answer, "public": True}
    assert ticket["status"] == "solved"
    assert ticket["additional_tags"] == ["supportflow", "auto_resolved", "track_order"]


def test_zendesk_auto_resolved_status_pending_when_configured(server):
    dispatcher("zendesk", server, auto_resolved_status="pending").handle(message(outcome()))
    assert server.recorded("zendesk")[0].json["ticket"]["status"] == "pending"


def test_zendesk_suggested_posts_internal_note_with_draft_and_tags(server):
    dispatcher("zendesk", server).handle(message(outcome(Decision.SUGGESTED, reasons=["gate:no_citations"])))
    ticket = server.recorded("zendesk")[0].json["ticket"]
    assert ticket["comment"]["public"] is False
    assert outcome().answer in ticket["comment"]["body"] and "gate:no_citations" in ticket["comment"]["body"]
    assert ticket["additional_tags"] == ["supportflow", "suggested", "track_order"]
    assert "status" not in ticket  # a draft leaves the ticket open for the agent


def test_zendesk_escalated_assigns_group_priority_tags_and_context_note(server):
    d = dispatcher(
        "zendesk", server, group_map={"rule:legal": 360001, "refund_request": 360002}, default_group_id=9
    )
    d.handle(message(outcome(**ESCALATED)))
    ticket = server.recorded("zendesk")[0].json["ticket"]
    assert ticket["group_id"] == 360001  # the reason wins over the intent
    assert ticket["priority"] == "urgent"  # rule:legal is an urgent reason
    assert ticket["additional_tags"] == ["supportflow", "escalated", "rule_legal", "gate_groundedness"]
    assert ticket["comment"]["public"] is False
    assert "legal action" in ticket["comment"]["body"] and "rule:legal" in ticket["comment"]["body"]


def test_zendesk_escalated_falls_back_to_intent_then_default_group(server):
    d = dispatcher("zendesk", server, group_map={"refund_request": 360002}, default_group_id=9)
    d.handle(message(outcome(**{**ESCALATED, "reasons": ["rule:vip_threshold"]}, ticket_id="a")))
    d.handle(message(outcome(**{**ESCALATED, "reasons": ["x"], "intent": "other"}, ticket_id="b")))
    first, second = (r.json["ticket"] for r in server.recorded("zendesk"))
    assert (first["group_id"], first["priority"]) == (360002, "high")
    assert second["group_id"] == 9


def test_zendesk_409_counts_as_already_applied(server):
    server.script(Respond(409), path="/api/v2/tickets/4711.json")
    handled = dispatcher("zendesk", server).handle(message(outcome()))
    assert handled.fate == Fate.DELIVERED and handled.already_applied == 1
    assert len(server.recorded("zendesk")) == 1


def test_zendesk_wrong_token_is_dead_lettered_without_retry(server):
    handled = dispatcher("zendesk", server, api_token="wrong").handle(message(outcome()))
    assert handled.fate == Fate.DEAD_LETTERED
    assert [r.status for r in server.recorded("zendesk")] == [401]


def test_zendesk_custom_ticket_ref_is_used(server):
    from supportflow.connectors.egress import build_dispatcher

    d = build_dispatcher(
        "zendesk", settings(server), IdempotencyStore(), ticket_ref=lambda o: o.ticket_id[4:]
    )
    d.handle(message(outcome(ticket_id="zd--123", conversation_id="conv_abc")))
    assert server.recorded("zendesk")[0].path == "/api/v2/tickets/123.json"


# -- Freshdesk --------------------------------------------------------------------------------------


def test_freshdesk_auto_resolved_replies_then_resolves(server):
    handled = dispatcher("freshdesk", server).handle(message(outcome(answer="Line one\nLine <two>")))
    reply, update = server.recorded("freshdesk")
    assert handled.fate == Fate.DELIVERED
    assert (reply.method, reply.path, reply.status) == ("POST", "/api/v2/tickets/4711/reply", 201)
    assert reply.json == {"body": "Line one<br>Line &lt;two&gt;"}
    assert (update.method, update.path) == ("PUT", "/api/v2/tickets/4711")
    assert update.json == {"tags": ["supportflow", "auto_resolved", "track_order"], "status": 4}
    assert reply.key != update.key


def test_freshdesk_suggested_adds_private_note_and_tags(server):
    dispatcher("freshdesk", server).handle(message(outcome(Decision.SUGGESTED)))
    note, update = server.recorded("freshdesk")
    assert note.path == "/api/v2/tickets/4711/notes" and note.json["private"] is True
    assert "Review before sending" in note.json["body"]
    assert update.json == {"tags": ["supportflow", "suggested", "track_order"]}


def test_freshdesk_escalated_sets_group_priority_and_private_context(server):
    dispatcher("freshdesk", server, group_map={"rule": 77}).handle(message(outcome(**ESCALATED)))
    note, update = server.recorded("freshdesk")
    assert note.json["private"] is True and "legal action" in note.json["body"]
    assert update.json["group_id"] == 77 and update.json["priority"] == 4
    assert update.json["tags"][:2] == ["supportflow", "escalated"]


def test_freshdesk_failed_update_resumes_without_reposting_the_reply(server):
    store = IdempotencyStore()
    server.script(*[Respond(500)] * 4, path="/api/v2/tickets/4711")
    first = dispatcher("freshdesk", server, store).handle(message(outcome()))
    assert first.fate == Fate.DEAD_LETTERED
    again = dispatcher("freshdesk", server, store).handle(message(outcome()))  # redelivery, server healthy
    assert again.fate == Fate.DELIVERED
    assert len(server.recorded("freshdesk", "/api/v2/tickets/4711/reply")) == 1
    assert [r.status for r in server.recorded("freshdesk", "/api/v2/tickets/4711")] == [500] * 4 + [200]


# -- Signed webhook ---------------------------------------------------------------------------------


def test_webhook_posts_signed_outcome_json(server):
    o = outcome(Decision.SUGGESTED)
    handled = dispatcher("webhook", server).handle(message(o))
    (req,) = server.recorded("webhook")
    assert handled.fate == Fate.DELIVERED and req.status == 202  # the server verified the HMAC itself
    assert req.json == o.model_dump(mode="json")
    assert req.headers["x-supportflow-signature"].startswith("sha256=")
    assert len(req.key) == 64


def test_webhook_wrong_secret_is_rejected_and_dead_lettered(server):
    handled = dispatcher("webhook", server, webhook_secret="not-the-secret").handle(message(outcome()))
    assert handled.fate == Fate.DEAD_LETTERED
    assert [r.status for r in server.recorded("webhook")] == [401]


def test_webhook_signs_each_attempt_with_a_fresh_timestamp(server):
    clock = iter([1_700_000_000.0, 1_700_000_042.0])
    connector = WebhookConnector(settings(server), clock=lambda: next(clock))
    call = connector.calls(outcome())[0]
    assert call.sign is not None
    first, second = call.sign(call.body()), call.sign(call.body())
    assert (
        first["X-Supportflow-Timestamp"] == "1700000000" and second["X-Supportflow-Timestamp"] == "1700000042"
    )
    assert first["X-Supportflow-Signature"] != second["X-Supportflow-Signature"]


@pytest.mark.parametrize(
    ("body", "timestamp", "now", "ok"),
    [
        (b'{"a":1}', "1000", 1100.0, True),
        (b'{"a":2}', "1000", 1100.0, False),
        (b'{"a":1}', "1000", 1400.0, False),
    ],
)
def test_verify_signature_checks_body_and_age(body, timestamp, now, ok):
    signed = signature(b"s3cret", "1000", b'{"a":1}')
    assert verify_signature(b"s3cret", timestamp, body, signed, tolerance_s=300, now=now) is ok


def test_zendesk_replayed_idempotency_key_counts_as_already_applied(server):
    # A worker that crashed after the PUT but before recording it has an empty store: the helpdesk
    # recognises the same Idempotency-Key and replays its answer instead of applying the update twice.
    dispatcher("zendesk", server).handle(message(outcome()))
    handled = dispatcher("zendesk", server).handle(message(outcome()))
    first, second = server.recorded("zendesk")
    assert first.key == second.key and second.status == 200
    assert handled.fate == Fate.DELIVERED and handled.already_applied == 1
