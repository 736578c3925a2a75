"""SIGKILL a worker while thousands of tickets stream through the real embedded broker.

At-least-once delivery means a killed worker's uncommitted tickets are processed again by whoever
takes its partitions; the guarantee is that every ticket ends with exactly one outcome after dedupe
by ticket id at the outcome boundary (as every egress connector does), with nothing lost.
"""

import tempfile
import time
from pathlib import Path

import pytest

from supportflow.cli.pipeline import wait_ready
from supportflow.evals.bench import bench_events
from supportflow.settings import get_settings
from supportflow.streams.collect import Collected, OutcomeReader
from supportflow.streams.embedded import EmbeddedBroker
from supportflow.streams.ingest import publish_events
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import ensure_topics, pipeline_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TICKETS = 2000


def _takeover_s(collected: Collected, killed_at: float) -> float:
    """Longest silence of any outcomes partition across the kill: the rebalance/takeover time."""
    by_partition: dict[int, list[float]] = {}
    for at, partition in collected.arrivals:
        by_partition.setdefault(partition, []).append(at)
    gaps = [0.0]
    for times in by_partition.values():
        times.sort()
        before = [t for t in times if t <= killed_at]
        after = [t for t in times if t > killed_at]
        if before and after:
            gaps.append(after[0] - max(before[-1], killed_at))
    return max(gaps)


def _run_with_kill(workers: int, restart: bool, topology: str = "per-stage") -> tuple[Collected, float]:
    settings = get_settings()
    t = settings.topics
    log_dir = Path(tempfile.mkdtemp(prefix="supportflow-crash-"))
    env = {"SUPPORTFLOW_TOPOLOGY": topology}
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, pipeline_topics(settings))
        procs = [
            WorkerProcess(broker.bootstrap, embedded=True, log_path=log_dir / f"w{i}.log", env=env)
            for i in range(workers)
        ]
        reader = OutcomeReader(
            broker.bootstrap, t.full(t.outcomes), t.full(t.dead_letter), since_ms=int(time.time() * 1000)
        )
        try:
            wait_ready(broker.bootstrap, settings, procs, reader, quiet=True, log_dir=log_dir)
            publish_events(broker.bootstrap, t.full(t.ingress), bench_events(TICKETS))
            reader.wait_for(TICKETS // 3, timeout_s=300)
            killed_at = time.monotonic()
            procs[0].kill()
            if restart:
                procs.append(
                    WorkerProcess(
                        broker.bootstrap, embedded=True, log_path=log_dir / "restarted.log", env=env
                    )
                )
            collected = reader.wait_for(TICKETS, timeout_s=420)
            reader.wait_for(TICKETS, 0.0, settle_s=3.0)  # redelivered duplicates arrive late
            takeover = _takeover_s(collected, killed_at)
        finally:
            reader.close()
            stop_all(procs)
    print(f"\n{workers} worker(s), {topology}, restart={restart}: {len(collected.outcomes)}/{TICKETS} tickets decided, "
          f"{collected.duplicates} duplicates suppressed, {len(collected.dead_letters)} dead letters, "
          f"takeover {takeover:.1f}s")  # fmt: skip
    return collected, takeover


@pytest.mark.parametrize(
    ("workers", "restart", "topology"),
    [(2, False, "per-stage"), (1, True, "per-stage"), (2, False, "compact")],
    ids=["two-workers-kill-one", "kill-restart", "compact-two-workers-kill-one"],
)
def test_worker_sigkill_every_ticket_one_outcome_none_lost(workers, restart, topology):
    collected, _takeover = _run_with_kill(workers, restart, topology)
    assert len(collected.outcomes) == TICKETS, f"lost {TICKETS - len(collected.outcomes)} tickets"
    assert collected.dead_letters == []
    assert collected.undecodable == 0
