"""``supportflow egress {zendesk|freshdesk|webhook}``: apply outcomes to a helpdesk or signed webhook.

Runs until SIGINT/SIGTERM, then prints the counters as one JSON object on stdout. Credentials and
retry knobs come from ``SUPPORTFLOW_EGRESS__*`` (see :class:`EgressSettings`); topics and the data
directory (for the idempotency store) from the main settings.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence

from supportflow.cli.broker import add_broker_option, resolve
from supportflow.console import err

#: ``supportflow.connectors.egress.CONNECTORS``, named here so that building the parser imports none of
#: the connectors (a unit test keeps the two equal).
CONNECTORS = ("zendesk", "freshdesk", "webhook")


def cmd_egress(args: argparse.Namespace) -> int:
    from supportflow.connectors.egress import EgressRunner, IdempotencyStore, build_dispatcher, store_path
    from supportflow.schemas import registry
    from supportflow.schemas.errors import SupportflowError
    from supportflow.settings import get_settings
    from supportflow.streams.topics import ensure_topics, pipeline_topics

    settings = get_settings()
    registry.configure(settings)  # outcomes may be in the schema registry's framing
    target = resolve(args, "egress")
    if target is None:
        return 2
    bootstrap = target.bootstrap
    t = settings.topics
    outcomes, dead_letters = t.full(t.outcomes), t.full(t.dead_letter)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    group = args.group or f"{settings.app_id}-egress-{args.connector}"
    path = store_path(settings.data_dir, args.connector)
    store = IdempotencyStore(path)
    try:
        dispatcher = build_dispatcher(args.connector, get_settings().egress, store, stop=stop)
    except SupportflowError as exc:
        store.close()
        err(f"egress {args.connector}: {exc}")
        return 2
    try:
        ensure_topics(bootstrap, [s for s in pipeline_topics(settings) if s.name in (outcomes, dead_letters)])
        runner = EgressRunner(dispatcher, bootstrap, outcomes, dead_letters, group,
                              embedded_quirks=args.embedded_quirks or target.embedded,
                              auto_offset_reset=args.start)  # fmt: skip
        err(f"egress {args.connector}: {outcomes} as group {group}, idempotency store {path}; Ctrl-C to stop")
        stats = runner.run(stop)
    except SupportflowError as exc:
        err(f"egress {args.connector}: {type(exc).__name__}: {exc}")
        return 1
    finally:
        dispatcher.deliverer.close()
        store.close()
    print(json.dumps(stats.as_dict()))
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "egress", help="post outcomes to Zendesk, Freshdesk or a signed webhook until Ctrl-C"
    )
    p.add_argument("connector", choices=CONNECTORS, help="where outcomes go: " + ", ".join(CONNECTORS))
    add_broker_option(p)
    p.add_argument("--group", help="consumer group (default: <app_id>-egress-<connector>)")
    p.add_argument(
        "--start", choices=["earliest", "latest"], default="earliest",
        help="where a NEW group starts: earliest replays the topic (default), latest: only new outcomes",
    )  # fmt: skip
    p.add_argument(
        "--embedded-quirks", action="store_true",
        help="apply the embedded Tansu broker's workarounds (on by itself for a `supportflow run` found "
        "through its state file)",
    )  # fmt: skip
    p.set_defaults(func=cmd_egress)


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry (``python -m supportflow.cli.egress``), same arguments as ``supportflow egress``."""
    import logging
    import os

    parser = argparse.ArgumentParser(prog="supportflow-egress")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["egress", *(argv if argv is not None else sys.argv[1:])])
    logging.basicConfig(level=os.environ.get("SUPPORTFLOW_LOG_LEVEL", "WARNING"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
