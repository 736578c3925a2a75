"""A slow model provider: the broker absorbs the backlog, worker memory stays bounded, nothing is dropped."""

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from supportflow.evals.bench import bench_events
from supportflow.settings import get_settings
from supportflow.streams.collect import OutcomeReader
from supportflow.streams.embedded import EmbeddedBroker
from supportflow.streams.harness import wait_ready
from supportflow.streams.ingest import publish_events
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import ensure_topics, pipeline_topics
from tests.fakes.citing_llm import cited_reply, llm_env
from tests.fakes.openai_server import Behaviour, FakeOpenAIServer, Reply

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TICKETS = 300
PROVIDER_DELAY_S = 0.08


class SlowCitingServer(FakeOpenAIServer):
    def _next(self, model: str, body: dict[str, Any]) -> Behaviour:
        super()._next(model, body)
        return Reply(cited_reply(body), delay_s=PROVIDER_DELAY_S)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_slow_provider_backlog_absorbed_memory_bounded_nothing_dropped(tmp_path):
    settings = get_settings()
    t = settings.topics
    log_dir = tmp_path
    with SlowCitingServer() as llm, EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, pipeline_topics(settings))
        worker = WorkerProcess(
            broker.bootstrap, embedded=True, env=llm_env(llm.base_url), log_path=log_dir / "worker.log"
        )
        reader = OutcomeReader(
            broker.bootstrap, t.full(t.outcomes), t.full(t.dead_letter), int(time.time() * 1000)
        )
        samples: list[float] = []
        stop = threading.Event()

        def sample_memory() -> None:
            while not stop.is_set() and worker.alive():
                samples.append(_rss_mb(worker.pid))
                stop.wait(0.25)

        try:
            wait_ready(broker.bootstrap, settings, [worker], reader, quiet=True, log_dir=log_dir)
            baseline = _rss_mb(worker.pid)
            sampler = threading.Thread(target=sample_memory, daemon=True)
            sampler.start()
            started = time.monotonic()
            publish_events(broker.bootstrap, t.full(t.ingress), bench_events(TICKETS))
            published_in = time.monotonic() - started
            max_backlog = 0

            def track(c) -> None:
                nonlocal max_backlog
                max_backlog = max(max_backlog, TICKETS - c.total)

            collected = reader.wait_for(TICKETS, timeout_s=300, on_progress=track)
            drained_in = time.monotonic() - started
        finally:
            stop.set()
            reader.close()
            stop_all([worker])
    peak = max(samples, default=baseline)
    print(f"\npublished {TICKETS} in {published_in:.2f}s, drained in {drained_in:.1f}s, {len(llm.requests)} model "
          f"calls at {PROVIDER_DELAY_S * 1000:.0f} ms, backlog peak {max_backlog}, worker RSS {baseline:.0f} MB -> "
          f"peak {peak:.0f} MB")  # fmt: skip
    assert len(collected.outcomes) == TICKETS and not collected.dead_letters
    assert len(llm.requests) > TICKETS // 4, "the slow provider was not on the path"
    assert max_backlog > TICKETS // 2, "the load never queued: the test did not exercise backpressure"
    assert peak - baseline < 250, f"worker memory grew {peak - baseline:.0f} MB under backlog"
