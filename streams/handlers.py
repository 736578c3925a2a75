"""Stage handlers: a batch of consumed messages in, a list of emits out. No Kafka here.

Errors are data (bytewax style): a message that cannot be decoded or normalized becomes a
:class:`DeadLetter` with its original bytes, stage, error class and source offset; a decodable ticket
whose processing fails degrades to an escalated outcome with the failure as its reason, so a human
answers it: no ticket is ever dropped silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from supportflow.processors.gate import latency_ms
from supportflow.processors.redact import redact, redact_customer_terms
from supportflow.schemas import wire
from supportflow.schemas.errors import PermanentError, SchemaError, TransientError
from supportflow.schemas.models import (
    AuditEvent,
    Band,
    DeadLetter,
    Decision,
    Outcome,
    PipelineRecord,
    Tier,
)
from supportflow.streams import metrics

log = logging.getLogger(__name__)


class Sink(StrEnum):
    NEXT = "next"
    OUTCOME = "outcome"
    DEAD_LETTER = "dead_letter"
    AUDIT = "audit"


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()  # the record's Kafka headers (the trace context)


#: Kafka record headers for an output, or None (see ``streams/tracing.py``).
Headers = list[tuple[str, bytes]] | None


@dataclass(frozen=True)
class Emit:
    sink: Sink
    key: bytes | None
    value: bytes
    headers: Headers = None


def now_ms() -> int:
    return int(time.time() * 1000)


def dead_letter(stage: str, msg: Message, exc: BaseException, channel: str = "", source: str = "") -> Emit:
    metrics.observe_dead_letter(stage, type(exc).__name__)
    record = DeadLetter(
        stage=stage, error_class=type(exc).__name__, error_message=str(exc)[:2000], original=msg.value,
        topic=msg.topic, partition=msg.partition, offset=msg.offset, key=msg.key, failed_at_ms=now_ms(),
        channel=channel, source=source,
    )  # fmt: skip
    return Emit(Sink.DEAD_LETTER, msg.key, wire.encode(record))


def failure_outcome(
    stage: str, record: PipelineRecord, exc: BaseException, versions: Mapping[str, str] | None = None
) -> Emit:
    """A ticket we could not process still reaches a human, with the reason; ``versions`` are the
    worker's ``router_version`` and ``policy_version``, stamped like the gate's outcomes."""
    route = record.route
    ticket = record.ticket
    decided = now_ms()
    outcome = Outcome(
        ticket_id=ticket.ticket_id, conversation_id=ticket.conversation_id,
        customer_id=record.customer.customer_id if record.customer else None,  # verified only
        channel=ticket.channel, decision=Decision.ESCALATED,
        reasons=[*(route.reasons if route else []), f"failure:{stage}:{type(exc).__name__}"],
        intent=route.intent if route else "unknown", confidence=route.confidence if route else 0.0,
        band=Band.ESCALATE, tier=route.tier if route else Tier.COMMODITY, trace_id=ticket.trace_id,
        timings_ms=dict(record.timings_ms), decided_at_ms=decided,
        latency_ms=latency_ms(ticket, decided),
        # Redacted like the gate's: the outcome reaches CRMs, and an exception message can quote input.
        escalation_context=redact(
            f"Processing failed at {stage}: {exc}\n\n{ticket.text}", known=redact_customer_terms(record.customer)
        ).text,
        external_id=ticket.external_id, **(versions or {}),
    )  # fmt: skip
    metrics.observe_outcome(outcome)
    return Emit(Sink.OUTCOME, ticket.conversation_id.encode(), wire.encode(outcome))


def outcome_emit(outcome: Outcome) -> Emit:
    """An outcome made outside the gate (counted like the gate's)."""
    metrics.observe_outcome(outcome)
    return Emit(Sink.OUTCOME, outcome.conversation_id.encode(), wire.encode(outcome))


def _with_retries(
    fn: Callable[[], list[PipelineRecord]], attempts: int, backoff_s: float
) -> list[PipelineRecord]:
    for attempt in range(attempts):
        try:
            return fn()
        except TransientError:
            if attempt == attempts - 1:
                raise
            time.sleep(backoff_s * 2**attempt)
    raise AssertionError("unreachable")


def decode_records(
    stage: str,
    messages: Sequence[Message],
    received: Callable[[Message, list[PipelineRecord]], None] | None = None,
) -> tuple[list[PipelineRecord], list[Emit]]:
    """Decode a batch; a message that does not decode becomes a dead letter of ``stage``. ``received``
    is told of each decoded record and its message (tracing reads the headers)."""
    records: list[PipelineRecord] = []
    dead: list[Emit] = []
    for msg in messages:
        try:
            records.append(wire.decode(msg.value, PipelineRecord))
        except SchemaError as exc:
            dead.append(dead_letter(stage, msg, exc))
            continue
        if received is not None:
            received(msg, records[-1:])
    return records, dead


def process_records(
    stage: str,
    records: list[PipelineRecord],
    process: Callable[[list[PipelineRecord]], list[PipelineRecord]],
    *,
    attempts: int = 3,
    backoff_s: float = 0.2,
    versions: Mapping[str, str] | None = None,
) -> tuple[list[PipelineRecord], list[Emit]]:
    """Run a stage over a batch (per record on failure, to isolate the bad one).

    Returns the stage's records, each stamped with its time in ``timings_ms``, and an escalated
    outcome for every ticket that failed.
    """
    if not records:
        return [], []
    failed: list[Emit] = []
    start = time.perf_counter()
    try:
        results = _with_retries(lambda: process(records), attempts, backoff_s)
        per_record_ms = (time.perf_counter() - start) * 1000 / len(records)
        done = [(r, per_record_ms) for r in results]
        metrics.observe_stage(stage, per_record_ms / 1000, len(results))
    except Exception:
        log.warning("stage %s: batch of %d failed; retrying one by one", stage, len(records), exc_info=True)
        done = []
        for record in records:
            t0 = time.perf_counter()
            try:
                for r in _with_retries(lambda rec=record: process([rec]), attempts, backoff_s):  # type: ignore[misc]
                    done.append((r, (time.perf_counter() - t0) * 1000))
            except Exception as exc:
                log.error(
                    "stage %s: ticket %s failed: %s", stage, record.ticket.ticket_id, type(exc).__name__
                )
                failed.append(failure_outcome(stage, record, exc, versions))
    timed = [r.model_copy(update={"timings_ms": {**r.timings_ms, stage: round(ms, 3)}}) for r, ms in done]
    return timed, failed


def encode_next(
    records: list[PipelineRecord], headers: Callable[[PipelineRecord], Headers] | None = None
) -> list[Emit]:
    return [
        Emit(Sink.NEXT, r.ticket.conversation_id.encode(), wire.encode(r), headers(r) if headers else None)
        for r in records
    ]


def normalize_records(
    messages: Sequence[Message],
    normalize: Callable[[bytes], list[PipelineRecord]],
    traced: Callable[[Message, list[PipelineRecord]], list[PipelineRecord]] | None = None,
) -> tuple[list[tuple[PipelineRecord, bytes]], list[Emit]]:
    """Normalize raw events: (record stamped with its time, its wire bytes) per ticket, and dead letters.
    ``traced`` sees each event's records before they are encoded (tracing may set their trace id)."""
    out: list[tuple[PipelineRecord, bytes]] = []
    dead: list[Emit] = []
    for msg in messages:
        start = time.perf_counter()
        try:
            records = normalize(msg.value)
            ms = round((time.perf_counter() - start) * 1000 / max(1, len(records)), 3)
            timed = [r.model_copy(update={"timings_ms": {"normalize": ms}}) for r in records]
            timed = traced(msg, timed) if traced is not None else timed
            # Encoding is inside the try: a ticket the wire format cannot hold is dead-lettered too.
            encoded = [(r, wire.encode(r)) for r in timed]
        except TransientError:
            raise  # e.g. the schema registry is unreachable: the event is fine, redeliver it later
        except Exception as exc:  # PermanentError as designed; anything else is a parser bug: keep the bytes
            if not isinstance(exc, PermanentError):
                log.exception(
                    "normalize: unexpected error at %s[%d]@%d", msg.topic, msg.partition, msg.offset
                )
            dead.append(dead_letter("normalize", msg, exc, *_event_origin(msg.value)))
            continue
        if records:
            metrics.observe_ticket_in(str(records[0].ticket.channel), len(records))
            metrics.observe_stage("normalize", ms / 1000, len(records))
        out += encoded
    return out, dead


def _event_origin(raw: bytes) -> tuple[str, str]:
    from supportflow.schemas.models import InboundEvent

    try:
        event = wire.decode(raw, InboundEvent)
    except SchemaError:
        return "", ""
    return str(event.channel), event.source


def gate_records(
    records: Sequence[PipelineRecord],
    decide: Callable[[PipelineRecord], Outcome],
    audit: Callable[[PipelineRecord, Outcome], AuditEvent] | None = None,
    decided: Callable[[PipelineRecord, Outcome], None] | None = None,
    headers: Callable[[PipelineRecord], Headers] | None = None,
    versions: Mapping[str, str] | None = None,
) -> list[Emit]:
    """Decide each record: its outcome, and its audit event when ``audit`` is given; ``decided`` is
    told of every outcome the gate made (the conversation state records it); ``headers`` gives the
    Kafka headers of a record's outcome and audit event; ``versions`` stamp an outcome the gate failed
    to make."""
    emits: list[Emit] = []
    for record in records:
        start = time.perf_counter()
        try:
            outcome = decide(record)
        except Exception as exc:
            emits.append(failure_outcome("gate", record, exc, versions))
            continue
        gate_ms = round((time.perf_counter() - start) * 1000, 3)
        outcome = outcome.model_copy(update={"timings_ms": {**outcome.timings_ms, "gate": gate_ms}})
        metrics.observe_stage("gate", gate_ms / 1000)
        metrics.observe_outcome(outcome)
        out_headers = headers(record) if headers is not None else None
        emits.append(
            Emit(Sink.OUTCOME, record.ticket.conversation_id.encode(), wire.encode(outcome), out_headers)
        )
        if decided is not None:
            decided(record, outcome)
        if audit is not None:
            try:
                event = audit(record, outcome)
                emits.append(
                    Emit(Sink.AUDIT, record.ticket.ticket_id.encode(), wire.encode(event), out_headers)
                )
            except Exception:  # the decision stands even if its audit record cannot be built
                log.exception("audit record for %s failed", record.ticket.ticket_id)
    return emits


def unseen(
    records: Sequence[PipelineRecord], seen: Callable[[str], bool], stage: str = "gate"
) -> tuple[list[PipelineRecord], int]:
    """Drop records whose ticket this worker already decided; returns the rest and how many were dropped."""
    fresh = [r for r in records if not seen(r.ticket.ticket_id)]
    duplicates = len(records) - len(fresh)
    metrics.observe_duplicates(stage, duplicates)
    return fresh, duplicates
