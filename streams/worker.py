"""One pipeline worker process: create topics, load the runtime, run the Faust agents until stopped."""

from __future__ import annotations

import logging

import faust
from supportflow.streams.app import build_app, source_topics
from supportflow.streams.flags import FlagWatcher
from supportflow.streams.runtime import Runtime
from supportflow.streams.tansu_quirks import seed_group_offsets
from supportflow.streams.topics import ensure_topics, pipeline_topics

from supportflow.settings import Settings

log = logging.getLogger(__name__)


def run_worker(settings: Settings, bootstrap: str, *, embedded: bool, kb_in_memory: bool = False) -> None:
    """Blocks until SIGTERM/SIGINT. ``embedded`` enables the Tansu workarounds."""
    ensure_topics(bootstrap, pipeline_topics(settings))
    if embedded:
        seed_group_offsets(bootstrap, settings.app_id, source_topics(settings))
    runtime = Runtime.build(settings, kb_in_memory=kb_in_memory)
    runtime.flags = FlagWatcher(bootstrap, settings.topics.full(settings.topics.control)).start()
    app = build_app(settings, bootstrap, runtime)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        runtime.flags.stop()
