"""Outcomes made outside the gate (a failed stage, a failed gate, a message folded into a burst) carry
the worker's router and policy versions like the gate's do, so every outcome says what decided it."""

from supportflow.processors.conversation.burst import folded_outcome
from supportflow.schemas import wire
from supportflow.schemas.models import Decision, Outcome
from supportflow.streams.handlers import Sink, gate_records, process_records
from tests.unit.helpers import record

VERSIONS = {"router_version": "router@0123456789ab", "policy_version": "policy@ba9876543210"}
RECORD = record()


def _boom(_):
    raise ValueError("boom")


def _versions(outcome: Outcome) -> dict[str, str]:
    return {"router_version": outcome.router_version, "policy_version": outcome.policy_version}


def test_process_records_failed_stage_outcome_carries_the_versions():
    _done, failed = process_records("resolve", [RECORD], _boom, attempts=1, backoff_s=0, versions=VERSIONS)
    [outcome] = [wire.decode(e.value, Outcome) for e in failed if e.sink == Sink.OUTCOME]
    assert outcome.decision == Decision.ESCALATED and _versions(outcome) == VERSIONS


def test_gate_records_failing_decision_outcome_carries_the_versions():
    [emit] = gate_records([RECORD], _boom, versions=VERSIONS)
    assert _versions(wire.decode(emit.value, Outcome)) == VERSIONS


def test_folded_outcome_carries_the_versions():
    outcome = folded_outcome(RECORD, "tkt_2", turn=2, now_ms=5_000, versions=VERSIONS)
    assert outcome.decision == Decision.CLOSED and _versions(outcome) == VERSIONS


def test_failure_outcome_without_versions_leaves_them_empty():
    [emit] = gate_records([RECORD], _boom)
    assert _versions(wire.decode(emit.value, Outcome)) == {"router_version": "", "policy_version": ""}
