"""``supportflow feedback publish | report | join``: the learning loop's feedback (docs/learning.md)."""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from supportflow.cli.broker import add_broker_option, resolve
from supportflow.console import err

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_s(text: str) -> float:
    """``90s``, ``30m``, ``24h``, ``7d`` -> seconds."""
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 24h or 7d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def cmd_publish(args: argparse.Namespace) -> int:
    from supportflow.connectors.feedback.publish import publish_file
    from supportflow.connectors.webhook.settings import secret_value
    from supportflow.settings import get_settings

    path = Path(args.file)
    if not path.is_file():
        err(f"feedback publish: {path} is not a file")
        return 2
    target = resolve(args, "feedback publish")
    if target is None:
        return 2
    settings = get_settings()
    t = settings.topics
    done = publish_file(
        path, bootstrap=target.bootstrap, feedback_topic=t.full(t.feedback), dead_letter_topic=t.full(t.dead_letter),
        agent_key=secret_value(settings.feedback.agent_id_key),
    )  # fmt: skip
    print(f"published {done.published} feedback records to {t.full(t.feedback)}")
    if done.dead_lettered:
        err(
            f"{done.dead_lettered} lines were not feedback: see `supportflow dlq list --json` (stage feedback)"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from supportflow.processors.feedback.report import build_report, render_table
    from supportflow.schemas import wire
    from supportflow.schemas.errors import SchemaError
    from supportflow.schemas.models import Feedback, Outcome
    from supportflow.settings import get_settings
    from supportflow.streams.collect import read_to_end

    target = resolve(args, "feedback report")
    if target is None:
        return 2
    t = get_settings().topics
    since_ms = int((time.time() - args.since) * 1000)
    undecodable = 0

    def decoded(topic: str, model: type[M]) -> list[M]:
        nonlocal undecodable
        records: list[M] = []
        for _key, value in read_to_end(target.bootstrap, topic, timeout_s=args.timeout):
            try:
                records.append(wire.decode(value, model))
            except SchemaError:
                undecodable += 1  # the join dead-letters them; the report only skips them
        return records

    outcomes = decoded(t.full(t.outcomes), Outcome)
    feedback = decoded(t.full(t.feedback), Feedback)
    stats = build_report(outcomes, feedback, since_ms)
    if args.json:
        print(json.dumps({"since_ms": since_ms, **stats.as_dict()}, ensure_ascii=False))
    else:
        print(render_table(stats, since_ms))
    if undecodable:
        err(f"warning: {undecodable} records could not be decoded and were skipped")
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    from supportflow.settings import get_settings
    from supportflow.streams.feedback import run_feedback_join

    target = resolve(args, "feedback join")
    if target is None:
        return 2
    run_feedback_join(get_settings(), target.bootstrap, embedded=target.embedded or args.embedded_quirks)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("feedback", help="feedback on decisions: publish | report | join")
    actions = parser.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")

    p = actions.add_parser("publish", help="publish a JSONL file of feedback records to the feedback topic")
    p.add_argument("file", metavar="FILE", help="one feedback record per line (docs/learning.md)")
    add_broker_option(p)
    p.set_defaults(func=cmd_publish)

    p = actions.add_parser(
        "report", help="CSAT, draft acceptance, reopen rate, corrections by path and intent"
    )
    p.add_argument("--since", type=duration_s, default=duration_s("24h"), metavar="DURATION",
                   help="window: outcomes decided and feedback given since, e.g. 30m, 24h, 7d (default 24h)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="most time to read each topic"
    )
    add_broker_option(p)
    p.set_defaults(func=cmd_report)

    p = actions.add_parser("join", help="run the feedback join (one process): metrics on --metrics-port")
    add_broker_option(p)
    p.add_argument("--embedded-quirks", action="store_true", help="the --broker is the embedded Tansu broker")
    p.set_defaults(func=cmd_join)
