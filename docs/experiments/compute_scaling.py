"""How far this machine's cores allow two workers to scale: the compute loop alone vs two at once.

``supportflow bench --cpus-per-worker 1 --workers 2`` compares two pinned workers with one. Whatever
the pipeline does, two workers cannot beat what two copies of the useful work reach when they run
side by side, each on its own core: shared caches, memory bandwidth and a hypervisor's scheduling of
the virtual cores all show up here first. This script measures that ceiling with the bench's own
compute loop (``supportflow.evals.bench.compute_tps``: the five stage functions, embedding
included, no Kafka), each copy in its own process pinned to one core (docs/performance.md).

Usage::

    python docs/experiments/compute_scaling.py [--tickets 1000] [--rounds 3]

Each round runs one copy alone on core 0, then one copy per core at the same time, and prints the
tickets/s of each and the ratio (sum of the concurrent copies over the one alone).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics


def _one(core: int, tickets: int, start: mp.synchronize.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.sched_setaffinity(0, {core})
    from supportflow.evals.bench import bench_events, compute_tps
    from supportflow.settings import get_settings

    settings = get_settings().model_copy(update={"embedding_threads": 1})
    events = bench_events(tickets)
    compute_tps(settings, bench_events(64))  # load models and caches before the timed run
    start.wait()
    out.put((core, compute_tps(settings, events).tickets_per_s))


def run(cores: list[int], tickets: int) -> dict[int, float]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(len(cores)), ctx.Queue()
    procs = [ctx.Process(target=_one, args=(c, tickets, barrier, out)) for c in cores]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=900) for _ in procs)
    for p in procs:
        p.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))[:2]
    ratios = []
    for r in range(args.rounds):
        alone = run(cores[:1], args.tickets)[cores[0]]
        both = run(cores, args.tickets)
        ratio = sum(both.values()) / alone
        ratios.append(ratio)
        line = {
            "round": r + 1,
            "alone_tps": round(alone, 1),
            "side_by_side_tps": {c: round(v, 1) for c, v in both.items()},
        }
        print(json.dumps({**line, "ratio": round(ratio, 3)}), flush=True)
    print(json.dumps({"mean_ratio": round(statistics.mean(ratios), 3), "rounds": args.rounds}))


if __name__ == "__main__":
    main()
