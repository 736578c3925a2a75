"""Stage handlers: a batch of consumed messages in, a list of emits out. No Kafka here.

Errors are data (bytewax style): a message that cannot be decoded or normalized becomes a
:class:`DeadLetter` with its original bytes, stage, error class and source offset; a decodable ticket
whose processing fails degrades to an escalated outcome with the failure as its reason, so a human
answers it: no ticket is ever dropped silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from supportflow.processors.gate import latency_ms
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


@dataclass(frozen=True)
class Emit:
    sink: Sink
    key: bytes | None
    value: bytes


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


def failure_outcome(stage: str, record: PipelineRecord, exc: BaseException) -> Emit:
    """A ticket we could not process still reaches a human, with the reason."""
    route = record.route
    ticket = record.ticket
    decided = now_ms()
    outcome = Outcome(
        ticket_id=ticket.ticket_id, conversation_id=ticket.conversation_id,
        customer_id=record.customer.customer_id if record.customer else ticket.customer_id,
        channel=ticket.channel, decision=Decision.ESCALATED,
        reasons=[*(route.reasons if route else []), f"failure:{stage}:{type(exc).__name__}"],
        intent=route.intent if route else "unknown", confidence=route.confidence if route else 0.0,
        band=Band.ESCALATE, tier=route.tier if route else Tier.COMMODITY, trace_id=ticket.trace_id,
        timings_ms=dict(record.timings_ms), decided_at_ms=decided,
        latency_ms=latency_ms(ticket, decided),
        escalation_context=f"Processing failed at {stage}: {exc}\n\n{ticket.text}",
    )  # fmt: skip
    metrics.observe_outcome(outcome)
    return Emit(Sink.OUTCOME, ticket.conversation_id.encode(), wire.encode(outcome))


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


def run_record_stage(
    stage: str,
    messages: Sequence[Message],
    process: Callable[[list[PipelineRecord]], list[PipelineRecord]],
    *,
    attempts: int = 3,
    backoff_s: float = 0.2,
) -> list[Emit]:
    """Decode, process as one batch (per record on failure, to isolate the bad one), encode."""
    emits: list[Emit] = []
    decoded: list[PipelineRecord] = []
    for msg in messages:
        try:
            decoded.append(wire.decode(msg.value, PipelineRecord))
        except SchemaError as exc:
            emits.append(dead_letter(stage, msg, exc))
    if not decoded:
        return emits
    start = time.perf_counter()
    try:
        results = _with_retries(lambda: process(decoded), attempts, backoff_s)
        per_record_ms = (time.perf_counter() - start) * 1000 / len(decoded)
        done = [(r, per_record_ms) for r in results]
        metrics.observe_stage(stage, per_record_ms / 1000, len(results))
    except Exception:
        log.warning("stage %s: batch of %d failed; retrying one by one", stage, len(decoded), exc_info=True)
        done = []
        for record in decoded:
            t0 = time.perf_counter()
            try:
                for r in _with_retries(lambda rec=record: process([rec]), attempts, backoff_s):  # type: ignore[misc]
                    done.append((r, (time.perf_counter() - t0) * 1000))
            except Exception as exc:
                log.error(
                    "stage %s: ticket %s failed: %s", stage, record.ticket.ticket_id, type(exc).__name__
                )
                emits.append(failure_outcome(stage, record, exc))
    for record, ms in done:
        timed = record.model_copy(update={"timings_ms": {**record.timings_ms, stage: round(ms, 3)}})
        emits.append(Emit(Sink.NEXT, record.ticket.conversation_id.encode(), wire.encode(timed)))
    return emits


def run_normalize(
    messages: Sequence[Message], normalize: Callable[[bytes], list[PipelineRecord]]
) -> list[Emit]:
    emits: list[Emit] = []
    for msg in messages:
        start = time.perf_counter()
        try:
            records = normalize(msg.value)
            ms = round((time.perf_counter() - start) * 1000 / max(1, len(records)), 3)
            # Encoding is inside the try: a ticket the wire format cannot hold is dead-lettered too.
            encoded = [
                (
                    r.ticket.conversation_id.encode(),
                    wire.encode(r.model_copy(update={"timings_ms": {"normalize": ms}})),
                )
                for r in records
            ]
        except Exception as exc:  # PermanentError as designed; anything else is a parser bug: keep the bytes
            if not isinstance(exc, PermanentError):
                log.exception(
                    "normalize: unexpected error at %s[%d]@%d", msg.topic, msg.partition, msg.offset
                )
            emits.append(dead_letter("normalize", msg, exc, *_event_origin(msg.value)))
            continue
        if records:
            metrics.observe_ticket_in(str(records[0].ticket.channel), len(records))
            metrics.observe_stage("normalize", ms / 1000, len(records))
        emits += [Emit(Sink.NEXT, key, value) for key, value in encoded]
    return emits


def _event_origin(raw: bytes) -> tuple[str, str]:
    from supportflow.schemas.models import InboundEvent

    try:
        event = wire.decode(raw, InboundEvent)
    except SchemaError:
        return "", ""
    return str(event.channel), event.source


def run_gate(
    messages: Sequence[Message],
    decide: Callable[[PipelineRecord], Outcome],
    seen: Callable[[str], bool],
    audit: Callable[[PipelineRecord, Outcome], AuditEvent] | None = None,
) -> tuple[list[Emit], int]:
    """Gate a batch; returns emits and how many redelivered tickets were suppressed as duplicates."""
    emits: list[Emit] = []
    duplicates = 0
    for msg in messages:
        try:
            record = wire.decode(msg.value, PipelineRecord)
        except SchemaError as exc:
            emits.append(dead_letter("gate", msg, exc))
            continue
        if seen(record.ticket.ticket_id):
            duplicates += 1
            continue
        start = time.perf_counter()
        try:
            outcome = decide(record)
        except Exception as exc:
            emits.append(failure_outcome("gate", record, exc))
            continue
        gate_ms = round((time.perf_counter() - start) * 1000, 3)
        outcome = outcome.model_copy(update={"timings_ms": {**outcome.timings_ms, "gate": gate_ms}})
        metrics.observe_stage("gate", gate_ms / 1000)
        metrics.observe_outcome(outcome)
        emits.append(Emit(Sink.OUTCOME, record.ticket.conversation_id.encode(), wire.encode(outcome)))
        if audit is not None:
            try:
                event = audit(record, outcome)
                emits.append(Emit(Sink.AUDIT, record.ticket.ticket_id.encode(), wire.encode(event)))
            except Exception:  # the decision stands even if its audit record cannot be built
                log.exception("audit record for %s failed", record.ticket.ticket_id)
    metrics.observe_duplicates("gate", duplicates)
    return emits, duplicates
