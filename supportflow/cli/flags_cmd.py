"""``supportflow flags set NAME=VALUE ... | unset NAME ... | show [--json]``: kill switch and flags.

``set`` checks every assignment against the flag registry before it connects to anything: an unknown
name, a value of the wrong type or a missing ``=`` is a one-line error and exit status 2, and nothing
is written. Booleans are written as JSON booleans (``false``, ``off``, ``no``, ``0`` in any case).
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from supportflow.cli.broker import add_broker_option, resolve
from supportflow.console import err
from supportflow.streams.flag_registry import FLAGS, FlagError  # the registry itself: no Kafka, no Faust


def _control_topic(args: argparse.Namespace, command: str) -> tuple[str, str] | None:
    from supportflow.settings import get_settings
    from supportflow.streams.topics import ensure_topics, pipeline_topics

    found = resolve(args, command)
    if found is None:
        return None
    settings = get_settings()
    topic = settings.topics.full(settings.topics.control)
    ensure_topics(found.bootstrap, [s for s in pipeline_topics(settings) if s.name == topic])
    return found.bootstrap, topic


def cmd_flags_set(args: argparse.Namespace) -> int:
    from supportflow.streams.flags import parse_assignment, publish_flag

    try:  # all of them first: one bad assignment writes none
        assignments = [parse_assignment(text) for text in args.assignments]
    except FlagError as exc:
        err(f"flags set: {exc}")
        return 2
    target = _control_topic(args, "flags set")
    if target is None:
        return 2
    for name, value in assignments:
        publish_flag(*target, name, value)
        err(f"set {name}={json.dumps(value)}")
    return 0


def cmd_flags_unset(args: argparse.Namespace) -> int:
    from supportflow.streams.flags import delete_flag

    target = _control_topic(args, "flags unset")
    if target is None:
        return 2
    for name in args.names:  # any name: this is how a typo written by another producer is removed
        delete_flag(*target, name)
        err(f"unset {name}" + (f" (back to {json.dumps(FLAGS[name].default)})" if name in FLAGS else ""))
    return 0


def _describe(name: str, value: Any, invalid: dict[str, tuple[Any, str]]) -> str:
    spec = FLAGS[name]
    line = f"{name:<16} {json.dumps(value):<7} {spec.help} (default {json.dumps(spec.default)})"
    if name in invalid:
        stored, reason = invalid[name]
        line += f"\n{'':<16} ! stored value {json.dumps(stored)} is {reason}"
    return line


def cmd_flags_show(args: argparse.Namespace) -> int:
    from supportflow.streams.flags import FlagWatcher

    target = _control_topic(args, "flags show")
    if target is None:
        return 2
    if not getattr(args, "verbose", False):  # invalid values are listed below: no repeated warnings
        logging.getLogger("supportflow.streams.flags").setLevel(logging.ERROR)
    watcher = FlagWatcher(*target).start()
    try:
        loaded, flags, invalid = watcher.loaded, watcher.snapshot(), watcher.invalid()
    finally:
        watcher.stop()
    if not loaded:
        err(f"could not read the control topic {target[1]} from {target[0]}: is the pipeline running?")
        return 1
    if args.json:
        print(json.dumps(flags, sort_keys=True))
    else:
        for name in sorted(flags):
            print(_describe(name, flags[name], invalid))
    for name, (stored, reason) in sorted(invalid.items()):
        if name not in FLAGS or args.json:  # stdout stays the one JSON object
            err(f"ignored: {name}={json.dumps(stored)} on the control topic: {reason}")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "flags", help="kill switch and feature flags: flags set auto_resolve=false | flags show [--json]"
    )
    add_broker_option(p)
    actions = p.add_subparsers(dest="flags_action", required=True, metavar="ACTION")
    known = ", ".join(f"{spec.name} ({spec.accepted()})" for spec in FLAGS.values())
    s = actions.add_parser("set", help=f"write flags: {known}")
    add_broker_option(s, argparse.SUPPRESS)  # --broker before or after `set`; SUPPRESS keeps the earlier one
    s.add_argument("assignments", nargs="+", metavar="NAME=VALUE", help="one or more flags and their values")
    s.set_defaults(func=cmd_flags_set)
    s = actions.add_parser("unset", help="delete flags: a known one goes back to its default")
    add_broker_option(s, argparse.SUPPRESS)
    s.add_argument("names", nargs="+", metavar="NAME", help="one or more flag names")
    s.set_defaults(func=cmd_flags_unset)
    s = actions.add_parser("show", help="every flag's value as workers use it")
    add_broker_option(s, argparse.SUPPRESS)
    s.add_argument("--json", action="store_true", help="print one JSON object of the flags")
    s.set_defaults(func=cmd_flags_show)
