"""``supportflow bench [--tickets N] [--json]``: pipeline vs compute vs raw Kafka, one machine, one broker.

``--conversations N [--store memory|rocksdb]``: one worker with N active conversations in its table
(``supportflow.evals.bench_conversations``): memory, table size and recovery next to throughput.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from supportflow.cli import argtypes
from supportflow.console import err

if TYPE_CHECKING:
    from supportflow.schemas.models import InboundEvent


def run_bench(
    tickets: int,
    workers: int,
    latency_tickets: int,
    cpus_per_worker: int = 0,
    warmup_tickets: int | None = None,
    topology: str | None = None,
    languages: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Every phase of ``supportflow bench``; its ``--json`` result.

    Each measured phase (compute, full speed, latency) is preceded by ``warmup_tickets`` (default a
    fifth of its own count, at least 20) that are not counted: freshly started workers meet every
    customer and help-center passage for the first time, a running service has met them. With two
    workers each warms its own caches, so without a warm-up a short run measures start-up, not scale.
    """
    from supportflow.evals.bench import bench_events, compute_tps, percentiles, pinned, raw_kafka_tps
    from supportflow.settings import get_settings
    from supportflow.streams.embedded import broker_for
    from supportflow.streams.harness import run_events, worker_cpus
    from supportflow.streams.topics import source_topics

    settings = get_settings()
    if topology:  # the workers are separate processes: they take it from their environment
        settings = settings.model_copy(update={"topology": topology})
    env: dict[str, str] = {"SUPPORTFLOW_TOPOLOGY": settings.topology}
    events = bench_events(tickets, languages)

    def warmup_for(n: int) -> list[InboundEvent]:
        return bench_events(max(20, n // 5) if warmup_tickets is None else warmup_tickets, languages)

    warmup = warmup_for(tickets)

    one_worker = worker_cpus(0, cpus_per_worker)
    where = f" on cores {sorted(one_worker)}" if one_worker else ""
    err(f"[1/4] compute only: {tickets} tickets through the stage functions{where}")
    with pinned(one_worker):
        sized = settings.model_copy(update={"embedding_threads": len(one_worker)}) if one_worker else settings
        compute = compute_tps(sized, events, warmup=warmup)
    with broker_for(settings.broker) as (bootstrap, _embedded):
        hops = len(source_topics(settings))  # as many as the pipeline's topology has
        err(f"[2/4] raw Kafka: {tickets} messages through {hops} relay hops")
        raw = raw_kafka_tps(bootstrap, tickets, settings.topics.partitions, hops)
        err(f"[3/4] pipeline at full speed: {tickets} tickets, {workers} worker(s)")
        n, collected, seconds = run_events(
            events, bootstrap=bootstrap, workers=workers, quiet=True, cpus_per_worker=cpus_per_worker,
            warmup=warmup, env=env,
        )  # fmt: skip
        pipeline = len(collected.outcomes) / seconds if seconds else 0.0
        rate = max(1.0, pipeline / 2)
        lat_warmup = warmup_for(latency_tickets)
        err(f"[4/4] latency at half the measured maximum: {rate:.0f} tickets/s, {latency_tickets} tickets "
            f"after {len(lat_warmup)} warm-up tickets")  # fmt: skip
        # The warm-up goes in at full speed and is decided before the measured tickets start at
        # ``rate``: warm-up tickets at that rate into cold workers would leave a queue behind them.
        _, lat, _ = run_events(
            bench_events(latency_tickets, languages), bootstrap=bootstrap, workers=workers, quiet=True,
            rate_per_s=rate,
            cpus_per_worker=cpus_per_worker, warmup=lat_warmup, env=env,
        )  # fmt: skip
    latency = percentiles([o.latency_ms for o in lat.outcomes.values()])
    return {
        "tickets": n, "workers": workers, "partitions": settings.topics.partitions,
        "topology": settings.topology, "hops": hops, "languages": sorted(languages) or "all",
        "cpus_per_worker": cpus_per_worker or None, "warmup_tickets": len(warmup),
        "raw_kafka_tps": round(raw, 1), "compute_tps": round(compute.tickets_per_s, 1),
        "pipeline_tps": round(pipeline, 1),
        "pipeline_over_compute": round(pipeline / compute.tickets_per_s, 3),
        "pipeline_over_raw": round(pipeline / raw, 3),
        "latency_rate_tps": round(rate, 1), "p50_ms": latency["p50"], "p95_ms": latency["p95"],
        "p99_ms": latency["p99"], "compute_ms_per_ticket_by_stage": compute.per_stage_ms,
        "lost": len(collected.unaccounted), "missing": collected.unaccounted[:50],
        "duplicates": collected.duplicates,
        "latency_phase_lost": len(lat.unaccounted), "latency_phase_missing": lat.unaccounted[:50],
        "latency_phase_duplicates": lat.duplicates,
    }  # fmt: skip


def cmd_bench(args: argparse.Namespace) -> int:
    if args.conversations is not None:
        return _conversations_bench(args)
    result = run_bench(
        args.tickets,
        args.workers,
        args.latency_tickets or args.tickets,
        args.cpus_per_worker,
        args.warmup_tickets,
        args.topology,
        tuple(args.language),
    )
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"raw Kafka ({result['hops']} hops)   {result['raw_kafka_tps']:>9.1f} tickets/s   "
          f"(topology {result['topology']})")  # fmt: skip
    print(f"compute (no Kafka)   {result['compute_tps']:>9.1f} tickets/s   per stage ms: "
          f"{result['compute_ms_per_ticket_by_stage']}")  # fmt: skip
    print(f"pipeline             {result['pipeline_tps']:>9.1f} tickets/s   ({result['workers']} worker(s), "
          f"{result['partitions']} partitions)")  # fmt: skip
    print(f"pipeline / compute   {result['pipeline_over_compute']:>9.3f}")
    print(f"pipeline / raw       {result['pipeline_over_raw']:>9.3f}")
    print(f"latency at {result['latency_rate_tps']:.0f}/s    p50 {result['p50_ms']} ms  p95 {result['p95_ms']} ms  "
          f"p99 {result['p99_ms']} ms")  # fmt: skip
    return 0


def _conversations_bench(args: argparse.Namespace) -> int:
    from supportflow.evals.bench_conversations import run_conversation_bench

    store = f"{args.store}://"
    r = run_conversation_bench(
        args.conversations, args.tickets, store=store, latency_tickets=args.latency_tickets or args.tickets,
        warmup_tickets=args.warmup_tickets, topology=args.topology,
    )  # fmt: skip
    if args.json:
        print(json.dumps(r))
        return 0
    mib = 1024 * 1024
    disk = f", {r['table_disk_bytes'] / mib:.0f} MiB on disk" if r["table_disk_bytes"] is not None else ""
    print(f"table ({store})        {r['conversations']} conversations, {r['table_value_bytes'] / mib:.0f} MiB "
          f"of values (mean {r['mean_value_bytes']:.0f} B){disk}")  # fmt: skip
    print(f"recovery             {r['recovery_s']} s (worker ready after {r['ready_s']} s)")
    print(f"worker RSS           {r['worker_rss_after_recovery_mib']:.0f} MiB after recovery, "
          f"{r['worker_rss_end_mib']:.0f} MiB at the end, peak {r['worker_peak_rss_mib']:.0f} MiB")  # fmt: skip
    print(f"compute (no Kafka)   {r['compute_tps']:>9.1f} tickets/s")
    print(
        f"pipeline             {r['pipeline_tps']:>9.1f} tickets/s   (1 worker, {r['partitions']} partitions)"
    )
    print(f"pipeline / compute   {r['pipeline_over_compute']:>9.3f}")
    print(f"latency at {r['latency_rate_tps']:.0f}/s    p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  "
          f"p99 {r['p99_ms']} ms")  # fmt: skip
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="throughput and latency: pipeline vs compute vs raw Kafka")
    p.add_argument(
        "--tickets",
        type=argtypes.positive_int,
        default=2000,
        metavar="N",
        help="tickets per measured phase (default 2000)",
    )
    p.add_argument(
        "--latency-tickets",
        type=argtypes.non_negative_int,
        default=0,
        help="tickets for the latency run (default: --tickets)",
    )
    p.add_argument(
        "--warmup-tickets", type=argtypes.non_negative_int, default=None,
        help="uncounted tickets before each measured phase (default: a fifth of its tickets, at least 20)",
    )  # fmt: skip
    argtypes.add_workers_option(p)
    p.add_argument(
        "--topology", choices=("fused", "per-stage"), default=None,
        help="stage topology of the workers (default: SUPPORTFLOW_TOPOLOGY, else fused)",
    )  # fmt: skip
    p.add_argument(
        "--cpus-per-worker", type=argtypes.non_negative_int, default=0,
        help="pin each worker (and the compute baseline) to this many cores, as a pod CPU limit would; "
        "0: unpinned",
    )  # fmt: skip
    p.add_argument(
        "--conversations", type=argtypes.non_negative_int, default=None, metavar="N",
        help="instead of the three-way comparison: seed N active conversations into the table's changelog, "
        "start one worker (--store), and report its memory, the table's size and the recovery time",
    )  # fmt: skip
    p.add_argument(
        "--store", choices=("memory", "rocksdb"), default="memory",
        help="with --conversations: the table store of the worker (default memory, the embedded default)",
    )  # fmt: skip
    p.add_argument(
        "--language", action="append", default=[], metavar="CODE",
        help="only the bundled samples in this language (repeatable, e.g. --language en); default: all of them",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object with every measurement")
    p.set_defaults(func=cmd_bench)
