from supportflow.schemas import wire
from supportflow.schemas.errors import InvalidInputError, TransientError
from supportflow.schemas.models import DeadLetter, Decision, Outcome, PipelineRecord
from supportflow.streams.handlers import (
    Emit,
    Message,
    Sink,
    decode_records,
    encode_next,
    gate_records,
    normalize_records,
    process_records,
    unseen,
)
from tests.unit.helpers import record


def _msg(value: bytes, offset=0) -> Message:
    return Message("t", 1, offset, b"k", value)


def _run_record_stage(stage, messages, process, backoff_s=0.2) -> list[Emit]:
    records, emits = decode_records(stage, messages)
    done, failed = process_records(stage, records, process, backoff_s=backoff_s)
    return [*emits, *failed, *encode_next(done)]


def _run_normalize(messages, normalize) -> list[Emit]:
    normalized, emits = normalize_records(messages, normalize)
    return [*emits, *(Emit(Sink.NEXT, None, raw) for _r, raw in normalized)]


def test_decode_records_undecodable_dead_letters_original_bytes():
    emits = _run_record_stage("route", [_msg(b"\x00garbage", offset=42)], lambda rs: rs)
    assert [e.sink for e in emits] == [Sink.DEAD_LETTER]
    dl = wire.decode(emits[0].value, DeadLetter)
    assert (dl.stage, dl.error_class, dl.original, dl.topic, dl.partition, dl.offset) == (
        "route",
        "SchemaError",
        b"\x00garbage",
        "t",
        1,
        42,
    )


def test_process_records_one_bad_record_escalates_only_it():
    good, bad = (
        record(),
        record().model_copy(update={"ticket": record().ticket.model_copy(update={"ticket_id": "bad"})}),
    )

    def process(rs):
        if any(r.ticket.ticket_id == "bad" for r in rs):
            raise ValueError("boom")
        return rs

    emits = _run_record_stage("retrieve", [_msg(wire.encode(good)), _msg(wire.encode(bad))], process)
    sinks = sorted(e.sink for e in emits)
    assert sinks == [Sink.NEXT, Sink.OUTCOME]
    failed = wire.decode(next(e for e in emits if e.sink == Sink.OUTCOME).value, Outcome)
    assert failed.ticket_id == "bad" and failed.decision == Decision.ESCALATED
    assert "failure:retrieve:ValueError" in failed.reasons
    passed = wire.decode(next(e for e in emits if e.sink == Sink.NEXT).value, PipelineRecord)
    assert "retrieve" in passed.timings_ms


def test_process_records_transient_error_retried_then_succeeds():
    calls = []

    def flaky(rs):
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("crm timeout")
        return rs

    emits = _run_record_stage("route", [_msg(wire.encode(record()))], flaky, backoff_s=0.001)
    assert [e.sink for e in emits] == [Sink.NEXT] and len(calls) == 3


def test_normalize_records_permanent_error_dead_letters():
    def bad(raw):
        raise InvalidInputError("empty text")

    emits = _run_normalize([_msg(b"raw-bytes")], bad)
    dl = wire.decode(emits[0].value, DeadLetter)
    assert dl.error_class == "InvalidInputError" and dl.original == b"raw-bytes" and dl.stage == "normalize"


def test_unseen_redelivered_ticket_suppressed_before_the_gate():
    seen: set[str] = set()

    def check(tid):
        dup = tid in seen
        seen.add(tid)
        return dup

    from supportflow.processors.gate import GatePolicy, gate

    def decide(r):
        return gate(r, GatePolicy(0.9, 0.4), lambda c: True, 2_000)

    value = wire.encode(record())
    records, _dead = decode_records("gate", [_msg(value), _msg(value, 1)])
    fresh, dups = unseen(records, check)
    emits = gate_records(fresh, decide)
    assert len(emits) == 1 and dups == 1
    assert wire.decode(emits[0].value, Outcome).decision == Decision.AUTO_RESOLVED


def test_normalize_records_unencodable_ticket_dead_lettered_not_crashing():
    from supportflow.schemas.models import PipelineRecord as PR

    huge = record().ticket.model_copy(update={"received_at_ms": 10**30})

    emits = _run_normalize([_msg(b"raw")], lambda raw: [PR(ticket=huge)])
    assert [e.sink for e in emits] == [Sink.DEAD_LETTER]
    assert wire.decode(emits[0].value, DeadLetter).error_class == "SchemaError"


def test_failure_outcome_escalation_context_redacted():
    from supportflow.streams.handlers import failure_outcome

    leaky = record().model_copy(
        update={
            "ticket": record().ticket.model_copy(
                update={"text": "Card 4111 1111 1111 1111, mail ana@example.com"}
            )
        }
    )
    outcome = wire.decode(
        failure_outcome("route", leaky, ValueError("bad value ana@example.com")).value, Outcome
    )
    assert "4111" not in outcome.escalation_context and "ana@example.com" not in outcome.escalation_context
    assert "Processing failed at route" in outcome.escalation_context
