"""``supportflow run | demo | worker | ingest | topics``: the pipeline's commands (``flags``: flags_cmd)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from supportflow.cli.output import Progress, err
from supportflow.connectors.ingress import events_from_path
from supportflow.data import data_path
from supportflow.processors.channels import count_fates, expected_fates
from supportflow.schemas.models import Channel, InboundEvent, Outcome
from supportflow.settings import Settings, get_settings
from supportflow.streams.collect import Collected, OutcomeReader
from supportflow.streams.embedded import broker_for
from supportflow.streams.ingest import publish_events
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import ensure_topics, pipeline_topics

log = logging.getLogger(__name__)


def _bootstrap_arg(args: argparse.Namespace, settings: Settings) -> str | None:
    return getattr(args, "broker", None) or settings.broker


def cmd_worker(args: argparse.Namespace) -> int:
    from supportflow.connectors.crm import open_crm
    from supportflow.streams.worker import run_worker

    settings = get_settings()
    bootstrap = _bootstrap_arg(args, settings)
    if not bootstrap:
        err("worker needs a broker: --broker HOST:PORT or SUPPORTFLOW_BROKER")
        return 2
    run_worker(
        settings,
        bootstrap,
        crm=open_crm(settings),
        embedded=args.embedded_quirks,
        kb_in_memory=args.kb_in_memory,
    )
    return 0


def _start_workers(
    bootstrap: str, embedded: bool, count: int, log_dir: Path, metrics_port: int = 0
) -> list[WorkerProcess]:
    """``count`` worker processes; worker i serves metrics on ``metrics_port + i`` (0: none)."""
    return [
        WorkerProcess(
            bootstrap,
            embedded=embedded,
            log_path=log_dir / f"worker-{i}.log",
            env={"SUPPORTFLOW_METRICS_PORT": str(metrics_port + i if metrics_port else 0)},
        )
        for i in range(count)
    ]


def cmd_run(args: argparse.Namespace) -> int:
    settings = get_settings()
    log_dir = Path(tempfile.mkdtemp(prefix="supportflow-run-"))
    with broker_for(_bootstrap_arg(args, settings)) as (bootstrap, embedded):
        ensure_topics(bootstrap, pipeline_topics(settings))
        err(f"broker {bootstrap} ({'embedded Tansu' if embedded else 'external'}); worker logs in {log_dir}")
        workers = _start_workers(bootstrap, embedded, args.workers, log_dir, args.metrics_port)
        if args.metrics_port:
            urls = ", ".join(f"http://127.0.0.1:{args.metrics_port + i}/metrics" for i in range(args.workers))
            err(f"metrics: {urls}")
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        t = settings.topics
        # Only what this run decides: a real cluster's outcome topic holds history.
        reader = OutcomeReader(
            bootstrap, t.full(t.outcomes), t.full(t.dead_letter), since_ms=int(time.time() * 1000)
        )
        if args.replay_samples:
            sent = publish_events(bootstrap, t.full(t.ingress), events_from_path(data_path("samples")))
            err(f"published {sent} sample events to {t.full(t.ingress)}")
        err("running; Ctrl-C to stop")
        shown = 0
        try:
            while not stop.is_set():
                reader.poll(0.5)
                outcomes = list(reader.collected.outcomes.values())
                for o in outcomes[shown:]:
                    err(
                        f"  {o.decision:<13} {o.channel:<8} {o.intent:<24} {o.confidence:.2f}  {', '.join(o.reasons)[:70]}"
                    )
                shown = len(outcomes)
                if not any(w.alive() for w in workers):
                    err(f"all workers exited; see {log_dir}")
                    return 1
        finally:
            reader.close()
            stop_all(workers)
    return 0


def _record(o: Outcome) -> dict[str, Any]:
    return {
        "ticket_id": o.ticket_id, "conversation_id": o.conversation_id, "customer_id": o.customer_id,
        "channel": str(o.channel), "decision": str(o.decision), "intent": o.intent,
        "confidence": round(o.confidence, 4), "band": str(o.band), "tier": str(o.tier), "model": o.model,
        "reasons": o.reasons, "answer": o.answer, "citations": o.citations,
        "groundedness": round(o.groundedness, 4), "latency_ms": o.latency_ms, "timings_ms": o.timings_ms,
        "language": o.language, "cost_usd": o.cost_usd,
    }  # fmt: skip


def run_demo(
    tickets: Path,
    *,
    bootstrap: str | None = None,
    workers: int = 1,
    timeout_s: float = 180.0,
    quiet: bool = False,
) -> tuple[int, Collected, float]:
    """Run the pipeline over the tickets at ``tickets``; returns (messages in, what came out, seconds)."""
    return run_events(list(events_from_path(tickets)), bootstrap=bootstrap, workers=workers,
                      timeout_s=timeout_s, quiet=quiet)  # fmt: skip


def worker_cpus(index: int, per_worker: int) -> frozenset[int] | None:
    """The cores worker ``index`` is pinned to (consecutive, wrapping around the machine); 0: unpinned."""
    if per_worker <= 0:
        return None
    cores = sorted(os.sched_getaffinity(0))
    return frozenset(cores[(index * per_worker + k) % len(cores)] for k in range(per_worker))


def run_events(
    events: list[InboundEvent],
    *,
    bootstrap: str | None = None,
    workers: int = 1,
    timeout_s: float = 180.0,
    quiet: bool = False,
    rate_per_s: float | None = None,
    env: dict[str, str] | None = None,
    cpus_per_worker: int = 0,
    warmup: list[InboundEvent] | None = None,
) -> tuple[int, Collected, float]:
    """Start broker (unless given) and workers, publish ``events``, wait for every fate, stop.

    Seconds are measured from the first publish to the last outcome, after the workers are ready, so
    start-up cost (model load, group join) is not counted as processing time. ``warmup`` events go
    first, as fast as the workers take them, and are waited for and left out of what is returned:
    a running service has already met its customers and help-center passages.
    """
    settings = get_settings()
    plan = expected_fates(events)
    expected = plan.total
    log_dir = Path(tempfile.mkdtemp(prefix="supportflow-demo-"))
    with broker_for(bootstrap or settings.broker) as (boot, embedded):
        ensure_topics(boot, pipeline_topics(settings))
        procs = [WorkerProcess(boot, embedded=embedded, log_path=log_dir / f"worker-{i}.log", env=env,
                               cpus=worker_cpus(i, cpus_per_worker))
                 for i in range(workers)]  # fmt: skip
        t = settings.topics
        reader = OutcomeReader(
            boot, t.full(t.outcomes), t.full(t.dead_letter), since_ms=int(time.time() * 1000)
        )
        try:
            wait_ready(boot, settings, procs, reader, quiet=quiet, log_dir=log_dir)
            _warm_up(boot, t.full(t.ingress), warmup or [], reader, timeout_s, log_dir)
            start = time.monotonic()
            publish_events(boot, t.full(t.ingress), events, rate_per_s=rate_per_s)
            progress = Progress(expected, "tickets decided", enabled=not quiet)
            collected = reader.wait_for(
                expected, timeout_s, on_progress=lambda c: progress.update(c.total), settle_s=0.0
            )
            seconds = time.monotonic() - start
            reader.wait_for(expected, 0.0, settle_s=1.0)  # late duplicates, if any, are counted too
            progress.close()
            collected.unaccounted = collected.missing(plan.ticket_ids, plan.dead_letter_events)
            if collected.unaccounted:
                alive = sum(w.alive() for w in procs)
                named = ", ".join(collected.unaccounted[:10])
                err(
                    f"{len(collected.unaccounted)} of {expected} without an outcome or dead letter ({named}"
                    f"{', ...' if len(collected.unaccounted) > 10 else ''}); {alive} workers alive; "
                    f"logs in {log_dir}"
                )
        finally:
            reader.close()
            stop_all(procs)
        return expected, collected, seconds


def _warm_up(
    bootstrap: str,
    topic: str,
    warmup: list[InboundEvent],
    reader: OutcomeReader,
    timeout_s: float,
    log_dir: Path,
) -> None:
    """Publish ``warmup``, wait for all of it, then start ``reader``'s count afresh."""
    if warmup:
        expected = count_fates(warmup)
        publish_events(bootstrap, topic, warmup)
        if reader.wait_for(expected, timeout_s).total < expected:
            raise TimeoutError(f"warm-up not decided after {timeout_s}s; see {log_dir}")
        reader.start_window()


