"""One outcome, one fate: idempotency across redeliveries and restarts, dead letters with the original."""

import pytest

from supportflow.connectors.egress import EgressSettings, Fate, IdempotencyStore, build_dispatcher, store_path
from supportflow.schemas import wire
from supportflow.schemas.models import DeadLetter, Decision
from supportflow.settings import Settings
from tests.fakes.crm_server import Respond
from tests.unit.connectors.egress.builders import dispatcher, message, outcome


def _dead_letter(handled) -> DeadLetter:
    assert handled.fate == Fate.DEAD_LETTERED and handled.dead_letter is not None
    return wire.decode(handled.dead_letter.value, DeadLetter)


@pytest.mark.parametrize("name", ["zendesk", "freshdesk", "webhook"])
def test_dispatch_same_outcome_twice_posts_once(server, name):
    d = dispatcher(name, server)
    first, second = d.handle(message(outcome(), 0)), d.handle(message(outcome(), 1))
    assert (first.fate, second.fate) == (Fate.DELIVERED, Fate.DUPLICATE)
    assert len(server.recorded(name)) == (2 if name == "freshdesk" else 1)


def test_dispatch_new_decision_for_same_ticket_is_posted(server):
    d = dispatcher("webhook", server)
    d.handle(message(outcome(Decision.SUGGESTED)))
    assert d.handle(message(outcome(Decision.ESCALATED))).fate == Fate.DELIVERED
    assert len(server.recorded("webhook")) == 2


def test_dispatch_sqlite_store_survives_a_restart(server, tmp_path):
    path = store_path(tmp_path, "webhook")
    store = IdempotencyStore(path)
    dispatcher("webhook", server, store).handle(message(outcome()))
    store.close()
    reopened = IdempotencyStore(path)
    assert reopened.count() == 1
    assert dispatcher("webhook", server, reopened).handle(message(outcome())).fate == Fate.DUPLICATE
    assert len(server.recorded("webhook")) == 1


def test_dispatch_permanent_4xx_dead_letters_without_retry(server):
    server.script(Respond(422), path="/api/v2/tickets/4711.json")
    msg = message(outcome(), offset=41)
    dl = _dead_letter(dispatcher("zendesk", server).handle(msg))
    assert len(server.recorded("zendesk")) == 1
    assert (dl.stage, dl.error_class, dl.original, dl.offset) == (
        "egress:zendesk",
        "DeliveryRejected",
        msg.value,
        41,
    )
    assert "HTTP 422" in dl.error_message and dl.source.startswith("PUT ")


def test_dispatch_dead_letters_after_max_attempts_and_does_not_mark_delivered(server):
    store = IdempotencyStore()
    server.script(*[Respond(503)] * 3, path=server.webhook_path)
    d = dispatcher("webhook", server, store, max_attempts=3)
    dl = _dead_letter(d.handle(message(outcome())))
    assert dl.error_class == "RetriesExhausted" and dl.stage == "egress:webhook" and dl.channel == "email"
    assert len(server.recorded("webhook")) == 3 and store.count() == 0
    assert d.handle(message(outcome())).fate == Fate.DELIVERED  # a later redelivery may still succeed


def test_dispatch_undecodable_bytes_dead_letter_with_original(server):
    dl = _dead_letter(dispatcher("webhook", server).handle(message(b"not avro")))
    assert dl.error_class == "SchemaError" and dl.original == b"not avro"
    assert server.recorded() == []


def test_build_dispatcher_without_credentials_fails_clearly():
    from supportflow.schemas.errors import PermanentError

    with pytest.raises(PermanentError, match="SUPPORTFLOW_EGRESS__API_TOKEN"):
        build_dispatcher("zendesk", EgressSettings(base_url="https://acme.zendesk.com"), IdempotencyStore())


def test_egress_settings_read_from_environment(monkeypatch):
    monkeypatch.setenv("SUPPORTFLOW_EGRESS__GROUP_MAP", '{"rule:legal": 360001}')
    monkeypatch.setenv("SUPPORTFLOW_EGRESS__API_TOKEN", "zd-secret-1")
    monkeypatch.setenv("SUPPORTFLOW_EGRESS__MAX_ATTEMPTS", "7")
    s = Settings().egress
    assert s.group_map == {"rule:legal": 360001} and s.max_attempts == 7
    assert s.api_token is not None and "zd-secret-1" not in repr(s)
