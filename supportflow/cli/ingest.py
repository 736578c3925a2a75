"""``supportflow ingest PATH``: publish tickets from files to a running pipeline's ingress topic."""

from __future__ import annotations

import argparse
from pathlib import Path

from supportflow.cli.broker import add_broker_option, resolve
from supportflow.console import err


def cmd_ingest(args: argparse.Namespace) -> int:
    from supportflow.connectors.ingress import events_from_path
    from supportflow.schemas import registry
    from supportflow.settings import get_settings
    from supportflow.streams.ingest import publish_events

    target = resolve(args, "ingest")
    if target is None:
        return 2
    registry.configure(get_settings())  # events in the schema registry's framing when one is set
    t = get_settings().topics
    sent = publish_events(target.bootstrap, t.full(t.ingress), events_from_path(Path(args.path)))
    err(
        f"published {sent} events to {t.full(t.ingress)}; the running workers recognise a message "
        "they already decided (same source id and content) and do not decide it again"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ingest", help="publish tickets (file or folder) to a running pipeline")
    add_broker_option(p)
    p.add_argument("path", metavar="PATH", help="a .eml / .json / .jsonl file, or a folder of them")
    p.set_defaults(func=cmd_ingest)
