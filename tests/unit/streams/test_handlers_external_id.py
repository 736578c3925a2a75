"""Failure outcomes carry the ticket's external_id like the gate's outcomes do."""

from supportflow.schemas import wire
from supportflow.schemas.models import Decision, Outcome
from supportflow.streams.handlers import Sink, failure_outcome, gate_records, process_records
from tests.unit.helpers import record, ticket

MESSAGE_ID = "wamid.HBgLMTQxNTU1NTAxMDEVAgASGBQ"
RECORD = record().model_copy(update={"ticket": ticket(external_id=MESSAGE_ID)})


def _boom(_):
    raise ValueError("boom")


def test_failure_outcome_carries_the_ticket_external_id():
    outcome = wire.decode(failure_outcome("route", RECORD, ValueError("boom")).value, Outcome)
    assert outcome.decision == Decision.ESCALATED and outcome.external_id == MESSAGE_ID


def test_process_records_failed_stage_outcome_carries_the_ticket_external_id():
    _done, failed = process_records("retrieve", [RECORD], _boom, attempts=1, backoff_s=0)
    [outcome] = [wire.decode(e.value, Outcome) for e in failed if e.sink == Sink.OUTCOME]
    assert "failure:retrieve:ValueError" in outcome.reasons and outcome.external_id == MESSAGE_ID


def test_gate_records_failing_decision_outcome_carries_the_ticket_external_id():
    [emit] = gate_records([RECORD], _boom)
    outcome = wire.decode(emit.value, Outcome)
    assert "failure:gate:ValueError" in outcome.reasons and outcome.external_id == MESSAGE_ID
