"""``supportflow dlq list | replay``: see what the pipeline could not process, fix it, send it again."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from supportflow.cli import argtypes
from supportflow.cli.broker import add_broker_option, resolve
from supportflow.cli.output import shorten
from supportflow.console import err

if TYPE_CHECKING:
    from supportflow.streams.dlq import StoredLetter

STAGES = ("normalize", "route", "retrieve", "resolve", "gate", "feedback")


def _bootstrap(args: argparse.Namespace, command: str) -> str | None:
    target = resolve(args, command)
    return target.bootstrap if target else None


def _dead_letter_topic() -> str:
    from supportflow.settings import get_settings

    t = get_settings().topics
    return t.full(t.dead_letter)


def _load(bootstrap: str) -> list[StoredLetter]:
    from supportflow.schemas import registry
    from supportflow.settings import get_settings
    from supportflow.streams import dlq

    registry.configure(get_settings())  # letters (and replays) in the schema registry's framing when set
    letters, undecodable = dlq.read_dead_letters(bootstrap, _dead_letter_topic())
    if undecodable:
        err(f"warning: {undecodable} records in {_dead_letter_topic()} are not DeadLetter records")
    return letters


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_list(args: argparse.Namespace) -> int:
    from supportflow.streams import dlq

    bootstrap = _bootstrap(args, "dlq list")
    if not bootstrap:
        return 2
    letters = _load(bootstrap)
    if args.stage:
        letters = [s for s in letters if s.letter.stage == args.stage]
    shown = dlq.latest(letters, args.limit)
    if args.json:
        print(json.dumps({"total": len(letters), "dead_letters": [dlq.describe(s) for s in shown]},
                         ensure_ascii=False))  # fmt: skip
        return 0
    for s in shown:
        d = dlq.describe(s)
        origin = d["source"] or d["channel"] or "-"
        message = shorten(d["error_message"], 120)
        print(f"{d['position']}  {_when(s.letter.failed_at_ms)}  {d['stage']:<9} {d['error_class']:<18} "
              f"{origin}  {d['original_bytes']} B  {message}")  # fmt: skip
    sys.stdout.flush()  # the summary goes to stderr; keep it after the lines when both are one terminal
    err(f"{len(shown)} of {len(letters)} dead letters shown")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from supportflow.schemas.errors import InvalidInputError, TransientError
    from supportflow.settings import get_settings
    from supportflow.streams import dlq
    from supportflow.streams.topics import source_topics

    bootstrap = _bootstrap(args, "dlq replay")
    if not bootstrap:
        return 2
    try:
        fix = Path(args.fix).read_bytes() if args.fix else None
    except OSError as exc:
        err(f"cannot read --fix file: {exc}")
        return 2
    settings = get_settings()
    try:
        positions = [dlq.parse_position(p, _dead_letter_topic()) for p in args.offset or []]
        chosen = dlq.select(_load(bootstrap), positions=positions, stage=args.stage)
        replays = dlq.plan_replays(chosen, settings.topics, fix=fix, consumed=source_topics(settings))
    except InvalidInputError as exc:
        err(str(exc))
        return 2
    if not replays:
        err("no dead letters match; nothing to replay")
        return 0
    verb = "would replay" if args.dry_run else "replayed"
    if not args.dry_run:
        try:
            dlq.publish_replays(bootstrap, replays)
        except TransientError as exc:
            err(f"replay failed: {exc}")
            return 1
    for r in replays:
        what = f"fixed as {r.fixed_event_id}" if r.fixed_event_id else "original bytes"
        key = r.key.decode(errors="replace") if r.key is not None else "-"
        print(f"{verb} {r.letter.position} ({r.letter.letter.stage}) -> {r.topic} key={key} "
              f"{len(r.value)} B, {what}")  # fmt: skip
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq_parser = sub.add_parser("dlq", help="dead letters: list | replay (optionally with a fixed payload)")
    actions = dlq_parser.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")

    p = actions.add_parser("list", help="one line per dead letter: position, stage, error, origin, size")
    add_broker_option(p)
    p.add_argument("--stage", choices=STAGES, help="only letters of this stage")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--limit", type=argtypes.positive_int, metavar="N", help="only the N most recent")
    p.set_defaults(func=cmd_list)

    p = actions.add_parser(
        "replay", help="re-publish dead letters to the topic their stage consumes (same bytes, same key)"
    )
    add_broker_option(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every dead letter (once per failed message)")
    which.add_argument(
        "--offset", nargs="+", action="extend", metavar="P:O",
        help="dead letters by position: PARTITION:OFFSET in the dead-letter topic, or TOPIC:P:O as `dlq list` prints",
    )  # fmt: skip
    p.add_argument("--stage", choices=STAGES, help="only letters of this stage")
    p.add_argument(
        "--fix", metavar="FILE",
        help="replace the one selected normalize-stage letter's payload with FILE (e.g. corrected JSON)",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print what would be replayed, publish nothing")
    p.set_defaults(func=cmd_replay)
