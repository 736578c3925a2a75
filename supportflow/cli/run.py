"""``supportflow run``: the pipeline until Ctrl-C; ``supportflow worker``: one pipeline worker process."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from supportflow.cli import argtypes
from supportflow.cli.broker import STATE_HINT, add_broker_option, resolve
from supportflow.cli.output import OutcomeTable
from supportflow.cli.shadow import time_ms
from supportflow.console import err
from supportflow.schemas.errors import PermanentError

if TYPE_CHECKING:
    from supportflow.settings import Settings
    from supportflow.streams.harness import Pipeline

#: Worker 0's metrics port when neither --metrics-port nor SUPPORTFLOW_METRICS_PORT says otherwise.
METRICS_PORT = 9102
RUN_PORT_FIX = "pass --metrics-port or set SUPPORTFLOW_METRICS_PORT to a free port, or 0 to disable"
WORKER_PORT_FIX = "set SUPPORTFLOW_METRICS_PORT to a free port or 0 to disable"


def metrics_port_problem(port: int, fix: str, addr: str = "0.0.0.0") -> str | None:
    """A one-line reason the metrics endpoint cannot listen on ``port`` (bound as the worker binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the metrics server does
        try:
            s.bind((addr, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"metrics port {port} is in use; {fix}"
            return f"metrics port {port} cannot be used ({exc.strerror}); {fix}"
    return None


def run_metrics_port(args: argparse.Namespace, settings: Settings) -> int:
    """--metrics-port, else SUPPORTFLOW_METRICS_PORT when set, else :data:`METRICS_PORT`."""
    if args.metrics_port is not None:
        port: int = args.metrics_port
        return port
    return settings.metrics_port if "metrics_port" in settings.model_fields_set else METRICS_PORT


def cmd_run(args: argparse.Namespace) -> int:
    from supportflow.cli.broker import announced, state_path
    from supportflow.schemas import registry
    from supportflow.settings import get_settings
    from supportflow.streams.harness import WorkerLogs, running_pipeline

    settings = get_settings()
    registry.configure(settings)  # samples and shown outcomes in the registry's framing when one is set
    metrics_port = run_metrics_port(args, settings)
    for port in range(metrics_port, metrics_port + args.workers) if metrics_port else ():
        if problem := metrics_port_problem(port, RUN_PORT_FIX):
            err(f"supportflow: {problem}")
            return 2
    state = state_path(settings.data_dir)
    with (
        WorkerLogs("supportflow-run-", keep=args.keep_logs) as logs,
        running_pipeline(settings, logs, bootstrap=args.broker, workers=args.workers,
                         metrics_port=metrics_port) as pipe,
        announced(state, pipe.bootstrap, pipe.embedded),
        _feedback_join(pipe, args, metrics_port),
    ):  # fmt: skip
        _banner(pipe, args, metrics_port)
        if args.replay_samples:
            _replay_samples(pipe)
        status = _show_outcomes(pipe)
    err("stopped")
    return status


@contextlib.contextmanager
def _feedback_join(pipe: Pipeline, args: argparse.Namespace, metrics_port: int) -> Iterator[None]:
    """The feedback join (``supportflow feedback join``) beside the workers, so feedback published to
    this pipeline is joined and measured; its metrics on the port after the workers'."""
    if args.no_feedback_join:
        yield
        return
    cmd = [sys.executable, "-m", "supportflow.cli.main", "feedback", "join", "--broker", pipe.bootstrap]
    if pipe.embedded:
        cmd.append("--embedded-quirks")
    port = metrics_port + args.workers if metrics_port else 0
    env = {**os.environ, "SUPPORTFLOW_METRICS_PORT": str(port)}
    with (pipe.logs.path / "feedback-join.log").open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    err(f"feedback join: pid {proc.pid}" + (f", metrics http://127.0.0.1:{port}/metrics" if port else ""))
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _banner(pipe: Pipeline, args: argparse.Namespace, metrics_port: int) -> None:
    err(f"broker {pipe.bootstrap} ({'embedded Tansu' if pipe.embedded else 'external'}); "
        f"{args.workers} worker(s)")  # fmt: skip
    if metrics_port:
        urls = ", ".join(f"http://127.0.0.1:{metrics_port + i}/metrics" for i in range(args.workers))
        err(f"metrics: {urls}")
    kept = "kept" if args.keep_logs else "removed on exit unless a worker fails; --keep-logs keeps them"
    err(f"worker logs: {pipe.logs.path} ({kept})")
    err("other terminals (same folder, with .venv/bin on PATH): `supportflow flags show`, `supportflow ingest PATH`, `supportflow audit TICKET` "
        f"and `supportflow dlq list` find this pipeline automatically (through {STATE_HINT})")  # fmt: skip


def _replay_samples(pipe: Pipeline) -> None:
    from supportflow.connectors.ingress import events_from_path
    from supportflow.data import data_path
    from supportflow.streams.ingest import publish_events

    sent = publish_events(pipe.bootstrap, pipe.ingress, events_from_path(data_path("samples")))
    err(f"published {sent} sample events to {pipe.ingress}")


def _show_outcomes(pipe: Pipeline) -> int:
    """Print each outcome as the pipeline decides it, until SIGINT/SIGTERM or every worker is gone."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    err("running; Ctrl-C to stop")
    table = OutcomeTable()
    shown = 0
    while not stop.is_set():
        pipe.reader.poll(0.5)
        outcomes = list(pipe.reader.collected.outcomes.values())
        for outcome in outcomes[shown:]:
            table.write(outcome)
        shown = len(outcomes)
        # Ctrl-C in a terminal reaches the workers too: their exit then is the stop, not a failure.
        if not pipe.any_alive() and not stop.is_set():
            pipe.logs.mark_failed()
            err("all workers exited")
            return 1
    pipe.interrupted = True
    err("stopping the workers and the broker...")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from supportflow.connectors.crm import open_crm
    from supportflow.settings import get_settings
    from supportflow.streams import tracing
    from supportflow.streams.worker import run_worker

    target = resolve(args, "worker")
    if target is None:
        return 2
    settings = _worker_settings(args, get_settings())
    port = settings.metrics_port
    if port and (problem := metrics_port_problem(port, WORKER_PORT_FIX)):
        err(f"supportflow: {problem}")
        return 2
    _seed_shadow_start(args, settings, target.bootstrap, args.embedded_quirks or target.embedded)
    tracing.configure_from_env(service_name="supportflow-worker")  # off unless OTEL_* names an exporter
    try:
        run_worker(settings, target.bootstrap, crm=open_crm(settings),
                   embedded=args.embedded_quirks or target.embedded, kb_in_memory=args.kb_in_memory)  # fmt: skip
    except OSError as exc:
        # The metrics endpoint is the one socket a worker listens on (Faust's web server is off): the
        # port was taken between the check above and the bind.
        if not port or exc.errno != errno.EADDRINUSE:
            raise
        err(f"supportflow: metrics port {port} is in use; {WORKER_PORT_FIX}")
        return 2
    finally:
        tracing.shutdown()  # export the spans still queued
    return 0


def _worker_settings(args: argparse.Namespace, settings: Settings) -> Settings:
    """--router/--policy over the settings; --shadow (or SUPPORTFLOW_SHADOW) derives the shadow
    worker's (``streams/shadow.py``) and refuses one that would write a live topic."""
    from supportflow.streams.shadow import check_isolated, shadow_settings

    paths = {k: v for k, v in (("router_path", args.router), ("policy_path", args.policy)) if v is not None}
    settings = settings.model_copy(update=paths) if paths else settings
    if not (args.shadow or settings.shadow):
        return settings
    shadow = shadow_settings(settings)
    check_isolated(settings, shadow)
    err(f"shadow worker: group {shadow.app_id}, outcomes to {shadow.topics.full(shadow.topics.outcomes)}")
    return shadow


def _seed_shadow_start(args: argparse.Namespace, settings: Settings, bootstrap: str, embedded: bool) -> None:
    """--from: where a shadow group with no offsets yet starts reading ingress."""
    if args.from_ms is None:
        return
    if not settings.shadow:
        raise PermanentError(
            "--from is for a shadow worker (--shadow): the live group reads what it has not yet"
        )
    from supportflow.streams.shadow import seed_group_start

    t = settings.topics
    seed_group_start(bootstrap, settings.app_id, t.full(t.ingress), args.from_ms, time_index=not embedded)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="start the pipeline (embedded broker unless configured) and print each outcome until Ctrl-C",
        description="Start the pipeline: a broker (embedded Tansu unless --broker or SUPPORTFLOW_BROKER "
        "names one), the topics and worker processes; print one table row per decided ticket until "
        f"Ctrl-C. While it runs, {STATE_HINT} (under SUPPORTFLOW_DATA_DIR when set) holds its broker "
        "address and process id, so `supportflow flags`, `ingest`, `audit`, `dlq`, `topics --create`, "
        "`egress`, `serve` and `worker` in another terminal (same folder) find it without --broker.",
    )
    add_broker_option(
        p,
        help_text="Kafka bootstrap servers HOST:PORT (default: SUPPORTFLOW_BROKER, else an embedded broker)",
    )
    argtypes.add_workers_option(p)
    p.add_argument("--replay-samples", action="store_true", help="also publish the bundled sample tickets")
    p.add_argument(
        "--no-feedback-join", action="store_true",
        help="do not start the feedback join (supportflow feedback join) beside the workers",
    )  # fmt: skip
    p.add_argument(
        "--metrics-port", type=argtypes.port, default=None, metavar="PORT",
        help=f"Prometheus port of worker 0, worker i gets PORT+i; 0 disables (default: SUPPORTFLOW_METRICS_PORT "
        f"when set, else {METRICS_PORT})",
    )  # fmt: skip
    p.add_argument(
        "--keep-logs", action="store_true",
        help="keep the workers' temporary log folder on exit (it is always kept when a worker fails)",
    )  # fmt: skip
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "worker", help="run one pipeline worker against a broker (what run/demo start; the Helm chart's pods)"
    )
    add_broker_option(p)
    p.add_argument(
        "--embedded-quirks", action="store_true",
        help="apply the embedded Tansu broker's workarounds (on by itself for a `supportflow run` found "
        f"through {STATE_HINT})",
    )  # fmt: skip
    p.add_argument(
        "--kb-in-memory", action="store_true", help="index the bundled help center in memory (no Qdrant)"
    )
    p.add_argument(
        "--shadow", action="store_true",
        help="decide the live ingress in its own consumer group and write outcomes only to outcomes.shadow "
        "(also SUPPORTFLOW_SHADOW=true; compare with `supportflow eval shadow`)",
    )  # fmt: skip
    p.add_argument(
        "--from", dest="from_ms", type=time_ms, metavar="TIME",
        help="with --shadow: where a new shadow group starts reading ingress (ISO 8601, a duration ago "
        "like 1h, or now; default: the start of retention)",
    )  # fmt: skip
    p.add_argument(
        "--router", type=Path, metavar="DIR", help="router artifact (default: SUPPORTFLOW_ROUTER_PATH)"
    )
    p.add_argument(
        "--policy", type=Path, metavar="FILE", help="policy YAML (default: SUPPORTFLOW_POLICY_PATH)"
    )
    p.set_defaults(func=cmd_worker)