def wait_ready(
    bootstrap: str,
    settings: Settings,
    procs: list[WorkerProcess],
    reader: OutcomeReader,
    *,
    quiet: bool,
    log_dir: Path,
    timeout_s: float = 120.0,
) -> None:
    """Send one canary ticket and wait for its outcome: proves the workers joined and the models loaded."""
    t = settings.topics
    canary = canary_event()
    publish_events(bootstrap, t.full(t.ingress), [canary])
    if not quiet:
        err("starting workers (loading models, joining the consumer group)...")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reader.poll(0.2)
        if reader.collected.total:
            reader.start_window()  # the canary is not part of the run
            return
        if not any(p.alive() for p in procs):
            raise RuntimeError(f"workers exited during start-up; see {log_dir}")
    raise TimeoutError(f"workers not ready after {timeout_s}s; see {log_dir}")


def canary_event() -> InboundEvent:
    body = json.dumps(
        {"ticket_id": f"canary-{uuid.uuid4().hex}", "email": "canary@supportflow.invalid",
         "text": "How do I reset my password?"}
    )  # fmt: skip
    return InboundEvent(event_id=f"canary-{uuid.uuid4().hex}", channel=Channel.API,
                        received_at_ms=int(time.time() * 1000), payload=body.encode(), source="canary")  # fmt: skip


