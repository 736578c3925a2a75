"""``supportflow bench --conversations N``: the worker with N active conversations in its table.

Before the worker starts, N conversation states are written to the table's changelog topic
(``<app_id>-conversations-changelog``), each built with the real state operations
(:func:`note_customer_message`, :func:`note_decision`) from 2-4 turns of real-looking records: texts
of the golden conversations and bundled samples, customers and orders of the CRM fixture, answers cut
from the help center, a unit vector per automatic answer. Each record goes to the partition Kafka's
default partitioner gives its key (murmur2 of the conversation id), where the worker's own writes go.

The worker then recovers the table (from the changelog, into memory or RocksDB), and the bench's
tickets run through it. Reported: the worker's resident memory (VmRSS, and its peak VmHWM) after
recovery and at the end, the table's entries and bytes, the RocksDB directory's size on disk, the
time to recover, and throughput and latency.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from supportflow.data import data_path
from supportflow.processors.conversation.state import note_customer_message, note_decision
from supportflow.schemas.models import (
    Band,
    Channel,
    CustomerContext,
    Decision,
    Order,
    Outcome,
    PipelineRecord,
    RouteDecision,
    Thread,
    Ticket,
    Tier,
)
from supportflow.streams.kafka import partition_for

#: all-MiniLM-L6-v2's dimension: the size of the vectors the router stores for answered questions.
EMBEDDING_DIM = 384
#: Seeded conversations were last touched within this many hours: active, far from the age limit.
ACTIVE_WITHIN_H = 48
#: Gap between two messages of one conversation, as in the golden conversations' default.
TURN_GAP_MS = 600_000
INTENTS = ("track_order", "cancel_order", "return_item", "refund_status", "change_shipping_address",
           "payment_issue", "product_question", "account_access")  # fmt: skip
#: How the last turn of a seeded conversation was decided (earlier turns were answered automatically).
LAST_DECISIONS = (Decision.AUTO_RESOLVED, Decision.ESCALATED, Decision.SUGGESTED, Decision.CLOSED)


@dataclass(frozen=True)
class Corpus:
    """What seeded conversations are made of, all from the bundled data."""

    customers: list[CustomerContext]
    messages: list[str]
    answers: list[str]


def load_corpus() -> Corpus:
    """Customers (with their orders), customer messages and answer texts from the bundled data."""
    import json

    crm = json.loads(data_path("crm", "customers.json").read_text())
    orders: dict[str, list[Order]] = {}
    for o in crm["orders"]:
        orders.setdefault(o["customer_id"], []).append(Order.model_validate(o))
    customers = [
        CustomerContext.model_validate({**c, "orders": orders.get(c["customer_id"], [])})
        for c in crm["customers"]
    ]
    threads = yaml.safe_load(data_path("golden", "conversations.yaml").read_text())
    messages = [turn["text"] for thread in threads for turn in thread["turns"]]
    return Corpus(customers, messages, help_center_answers())


def help_center_answers(min_chars: int = 200) -> list[str]:
    """Answers of a typical length: each help-center section's prose (front matter, headings, tables left out)."""
    answers = []
    for path in sorted(data_path("helpcenter").glob("*.md")):
        body = path.read_text().split("---", 2)[-1]
        for section in re.split(r"^## .*$", body, flags=re.MULTILINE):
            # Tables are reference data, not something an answer quotes as is.
            prose = [line for line in section.splitlines() if not line.lstrip().startswith("|")]
            text = " ".join(" ".join(prose).split())
            if len(text) >= min_chars:
                answers.append(text)
    return answers


def unit_vector(rng: np.random.Generator) -> bytes:
    values = rng.standard_normal(EMBEDDING_DIM).astype(np.float32)
    return (values / np.linalg.norm(values)).astype(np.float32).tobytes()


