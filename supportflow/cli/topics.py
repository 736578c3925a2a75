"""``supportflow topics [--create]``: the pipeline's topics, as the settings name them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from supportflow.cli.broker import BROKER_HELP, add_broker_option, resolve
from supportflow.console import err

if TYPE_CHECKING:
    from supportflow.settings import Settings


def cmd_topics(args: argparse.Namespace) -> int:
    from supportflow.settings import get_settings
    from supportflow.streams.topics import ensure_topics, pipeline_topics

    settings = get_settings()
    specs = pipeline_topics(settings)
    idle = _idle_topics(settings)
    if args.create:
        target = resolve(args, "topics --create")
        if target is None:
            return 2
        created = ensure_topics(target.bootstrap, specs)
        err(f"created {len(created)} topics")
    for s in specs:
        notes = [
            *(["cleanup=compact"] if s.compacted else []),
            *([f"unused by the {settings.topology} topology"] if s.name in idle else []),
        ]
        print(
            f"{s.name:<40} partitions={s.partitions:<3} {s.purpose}"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    return 0


def _idle_topics(settings: Settings) -> set[str]:
    """Stage topics no hop of the configured topology reads or writes (per-stage ones, when fused)."""
    from supportflow.streams.topology import STAGES, hops

    t = settings.topics
    used = {name for hop in hops(settings.topology) for name in (hop.reads, hop.writes) if name}
    return {t.full(getattr(t, s.writes)) for s in STAGES[:-1] if s.writes not in used}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("topics", help="list the pipeline's topics; --create creates missing ones")
    add_broker_option(p, help_text=f"with --create: {BROKER_HELP}")
    p.add_argument("--create", action="store_true", help="create the topics missing on the broker")
    p.set_defaults(func=cmd_topics)
