"""``supportflow bench``: the pipeline's throughput and latency next to its own two limits.

1. raw Kafka: a bare confluent-kafka consume -> produce relay through the same number of hops;
2. compute: the stage functions in a tight loop on the same tickets, no Kafka;
3. pipeline: the real workers on the broker (max throughput), then latency at half that rate.
All three run in one invocation on the same machine and broker, so the ratios are comparable.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import cycle
from typing import TYPE_CHECKING

import numpy as np
from confluent_kafka import TopicPartition

from supportflow.connectors.ingress import events_from_path
from supportflow.data import data_path
from supportflow.processors.channels import parse_event
from supportflow.schemas.errors import InvalidInputError, SupportflowError
from supportflow.schemas.models import Channel, InboundEvent, Ticket
from supportflow.settings import Settings
from supportflow.streams import kafka
from supportflow.streams.topics import TopicSpec, ensure_topics

if TYPE_CHECKING:
    from supportflow.streams.runtime import Runtime


def sample_tickets() -> list[Ticket]:
    tickets: list[Ticket] = []
    for event in events_from_path(data_path("samples")):
        try:
            tickets += parse_event(event, event.received_at_ms)
        except SupportflowError:
            continue
    return tickets


def bench_events(n: int, languages: Collection[str] = ()) -> list[InboundEvent]:
    """``n`` API tickets cycling through the bundled samples' texts, each with its own id and conversation;
    with ``languages``, only the samples whose text is in one of them (as the hard rules detect it)."""
    run = uuid.uuid4().hex[:8]
    events = []
    # API tickets need a contact the CRM can resolve; chat handles ("guest-...") have none.
    usable = [t for t in sample_tickets() if "@" in t.sender or t.sender.startswith("+")]
    if languages:
        from supportflow.processors.router.signals import detect_language

        usable = [t for t in usable if detect_language(t.text) in languages]
        if not usable:
            raise InvalidInputError(f"no bundled sample ticket is in {', '.join(sorted(languages))}")
    for i, t in zip(range(n), cycle(usable), strict=False):
        contact = {"email": t.sender} if "@" in t.sender else {"phone": t.sender}
        body = {"ticket_id": f"bench-{run}-{i}", "conversation_id": f"bench-{run}-{i}", "subject": t.subject,
                "text": t.text, **contact}  # fmt: skip
        events.append(InboundEvent(event_id=f"bench-{run}-{i}", channel=Channel.API, received_at_ms=0,
                                   payload=json.dumps(body).encode(), source="bench"))  # fmt: skip
    return events


def raw_kafka_tps(bootstrap: str, n: int, partitions: int, hops: int, value_size: int = 1500) -> float:
    """Messages/s through ``hops`` relay hops (each a consumer + producer thread), end to end."""
    run = uuid.uuid4().hex[:8]
    topics = [f"bench-raw-{run}-{h}" for h in range(hops + 1)]
    ensure_topics(bootstrap, [TopicSpec(t, partitions, "bench") for t in topics])
    done = threading.Event()

    def relay(src: str, dst: str) -> None:
        c = kafka.consumer(bootstrap, f"bench-{run}", **{"fetch.wait.max.ms": 10})
        c.assign([TopicPartition(src, p, 0) for p in range(partitions)])
        p = kafka.producer(bootstrap, **{"linger.ms": 2})
        moved = 0
        while moved < n and not done.is_set():
            for m in c.consume(500, timeout=0.1):
                if not m.error():
                    p.produce(dst, key=m.key(), value=m.value())
                    moved += 1
            p.poll(0)
        p.flush(30)
        c.close()

    threads = [
        threading.Thread(target=relay, args=(topics[h], topics[h + 1]), daemon=True) for h in range(hops)
    ]
    for th in threads:
        th.start()
    start = time.perf_counter()
    producer = kafka.producer(bootstrap, **{"linger.ms": 2})
    value = b"x" * value_size
    for i in range(n):
        producer.produce(topics[0], key=str(i).encode(), value=value)
        producer.poll(0)
    producer.flush(30)
    for th in threads:
        th.join(timeout=300)
    elapsed = time.perf_counter() - start
    done.set()
    return n / elapsed


@dataclass(frozen=True)
class ComputeResult:
    tickets_per_s: float
    per_stage_ms: dict[str, float]


@contextmanager
def pinned(cpus: frozenset[int] | None) -> Iterator[None]:
    """Run the block on ``cpus`` only (None: anywhere)."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def compute_tps(
    settings: Settings, events: list[InboundEvent], batch: int = 64, warmup: list[InboundEvent] | None = None
) -> ComputeResult:
    """The six stage functions over ``events`` in-process (embedding included, and the conversation
    state kept in a dict the way the worker keeps it in its table), no Kafka, no Avro.

    ``warmup`` events go through the same loop first, untimed, as the pipeline's warm-up does.
    """
    from supportflow.connectors.crm import open_crm
    from supportflow.streams.runtime import Runtime, tuned_interpreter

    runtime = Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)
    with tuned_interpreter():  # as a worker runs
        _stage_loop(runtime, warmup or [], batch)
        start = time.perf_counter()
        stage_s = _stage_loop(runtime, events, batch)
        elapsed = time.perf_counter() - start
    n = len(events)
    return ComputeResult(n / elapsed, {k: round(v * 1000 / n, 3) for k, v in stage_s.items()})


def _stage_loop(runtime: Runtime, events: list[InboundEvent], batch: int) -> dict[str, float]:
    """Seconds spent in each stage function over ``events``, ``batch`` at a time."""
    from supportflow.processors.audit import audit_event
    from supportflow.processors.conversation.state import note_customer_message, note_decision
    from supportflow.schemas import wire

    raws = [wire.encode(e) for e in events]  # normalize takes the ingress topic's bytes
    stage_s = dict.fromkeys(("normalize", "route", "converse", "retrieve", "resolve", "gate"), 0.0)
    table: dict[bytes, bytes] = {}
    for i in range(0, len(raws), batch):
        marks = [time.perf_counter()]
        records = [r for raw in raws[i : i + batch] for r in runtime.normalize(raw)]
        marks.append(time.perf_counter())
        records = runtime.route(records)
        marks.append(time.perf_counter())
        keys = [r.ticket.conversation_id.encode() for r in records]
        records = runtime.converse(records, [table.get(k) for k in keys])
        for key, r in zip(keys, records, strict=True):
            table[key] = note_customer_message(r, 0)(table.get(key))
        marks.append(time.perf_counter())
        records = runtime.retrieve(records)
        marks.append(time.perf_counter())
        records = runtime.resolve(records)
        marks.append(time.perf_counter())
        for key, r in zip(keys, records, strict=True):
            outcome = runtime.gate(r)
            table[key] = note_decision(r, outcome, 0)(table.get(key))
            audit_event(r, outcome)
        marks.append(time.perf_counter())
        for name, a, b in zip(stage_s, marks[:-1], marks[1:], strict=True):
            stage_s[name] += b - a
    return stage_s


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    arr = np.asarray(values)
    return {f"p{q}": round(float(np.percentile(arr, q)), 1) for q in (50, 95, 99)}