def conversation_state(
    index: int, run: str, corpus: Corpus, rng: np.random.Generator, now_ms: int
) -> tuple[bytes, bytes]:
    """Conversation ``index``: its key (the conversation id) and its state after 2-4 decided turns."""
    conversation_id = f"conv-{run}-{index:07d}"
    customer = corpus.customers[index % len(corpus.customers)]
    order = customer.orders[index % len(customer.orders)].order_id if customer.orders else ""
    channel = (Channel.EMAIL, Channel.CHAT, Channel.WHATSAPP, Channel.API)[index % 4]
    turns = 2 + index % 3
    intent = INTENTS[index % len(INTENTS)]
    started = now_ms - int(rng.integers(0, ACTIVE_WITHIN_H * 3_600_000)) - turns * TURN_GAP_MS
    raw: bytes | None = None
    for turn in range(turns):
        at_ms = started + turn * TURN_GAP_MS
        ticket_id = f"{conversation_id}-t{turn + 1}"
        text = corpus.messages[int(rng.integers(len(corpus.messages)))]
        ticket = Ticket(
            ticket_id=ticket_id, conversation_id=conversation_id, channel=channel, sender=customer.email,
            customer_id=customer.customer_id, customer_name=customer.name, text=text, received_at_ms=at_ms,
            ingested_at_ms=at_ms, trace_id=uuid.uuid4().hex, verified_email=customer.email,
        )  # fmt: skip
        route = RouteDecision(intent=intent, confidence=0.9, band=Band.AUTO, tier=Tier.COMMODITY)
        record = PipelineRecord(
            ticket=ticket, route=route, customer=customer, embedding=unit_vector(rng),
            thread=Thread(turn=turn + 1, order_in_focus=order),
        )  # fmt: skip
        raw = note_customer_message(record, at_ms)(raw)
        decision = (
            LAST_DECISIONS[index % len(LAST_DECISIONS)] if turn == turns - 1 else Decision.AUTO_RESOLVED
        )
        answer = corpus.answers[int(rng.integers(len(corpus.answers)))]
        outcome = Outcome(
            ticket_id=ticket_id, conversation_id=conversation_id, customer_id=customer.customer_id,
            channel=channel, decision=decision, intent=intent, confidence=0.9, band=route.band,
            tier=route.tier, trace_id=ticket.trace_id, decided_at_ms=at_ms + 1500,
            answer=f"Hi {customer.name.split()[0]}, about your order {order}: {answer}" if order else answer,
        )  # fmt: skip
        raw = note_decision(record, outcome, at_ms + 1500)(raw)
    assert raw is not None
    return conversation_id.encode(), raw


def seeded_states(n: int, run: str, *, now_ms: int, seed: int = 0) -> Iterator[tuple[bytes, bytes]]:
    """``n`` conversations (key, state JSON), reproducible for a ``seed``."""
    corpus = load_corpus()
    rng = np.random.default_rng(seed)
    for i in range(n):
        yield conversation_state(i, run, corpus, rng, now_ms)


@dataclass
class SeedStats:
    entries: int = 0
    key_bytes: int = 0
    value_bytes: int = 0
    per_partition: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


