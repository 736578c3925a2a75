"""``supportflow topics [--create]``: the pipeline's topics, as the settings name them."""

from __future__ import annotations

import argparse

from supportflow.cli.broker import BROKER_HELP, add_broker_option, resolve
from supportflow.console import err


def cmd_topics(args: argparse.Namespace) -> int:
    from supportflow.settings import get_settings
    from supportflow.streams.topics import ensure_topics, pipeline_topics

    specs = pipeline_topics(get_settings())
    if args.create:
        target = resolve(args, "topics --create")
        if target is None:
            return 2
        created = ensure_topics(target.bootstrap, specs)
        err(f"created {len(created)} topics")
    for s in specs:
        print(f"{s.name:<40} partitions={s.partitions:<3} {'compact ' if s.compacted else ''}{s.purpose}")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("topics", help="list the pipeline's topics; --create creates missing ones")
    add_broker_option(p, help_text=f"with --create: {BROKER_HELP}")
    p.add_argument("--create", action="store_true", help="create the topics missing on the broker")
    p.set_defaults(func=cmd_topics)
