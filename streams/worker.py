"""One pipeline worker process: create topics, load the runtime, run the Faust agents until stopped."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import faust

from supportflow.processors.customers import CustomerDirectory
from supportflow.settings import Settings
from supportflow.streams import metrics
from supportflow.streams.app import build_app, table_dir
from supportflow.streams.flag_registry import is_on
from supportflow.streams.flags import FlagWatcher
from supportflow.streams.lag import LagSampler
from supportflow.streams.offsets import EMBEDDED_GAP_CONFIRM_S, GAP_CONFIRM_S
from supportflow.streams.runtime import Runtime, tune_interpreter
from supportflow.streams.tansu_quirks import seed_group_offsets
from supportflow.streams.topics import ensure_topics, pipeline_topics, source_topics

log = logging.getLogger(__name__)


def run_worker(
    settings: Settings,
    bootstrap: str,
    *,
    crm: CustomerDirectory,
    embedded: bool,
    kb_in_memory: bool = False,
) -> None:
    """Blocks until SIGTERM/SIGINT. ``crm`` is the caller's (route looks customers up in it);
    ``embedded`` enables the Tansu workarounds."""
    ensure_topics(bootstrap, pipeline_topics(settings))
    if embedded:
        seed_group_offsets(bootstrap, settings.app_id, source_topics(settings))
        if settings.conversation.on_disk:
            # The embedded broker's changelog may be younger than table files left by an earlier
            # broker (Faust then refuses to start): on it, tables are always rebuilt from the changelog.
            remove_dead_table_dirs(table_dir(settings))
    metrics.start_metrics_server(settings.metrics_port)
    runtime = Runtime.build(settings, crm=crm, kb_in_memory=kb_in_memory)
    tune_interpreter()  # after loading, so what start-up built is frozen out of later collections

    def on_flag(name: str, value: object, delay_s: float | None) -> None:
        if name == "auto_resolve":  # the watcher passes the effective (fail-closed) value
            metrics.observe_kill_switch(is_on(value), delay_s)

    metrics.observe_kill_switch(True)
    runtime.flags = FlagWatcher(bootstrap, settings.topics.full(settings.topics.control), on_flag).start()
    metrics.observe_kill_switch(is_on(runtime.flags.get("auto_resolve")))  # what gate_policy() will use
    # Tansu's ListOffsets "latest" is wrong: on the embedded broker lag must come from Fetch watermarks.
    lag = LagSampler(
        bootstrap,
        settings.app_id,
        source_topics(settings),
        watermarks="fetch" if embedded else "list_offsets",
    ).start()
    app = build_app(settings, bootstrap, runtime)
    app.consumer.start_unknown_at_zero = embedded
    app.consumer.fetches.confirm_s = EMBEDDED_GAP_CONFIRM_S if embedded else GAP_CONFIRM_S
    if settings.log_commits:
        logging.getLogger("supportflow.streams.commits").setLevel(logging.INFO)
    # Faust and aiokafka log every produced record's value at DEBUG: ticket text and PII. Never.
    for name in ("faust.topics", "faust.transport.drivers.aiokafka", "aiokafka.producer.producer"):
        logging.getLogger(name).setLevel(logging.INFO)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        if app.publisher is not None:
            app.publisher.close()
        lag.stop()
        runtime.flags.stop()


def remove_dead_table_dirs(own: Path) -> None:
    """Delete ``own`` and the table folders of this app's workers that are no longer running."""
    shutil.rmtree(own, ignore_errors=True)
    for folder in own.parent.glob("worker-*"):
        pid = folder.name.removeprefix("worker-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
