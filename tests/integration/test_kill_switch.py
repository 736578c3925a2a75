"""Kill switch through the live pipeline: after `flags set auto_resolve=False`, zero auto-sends; measured delay."""

import time
import urllib.request

import pytest

from supportflow.cli.main import main
from supportflow.connectors.ingress import events_from_path
from supportflow.data import data_path
from supportflow.evals.bench import bench_events
from supportflow.processors.channels import count_messages
from supportflow.schemas.models import Decision
from supportflow.settings import get_settings
from supportflow.streams.collect import OutcomeReader
from supportflow.streams.embedded import EmbeddedBroker, free_port
from supportflow.streams.flags import publish_flag
from supportflow.streams.harness import wait_ready
from supportflow.streams.ingest import publish_events
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import ensure_topics, pipeline_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INVALID_NOW = 'supportflow_flags_invalid{flag="auto_resolve"}'
INVALID_COUNT = 'supportflow_flag_values_invalid_total{flag="auto_resolve"}'


def _metric(port: int, name: str) -> float | None:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def _run(bootstrap, topic, events, settings):
    t = settings.topics
    reader = OutcomeReader(bootstrap, t.full(t.outcomes), t.full(t.dead_letter), int(time.time() * 1000))
    try:
        publish_events(bootstrap, topic, events)
        return reader.wait_for(sum(count_messages(e) for e in events), timeout_s=120)
    finally:
        reader.close()


def _wait_metric(port: int, name: str, value: float, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _metric(port, name) != value:
        assert time.monotonic() < deadline, f"{name} not {value} within {timeout_s} s"
        time.sleep(0.02)


def _flags_set(bootstrap: str, assignment: str) -> None:
    """The operator's path: the real CLI parser and writer."""
    assert main(["flags", "--broker", bootstrap, "set", assignment]) == 0


def test_kill_switch_flip_zero_auto_sends_then_resume(tmp_path):
    settings = get_settings()
    t = settings.topics
    port = free_port()
    events = list(events_from_path(data_path("samples")))
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, pipeline_topics(settings))
        log_dir = tmp_path  # pytest keeps the last few runs' for a failure's diagnosis
        worker = WorkerProcess(broker.bootstrap, embedded=True, env={"SUPPORTFLOW_METRICS_PORT": str(port)},
                               log_path=log_dir / "worker.log")  # fmt: skip
        reader = OutcomeReader(broker.bootstrap, t.full(t.outcomes), t.full(t.dead_letter))
        try:
            wait_ready(broker.bootstrap, settings, [worker], reader, quiet=True, log_dir=log_dir)
            reader.close()
            set_at = time.monotonic()
            _flags_set(broker.bootstrap, "auto_resolve=False")  # a capitalized word, as typed by hand
            _wait_metric(port, "supportflow_auto_resolve_enabled", 0.0)
            observed = time.monotonic() - set_at
            effect = _metric(port, "supportflow_flag_effect_seconds")
            off = _run(broker.bootstrap, t.full(t.ingress), events, settings)
            _flags_set(broker.bootstrap, "auto_resolve=on")
            _wait_metric(port, "supportflow_auto_resolve_enabled", 1.0)
            # The same tickets again would be suppressed as duplicates: send their texts under new ids.
            on = _run(broker.bootstrap, t.full(t.ingress), bench_events(len(off.outcomes)), settings)
            # An unchecked writer leaves the string "true": workers fail closed and flag it.
            publish_flag(broker.bootstrap, t.full(t.control), "auto_resolve", "true")
            _wait_metric(port, "supportflow_auto_resolve_enabled", 0.0)
            _wait_metric(port, INVALID_NOW, 1.0)
            invalid_count = _metric(port, INVALID_COUNT)
            _flags_set(broker.bootstrap, "auto_resolve=off")
            _wait_metric(port, INVALID_NOW, 0.0)
            off_after_fix = _metric(port, "supportflow_auto_resolve_enabled")
        finally:
            stop_all([worker])
    autos_off = [o for o in off.outcomes.values() if o.decision == Decision.AUTO_RESOLVED]
    switched = [o for o in off.outcomes.values() if "gate:kill_switch" in o.reasons]
    print(f"\nkill switch: applied {observed * 1000:.0f} ms after set (worker-measured {effect * 1000:.0f} ms); "
          f"{len(off.outcomes)} tickets with switch off: {len(autos_off)} auto-sent, {len(switched)} held by it")  # fmt: skip
    assert off.outcomes and autos_off == []
    assert switched, "no auto-band ticket reached the gate: the test proves nothing"
    assert any(o.decision == Decision.AUTO_RESOLVED for o in on.outcomes.values()), "auto-send did not resume"
    assert invalid_count is not None and invalid_count >= 1 and off_after_fix == 0.0