def demo_summary(expected: int, collected: Collected, seconds: float) -> dict[str, Any]:
    outcomes = list(collected.outcomes.values())
    # kind:name, keeping detail a person wants (which language) but not values (amounts, thresholds).
    reasons: Counter[str] = Counter(":".join(r.split(":")[:2]) for o in outcomes for r in o.reasons)
    return {
        "tickets_in": expected,
        "outcomes": len(outcomes),
        "dead_lettered": len(collected.dead_letters),
        "duplicates": collected.duplicates,
        "lost": len(collected.unaccounted),
        "missing": collected.unaccounted,
        "seconds": round(seconds, 2),
        "by_decision": dict(Counter(str(o.decision) for o in outcomes)),
        "by_channel": dict(Counter(str(o.channel) for o in outcomes)),
        "by_reason": dict(reasons.most_common()),
        "dead_letters": [
            {
                "stage": d.stage,
                "error_class": d.error_class,
                "error_message": d.error_message[:200],
                "channel": d.channel,
                "source": d.source,
                "original_bytes": len(d.original),
            }
            for d in collected.dead_letters
        ],
        "records": [_record(o) for o in sorted(outcomes, key=lambda o: o.ticket_id)],
    }


def cmd_demo(args: argparse.Namespace) -> int:
    path = Path(args.tickets) if args.tickets else data_path("samples")
    if not path.exists():
        err(f"no such file or folder: {path}")
        return 2
    expected, collected, seconds = run_demo(
        path, workers=args.workers, timeout_s=args.timeout, quiet=args.json
    )
    summary = demo_summary(expected, collected, seconds)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        _print_summary(summary)
    return 0 if summary["lost"] == 0 else 1


def _print_summary(s: dict[str, Any]) -> None:
    print(f"\n{s['tickets_in']} messages in -> {s['outcomes']} outcomes, {s['dead_lettered']} dead-lettered, "
          f"{s['duplicates']} duplicates suppressed, {s['lost']} lost ({s['seconds']} s)")  # fmt: skip
    print("\nby decision:  " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_decision"].items())))
    print("by channel:   " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_channel"].items())))
    print("top reasons:  " + ", ".join(f"{k} {v}" for k, v in list(s["by_reason"].items())[:8]))
    if s["dead_letters"]:
        print("\ndead letters:")
        for d in s["dead_letters"]:
            print(
                f"  [{d['stage']}] {d['error_class']}: {d['error_message'][:90]}  ({d['source'] or d['channel']})"
            )
    auto = [r for r in s["records"] if r["decision"] == "auto_resolved"][:3]
    for r in auto:
        print(f"\nexample auto-resolved ({r['intent']}, groundedness {r['groundedness']:.2f}, cites "
              f"{', '.join(r['citations'])}):\n  " + r["answer"][:400].replace("\n", "\n  "))  # fmt: skip


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = get_settings()
    bootstrap = _bootstrap_arg(args, settings)
    if not bootstrap:
        err("ingest publishes to a running pipeline: pass --broker or set SUPPORTFLOW_BROKER")
        return 2
    t = settings.topics
    sent = publish_events(bootstrap, t.full(t.ingress), events_from_path(Path(args.path)))
    err(f"published {sent} events to {t.full(t.ingress)}")
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    settings = get_settings()
    specs = pipeline_topics(settings)
    bootstrap = _bootstrap_arg(args, settings)
    if args.create:
        if not bootstrap:
            err("topics --create needs --broker or SUPPORTFLOW_BROKER")
            return 2
        created = ensure_topics(bootstrap, specs)
        err(f"created {len(created)} topics")
    for s in specs:
        print(f"{s.name:<40} partitions={s.partitions:<3} {'compact ' if s.compacted else ''}{s.purpose}")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def broker(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--broker", help="Kafka bootstrap servers (default: SUPPORTFLOW_BROKER, else embedded)"
        )

    p = sub.add_parser("run", help="start the pipeline (embedded broker unless configured) until Ctrl-C")
    broker(p)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--replay-samples", action="store_true", help="also publish the bundled sample tickets")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=9102,
        help="Prometheus port of worker 0 (worker i: +i); 0 disables",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run the bundled (or given) tickets through the pipeline and summarize")
    p.add_argument("--tickets", help="file or folder of .eml / .json / .jsonl (default: bundled samples)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for every outcome")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("worker", help="run one pipeline worker against a broker (used by run/demo/Helm)")
    broker(p)
    p.add_argument("--embedded-quirks", action="store_true", help="apply the Tansu workarounds")
    p.add_argument("--kb-in-memory", action="store_true", help="index the bundled help center in memory")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("ingest", help="publish tickets (file or folder) to a running pipeline")
    broker(p)
    p.add_argument("path")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("topics", help="list the pipeline's topics; --create creates missing ones")
    broker(p)
    p.add_argument("--create", action="store_true")
    p.set_defaults(func=cmd_topics)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
