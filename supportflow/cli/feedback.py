"""``supportflow feedback publish | report | join``: the learning loop's feedback (docs/learning.md)."""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

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


def _read(bootstrap: str, topic: str, model: type[M], timeout_s: float) -> tuple[list[M], int]:
    """Every record of ``topic`` that decodes as ``model``, and how many did not."""
    from supportflow.schemas import wire
    from supportflow.schemas.errors import SchemaError
    from supportflow.streams.collect import read_to_end

    records: list[M] = []
    undecodable = 0
    for _key, value in read_to_end(bootstrap, topic, timeout_s=timeout_s):
        try:
            records.append(wire.decode(value, model))
        except SchemaError:
            undecodable += 1  # the join dead-letters them; reading only skips them
    return records, undecodable


def _window(args: argparse.Namespace, command: str) -> tuple[str, int, Any, list[Any]] | None:
    """The broker, the window's start, and the join over it (stats and joined pairs)."""
    from supportflow.processors.feedback.report import join_window
    from supportflow.schemas.models import Feedback, Outcome
    from supportflow.settings import get_settings

    target = resolve(args, command)
    if target is None:
        return None
    t = get_settings().topics
    since_ms = int((time.time() - args.since) * 1000)
    outcomes, bad_outcomes = _read(target.bootstrap, t.full(t.outcomes), Outcome, args.timeout)
    feedback, bad_feedback = _read(target.bootstrap, t.full(t.feedback), Feedback, args.timeout)
    if bad_outcomes + bad_feedback:
        err(f"warning: {bad_outcomes + bad_feedback} records could not be decoded and were skipped")
    stats, joined = join_window(outcomes, feedback, since_ms)
    return target.bootstrap, since_ms, stats, joined


def cmd_report(args: argparse.Namespace) -> int:
    from supportflow.processors.feedback.report import render_table

    window = _window(args, "feedback report")
    if window is None:
        return 2
    _bootstrap, since_ms, stats, _joined = window
    if args.json:
        print(json.dumps({"since_ms": since_ms, **stats.as_dict()}, ensure_ascii=False))
    else:
        print(render_table(stats, since_ms))
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    from supportflow.processors.feedback.labels import CORRECTED, feedback_labels
    from supportflow.schemas.models import AuditEvent
    from supportflow.settings import get_settings

    window = _window(args, "feedback labels")
    if window is None:
        return 2
    bootstrap, _since_ms, _stats, joined = window
    t = get_settings().topics
    audits, _bad = _read(bootstrap, t.full(t.audit), AuditEvent, args.timeout)
    rows = feedback_labels(joined, {a.ticket_id: a.redacted_input for a in audits})
    with Path(args.out).open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "why", "routed", "ticket_id"])
        writer.writerows((r.text, r.label, r.why, r.routed, r.ticket_id) for r in rows)
    corrected = sum(r.why == CORRECTED for r in rows)
    print(
        f"wrote {len(rows)} rows to {args.out}: {corrected} corrected, {len(rows) - corrected} confirmed by agents"
    )
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
    parser = sub.add_parser("feedback", help="feedback on decisions: publish | report | labels | join")
    actions = parser.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")

    p = actions.add_parser("publish", help="publish a JSONL file of feedback records to the feedback topic")
    p.add_argument("file", metavar="FILE", help="one feedback record per line (docs/learning.md)")
    add_broker_option(p)
    p.set_defaults(func=cmd_publish)

    p = actions.add_parser(
        "report", help="CSAT, draft acceptance, reopen rate, corrections by path and intent"
    )
    _window_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_report)

    p = actions.add_parser("labels", help="agent-confirmed and corrected intents as a text,label CSV")
    _window_options(p)
    p.add_argument("--out", required=True, metavar="FILE", help="CSV for `router train --feedback`")
    p.set_defaults(func=cmd_labels)

    p = actions.add_parser(
        "join", help="run the feedback join (one process): metrics on SUPPORTFLOW_METRICS_PORT"
    )
    add_broker_option(p)
    p.add_argument("--embedded-quirks", action="store_true", help="the --broker is the embedded Tansu broker")
    p.set_defaults(func=cmd_join)


def _window_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", type=duration_s, default=duration_s("24h"), metavar="DURATION",
                   help="window: outcomes decided and feedback given since, e.g. 30m, 24h, 7d (default 24h)")  # fmt: skip
    p.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="most time to read each topic"
    )
    add_broker_option(p)
