"""The whole pipeline on one machine: a broker (embedded unless given), worker processes, events in,
outcomes and dead letters read back. ``supportflow run`` and ``demo``, the benchmark, the golden
evaluation and the integration tests all start the pipeline through :func:`running_pipeline`.

Workers log to a temporary folder (:class:`WorkerLogs`) that is removed at the end unless it is kept on
request or because something failed; then its path is printed. Progress and problems go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from supportflow.console import Progress, err
from supportflow.processors.channels import count_fates, expected_fates
from supportflow.schemas.models import Channel, InboundEvent
from supportflow.settings import Settings, get_settings
from supportflow.streams.collect import Collected, OutcomeReader
from supportflow.streams.embedded import broker_for
from supportflow.streams.ingest import publish_events
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import ensure_topics, pipeline_topics

#: Exit statuses of a worker that stopped because it was asked to (Faust exits 0 on SIGINT/SIGTERM;
#: a worker still loading its models dies of the signal).
CLEAN_EXITS = frozenset({0, -signal.SIGINT, -signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGTERM})


class WorkerLogs:
    """A temporary folder for worker logs: removed on exit unless ``keep`` or something failed.

    A failure is an exception leaving the ``with`` block (Ctrl-C is not one), a worker that exited
    with an error while the pipeline was not interrupted, or :meth:`mark_failed`; the folder is then
    kept and named on stderr.
    """

    def __init__(self, prefix: str, keep: bool = False) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self.keep = keep
        self.failed = False

    def worker_log(self, index: int) -> Path:
        return self.path / f"worker-{index}.log"

    def mark_failed(self) -> None:
        self.failed = True

    def close(self) -> None:
        if self.failed or self.keep:
            err(f"worker logs kept in {self.path}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> WorkerLogs:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and not issubclass(exc_type, KeyboardInterrupt):
            self.failed = True
        self.close()


def worker_cpus(index: int, per_worker: int) -> frozenset[int] | None:
    """The cores worker ``index`` is pinned to (consecutive, wrapping around the machine); 0: unpinned."""
    if per_worker <= 0:
        return None
    cores = sorted(os.sched_getaffinity(0))
    return frozenset(cores[(index * per_worker + k) % len(cores)] for k in range(per_worker))


def start_workers(
    bootstrap: str,
    embedded: bool,
    count: int,
    logs: WorkerLogs,
    *,
    env: Mapping[str, str] | None = None,
    cpus_per_worker: int = 0,
    metrics_port: int | None = None,
) -> list[WorkerProcess]:
    """``count`` worker processes. With ``metrics_port`` worker i serves metrics on ``metrics_port + i``
    (0: none); without it each worker takes ``SUPPORTFLOW_METRICS_PORT`` from the environment."""

    def env_of(i: int) -> dict[str, str]:
        if metrics_port is None:
            return dict(env or {})
        return {**(env or {}), "SUPPORTFLOW_METRICS_PORT": str(metrics_port + i if metrics_port else 0)}

    return [
        WorkerProcess(bootstrap, embedded=embedded, log_path=logs.worker_log(i), env=env_of(i),
                      cpus=worker_cpus(i, cpus_per_worker))
        for i in range(count)
    ]  # fmt: skip


@dataclass
class Pipeline:
    """A started pipeline: its broker, workers, and a reader of what this run decides."""

    settings: Settings
    bootstrap: str
    embedded: bool
    workers: list[WorkerProcess]
    reader: OutcomeReader
    logs: WorkerLogs
    #: Stopped by Ctrl-C or SIGTERM: the workers got the signal too (a terminal sends it to the whole
    #: process group, the embedded broker included), so how they exit says nothing about their health.
    interrupted: bool = False

    @property
    def ingress(self) -> str:
        return self.settings.topics.full(self.settings.topics.ingress)

    def any_alive(self) -> bool:
        return any(w.alive() for w in self.workers)


@contextlib.contextmanager
def running_pipeline(
    settings: Settings,
    logs: WorkerLogs,
    *,
    bootstrap: str | None = None,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    cpus_per_worker: int = 0,
    metrics_port: int | None = None,
) -> Iterator[Pipeline]:
    """Broker (``bootstrap``, else ``settings.broker``, else embedded), topics and workers; stopped on exit.

    The reader starts now: a real cluster's outcome topic holds history, only what this run decides counts.
    """
    with broker_for(bootstrap or settings.broker) as (boot, embedded):
        ensure_topics(boot, pipeline_topics(settings))
        with workers_on(settings, boot, embedded, logs, workers=workers, env=env,
                        cpus_per_worker=cpus_per_worker, metrics_port=metrics_port) as pipe:  # fmt: skip
            yield pipe


@contextlib.contextmanager
def workers_on(
    settings: Settings,
    bootstrap: str,
    embedded: bool,
    logs: WorkerLogs,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    cpus_per_worker: int = 0,
    metrics_port: int | None = None,
) -> Iterator[Pipeline]:
    """Workers and an outcome reader on a running broker whose topics exist; stopped on exit (their
    logs kept when one did not exit cleanly)."""
    procs = start_workers(bootstrap, embedded, workers, logs, env=env, cpus_per_worker=cpus_per_worker,
                          metrics_port=metrics_port)  # fmt: skip
    pipe: Pipeline | None = None
    interrupted = False
    try:
        t = settings.topics
        reader = OutcomeReader(
            bootstrap, t.full(t.outcomes), t.full(t.dead_letter), since_ms=int(time.time() * 1000)
        )
        try:
            pipe = Pipeline(settings, bootstrap, embedded, procs, reader, logs)
            yield pipe
        finally:
            reader.close()
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        stop_all(procs)
        interrupted = interrupted or (pipe is not None and pipe.interrupted)
        if not interrupted and any(w.proc.returncode not in CLEAN_EXITS for w in procs):
            logs.mark_failed()


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
    keep_logs: bool = False,
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
    with (
        WorkerLogs("supportflow-demo-", keep=keep_logs) as logs,
        running_pipeline(settings, logs, bootstrap=bootstrap, workers=workers, env=env,
                         cpus_per_worker=cpus_per_worker) as pipe,
    ):  # fmt: skip
        wait_ready(pipe.bootstrap, settings, pipe.workers, pipe.reader, quiet=quiet, log_dir=logs.path)
        warm_up(pipe.bootstrap, pipe.ingress, warmup or [], pipe.reader, timeout_s, logs.path)
        start = time.monotonic()
        publish_events(pipe.bootstrap, pipe.ingress, events, rate_per_s=rate_per_s)
        progress = Progress(expected, "tickets decided", enabled=not quiet)
        collected = pipe.reader.wait_for(
            expected, timeout_s, on_progress=lambda c: progress.update(c.total), settle_s=0.0
        )
        seconds = time.monotonic() - start
        pipe.reader.wait_for(expected, 0.0, settle_s=1.0)  # late duplicates, if any, are counted too
        progress.close()
        _account(collected, plan.ticket_ids, plan.dead_letter_events, expected, pipe)
    return expected, collected, seconds


def _account(
    collected: Collected, tickets: Iterable[str], events: Iterable[str], expected: int, pipe: Pipeline
) -> None:
    """Record what has no fate in ``collected.unaccounted``; if anything, say so and keep the logs."""
    collected.unaccounted = collected.missing(tickets, events)
    if collected.unaccounted:
        pipe.logs.mark_failed()
        named = ", ".join(collected.unaccounted[:10])
        err(
            f"{len(collected.unaccounted)} of {expected} without an outcome or dead letter ({named}"
            f"{', ...' if len(collected.unaccounted) > 10 else ''}); "
            f"{sum(w.alive() for w in pipe.workers)} workers alive"
        )


def run_event_waves(
    waves: Sequence[Callable[[bool], Iterable[InboundEvent]]],
    *,
    bootstrap: str | None = None,
    workers: int = 1,
    wave_timeout_s: float = 60.0,
    quiet: bool = False,
    rate_per_s: float | None = None,
    env: dict[str, str] | None = None,
    keep_logs: bool = False,
) -> tuple[int, Collected, float]:
    """Like :func:`run_events`, but wave by wave: wave w+1 is published only once every ticket of wave
    w has its outcome (or dead letter), or ``wave_timeout_s`` passed.

    For conversations: a message's decision depends on the decisions before it, so a customer's next
    message must not overtake the answer to the previous one. Within a wave events go out in the
    given order (paced by ``rate_per_s``), so a burst of one conversation arrives back to back. A
    wave is a function of ``live``: with ``False`` it gives its events at once, to plan which tickets
    to wait for (ticket ids must not depend on message times); with ``True`` it may pace them in real
    time and date them as they are taken.
    """
    settings = get_settings()
    plans = [expected_fates(list(wave(False))) for wave in waves]
    expected = sum(plan.total for plan in plans)
    with (
        WorkerLogs("supportflow-waves-", keep=keep_logs) as logs,
        running_pipeline(settings, logs, bootstrap=bootstrap, workers=workers, env=env) as pipe,
    ):
        wait_ready(pipe.bootstrap, settings, pipe.workers, pipe.reader, quiet=quiet, log_dir=logs.path)
        start = time.monotonic()
        progress = Progress(expected, "conversation messages decided", enabled=not quiet)
        for wave, plan in zip(waves, plans, strict=True):
            publish_events(pipe.bootstrap, pipe.ingress, wave(True), rate_per_s=rate_per_s)
            deadline = time.monotonic() + wave_timeout_s
            while pipe.reader.collected.missing(plan.ticket_ids, plan.dead_letter_events):
                if time.monotonic() > deadline:
                    break
                if pipe.reader.poll():
                    progress.update(pipe.reader.collected.total)
        seconds = time.monotonic() - start
        pipe.reader.wait_for(expected, 0.0, settle_s=1.0)  # late duplicates, if any, are counted too
        progress.close()
        every_ticket = frozenset().union(*(p.ticket_ids for p in plans))
        every_event = frozenset().union(*(p.dead_letter_events for p in plans))
        collected = pipe.reader.collected
        _account(collected, every_ticket, every_event, expected, pipe)
    return expected, collected, seconds


def warm_up(
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
    timeout_s: float = 600.0,
) -> None:
    """Send one canary ticket and wait for its outcome: proves the workers joined and the models loaded.

    The wait is long because start-up embeds every help-center sentence once: seconds with the default
    encoder, minutes with the multilingual one on two cores. A worker that exits fails it at once."""
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