def seed_changelog(
    bootstrap: str,
    topic: str,
    partitions: int,
    states: Iterator[tuple[bytes, bytes]],
    total: int,
    *,
    progress: bool = True,
) -> SeedStats:
    """Write ``states`` to ``topic``, each on the partition of its key; wait for every acknowledgement."""
    from supportflow.console import Progress
    from supportflow.streams import kafka

    producer = kafka.producer(bootstrap, **{"linger.ms": 20, "compression.type": "lz4"})
    errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    stats = SeedStats()
    bar = Progress(total, "conversations seeded", enabled=progress)
    start = time.monotonic()
    for key, value in states:
        partition = partition_for(key, partitions)
        while True:
            try:
                producer.produce(topic, key=key, value=value, partition=partition, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let the broker catch up
                producer.poll(0.5)
        producer.poll(0)
        stats.entries += 1
        stats.key_bytes += len(key)
        stats.value_bytes += len(value)
        stats.per_partition[partition] = stats.per_partition.get(partition, 0) + 1
        bar.update(stats.entries)
    remaining = producer.flush(120)
    bar.close()
    if remaining or errors:
        raise RuntimeError(f"seeding {topic}: {remaining} unacknowledged, errors: {errors[:3]}")
    stats.seconds = time.monotonic() - start
    return stats


def memory_of(pid: int) -> dict[str, float]:
    """Resident memory of process ``pid`` now (VmRSS) and at its peak (VmHWM), in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)  # reported in kB
    return {"rss_mib": fields.get("VmRSS", 0.0), "peak_rss_mib": fields.get("VmHWM", 0.0)}


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def table_dirs(data_dir: Path) -> list[Path]:
    """The RocksDB directories of the ``conversations`` table under ``data_dir`` (one per partition)."""
    return [p for p in (data_dir / "tables").glob("**/conversations-*.db") if p.is_dir()]


def summarize_seed(stats: SeedStats) -> dict[str, Any]:
    return {
        "conversations": stats.entries,
        "table_value_bytes": stats.value_bytes,
        "table_key_bytes": stats.key_bytes,
        "mean_value_bytes": round(stats.value_bytes / stats.entries, 1) if stats.entries else 0.0,
        "seed_s": round(stats.seconds, 1),
        "per_partition": dict(sorted(stats.per_partition.items())),
    }


#: Faust's log lines around table recovery (worker log, INFO): "Restoring state from changelog
#: topics..." when it starts reading, "Recovery complete" when the tables are whole.
_LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def recovery_seconds(log_text: str) -> float | None:
    """Seconds from the first "Restoring state" to the last "Recovery complete" line of a worker log."""
    from datetime import datetime

    def stamp(line: str) -> float | None:
        found = _LOG_TIME.match(line)
        return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if found else None

    lines = log_text.splitlines()
    starts = [t for line in lines if "Restoring state" in line and (t := stamp(line)) is not None]
    ends = [t for line in lines if "Recovery complete" in line and (t := stamp(line)) is not None]
    if not starts or not ends:
        return None
    return round(max(ends) - min(starts), 2)


def run_conversation_bench(
    conversations: int,
    tickets: int,
    *,
    store: str,
    latency_tickets: int,
    warmup_tickets: int | None = None,
    topology: str | None = None,
    ready_timeout_s: float = 1800.0,
) -> dict[str, Any]:
    """Seed ``conversations``, start one worker with ``store``, recover, run the bench; its ``--json``.

    The run has an app id of its own (``<app_id>-bench-<run>``), so its changelog topic and consumer
    group are new, and the worker a data folder of its own (removed at the end) for its tables: a
    RocksDB store left from an earlier run would hold offsets of another changelog.
    """
    from supportflow.connectors.crm import crm_db_path
    from supportflow.settings import get_settings

    base = get_settings()
    run = uuid.uuid4().hex[:8]
    app_id = f"{base.app_id}-bench-{run}"
    settings = base.model_copy(update={
        "app_id": app_id, "topology": topology or base.topology,
        "conversation": base.conversation.model_copy(update={"store": store}),
    })  # fmt: skip
    base.data_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-conversations-", dir=base.data_dir))
    env = {"SUPPORTFLOW_APP_ID": app_id, "SUPPORTFLOW_CONVERSATION__STORE": store,
           "SUPPORTFLOW_TOPOLOGY": settings.topology, "SUPPORTFLOW_DATA_DIR": str(data_dir),
           "SUPPORTFLOW_CRM_DB": str(crm_db_path(base).resolve())}  # fmt: skip
    try:
        return _run(conversations, tickets, settings, env, data_dir, run, latency_tickets, warmup_tickets,
                    ready_timeout_s)  # fmt: skip
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _run(
    conversations: int,
    tickets: int,
    settings: Any,
    env: dict[str, str],
    data_dir: Path,
    run: str,
    latency_tickets: int,
    warmup_tickets: int | None,
    ready_timeout_s: float,
) -> dict[str, Any]:
    from supportflow.console import err
    from supportflow.evals.bench import bench_events, compute_tps
    from supportflow.streams.embedded import broker_for
    from supportflow.streams.harness import WorkerLogs, wait_ready, workers_on
    from supportflow.streams.topics import ensure_topics, pipeline_topics

    store = settings.conversation.store
    app_id = settings.app_id
    partitions = settings.topics.partitions
    events = bench_events(tickets)
    warmup = bench_events(max(20, tickets // 5) if warmup_tickets is None else warmup_tickets)

    err(f"[1/5] compute only: {tickets} tickets through the stage functions")
    compute = compute_tps(settings, events, warmup=warmup)
    with broker_for(settings.broker) as (bootstrap, embedded):
        ensure_topics(bootstrap, pipeline_topics(settings))
        changelog = f"{app_id}-conversations-changelog"
        err(f"[2/5] seeding {conversations} conversations into {changelog} ({partitions} partitions)")
        states = seeded_states(conversations, run, now_ms=int(time.time() * 1000))
        seed = seed_changelog(bootstrap, changelog, partitions, states, conversations)
        err(f"[3/5] starting one worker (store {store}) and recovering the table")
        with (
            WorkerLogs("supportflow-bench-conversations-") as logs,
            # Started only now, after seeding: its table recovery is what is measured.
            workers_on(settings, bootstrap, embedded, logs, env=env) as pipe,
        ):
            started = time.monotonic()
            wait_ready(pipe.bootstrap, settings, pipe.workers, pipe.reader, quiet=True, log_dir=logs.path,
                       timeout_s=ready_timeout_s)  # fmt: skip
            ready_s = time.monotonic() - started
            pid = pipe.workers[0].pid
            after_recovery = memory_of(pid)
            recovery_s = recovery_seconds(logs.worker_log(0).read_text(errors="replace"))
            err(f"      ready after {ready_s:.1f}s (recovery {recovery_s}s), worker RSS "
                f"{after_recovery['rss_mib']} MiB; [4/5] {tickets} tickets at full speed")  # fmt: skip
            measured = _throughput(pipe, logs, events, warmup, latency_tickets)
            at_end = memory_of(pid)
            disk = sum(dir_bytes(d) for d in table_dirs(data_dir))
            if measured["lost"] or measured["latency_phase_lost"]:
                logs.mark_failed()
    return {
        "store": store, **summarize_seed(seed),
        "table_disk_bytes": disk if settings.conversation.on_disk else None,
        "ready_s": round(ready_s, 1), "recovery_s": recovery_s,
        "worker_rss_after_recovery_mib": after_recovery["rss_mib"],
        "worker_rss_end_mib": at_end["rss_mib"], "worker_peak_rss_mib": at_end["peak_rss_mib"],
        "tickets": len(events), "partitions": partitions, "topology": settings.topology,
        "warmup_tickets": len(warmup), "compute_tps": round(compute.tickets_per_s, 1),
        "pipeline_over_compute": round(measured["pipeline_tps"] / compute.tickets_per_s, 3), **measured,
    }  # fmt: skip


def _throughput(
    pipe: Any, logs: Any, events: list[Any], warmup: list[Any], latency_tickets: int
) -> dict[str, Any]:
    """Full speed, then latency at half that rate, each after its warm-up: the usual bench figures."""
    from supportflow.console import err
    from supportflow.evals.bench import bench_events, percentiles
    from supportflow.streams.harness import warm_up

    warm_up(pipe.bootstrap, pipe.ingress, warmup, pipe.reader, 600.0, logs.path)
    full, seconds = _phase(pipe, events, None)
    pipeline = len(full.outcomes) / seconds if seconds else 0.0
    rate = max(1.0, pipeline / 2)
    err(f"[5/5] latency at half the measured maximum: {rate:.0f} tickets/s, {latency_tickets} tickets")
    warm_up(pipe.bootstrap, pipe.ingress, bench_events(max(20, latency_tickets // 5)), pipe.reader, 600.0,
            logs.path)  # fmt: skip
    lat, _ = _phase(pipe, bench_events(latency_tickets), rate)
    latency = percentiles([o.latency_ms for o in lat.outcomes.values()])
    return {
        "pipeline_tps": round(pipeline, 1), "latency_rate_tps": round(rate, 1),
        "p50_ms": latency["p50"], "p95_ms": latency["p95"], "p99_ms": latency["p99"],
        "lost": len(full.unaccounted), "missing": full.unaccounted[:50], "duplicates": full.duplicates,
        "latency_phase_lost": len(lat.unaccounted), "latency_phase_duplicates": lat.duplicates,
    }  # fmt: skip


def _phase(
    pipe: Any, events: list[Any], rate_per_s: float | None, timeout_s: float = 600.0
) -> tuple[Any, float]:
    """Publish ``events`` (paced at ``rate_per_s``, else at once), wait for every fate; the collected
    outcomes and the seconds from the first publish to the last outcome."""
    from supportflow.processors.channels import expected_fates
    from supportflow.streams.ingest import publish_events

    plan = expected_fates(events)
    start = time.monotonic()
    publish_events(pipe.bootstrap, pipe.ingress, events, rate_per_s=rate_per_s)
    collected = pipe.reader.wait_for(plan.total, timeout_s)
    seconds = time.monotonic() - start
    pipe.reader.wait_for(plan.total, 0.0, settle_s=1.0)  # late duplicates count too
    collected.unaccounted = collected.missing(plan.ticket_ids, plan.dead_letter_events)
    pipe.reader.start_window()
    return collected, seconds
