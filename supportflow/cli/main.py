"""The ``supportflow`` command. Each area registers its own sub-commands.

Building the parser imports no command's dependencies (Kafka, Faust, models): every command imports
what it needs when it runs, so ``supportflow --help`` and mistyped arguments answer at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

# Before anything can import litellm: never fetch the model price map from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from supportflow import __version__
from supportflow.cli import (
    audit,
    bench,
    demo,
    dlq,
    egress,
    feedback,
    flags_cmd,
    golden,
    ingest,
    kb,
    redact,
    route_languages,
    router,
    run,
    schemas_cmd,
    serve,
    shadow,
    topics,
)
from supportflow.schemas.errors import SupportflowError

if TYPE_CHECKING:
    from pydantic import ValidationError

DESCRIPTION = """\
supportflow automates customer support on Kafka: every ticket (email, chat, WhatsApp, API) is routed
to an intent, answered from the help center and gated: auto-resolved, suggested to an agent, or
escalated, with an audit trail. With no broker configured it starts an embedded one: nothing to set up.

Start with:
  demo     every bundled sample ticket through the pipeline once, then a summary
  run      the pipeline until Ctrl-C, one line per decided ticket (--replay-samples feeds it)
  flags    the kill switch and flags of the running pipeline (from another terminal)
  audit    one ticket's journey: what it said, where it was routed, why it was decided so"""

EPILOG = """\
examples:
  supportflow demo                              # the bundled samples through the pipeline, summarized
  supportflow run --replay-samples              # the pipeline, fed the samples; Ctrl-C stops it
  supportflow flags set auto_resolve=false      # in another terminal: stop sending answers by itself
  supportflow audit TICKET_ID                   # a ticket id as `run` prints it
  supportflow ingest my-tickets/                # your own .eml / .json / .jsonl files
  supportflow COMMAND --help                    # one command's options

Settings come from SUPPORTFLOW_* environment variables (SUPPORTFLOW_BROKER: a Kafka cluster instead of
the embedded broker). Commands that talk to a running pipeline (flags, ingest, audit, dlq, egress...)
take --broker, else SUPPORTFLOW_BROKER, else the pipeline `supportflow run` started from the same
folder: it writes its broker address to .supportflow/run.json while it runs."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supportflow", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"supportflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.add_parser(sub)
    run.add_parser(sub)
    ingest.add_parser(sub)
    topics.add_parser(sub)
    router.add_parser(sub)
    kb.add_parser(sub)
    schemas_cmd.add_parser(sub)
    audit.add_parser(sub)
    bench.add_parser(sub)
    serve.add_parser(sub)
    egress.add_parser(sub)
    dlq.add_parser(sub)
    feedback.add_parser(sub)
    flags_cmd.add_parser(sub)
    redact.add_parser(sub)
    shadow.add_parser(sub)
    evals = sub.add_parser("eval", help="evaluate: route | retrieval | golden").add_subparsers(
        dest="eval_command", required=True, metavar="EVAL"
    )
    router.add_eval_parser(evals)
    kb.add_eval_parser(evals)
    golden.add_eval_parser(evals)
    route_languages.add_eval_parser(evals)
    shadow.add_eval_parser(evals)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # name the sub-command whose flags were wrong when it registered its parser as _parser
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=_log_level(args.verbose), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )  # fmt: skip
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        failed = _known_failure(exc, args.command)
        if failed is None:
            raise
        return failed
    return code


def _known_failure(exc: Exception, command: str) -> int | None:
    """Exit status for an error the user can act on, printed as one line; None: a bug, let it raise.

    Pydantic and Kafka are looked up among the loaded modules: an exception of theirs can only come
    from a command that imported them.
    """
    validation_error = getattr(sys.modules.get("pydantic"), "ValidationError", None)
    if validation_error is not None and isinstance(exc, validation_error):
        # settings from the environment: named, values never echoed
        return _fail(2, f"invalid settings: {_first_error(cast('ValidationError', exc))}")
    kafka_exception = getattr(sys.modules.get("confluent_kafka"), "KafkaException", None)
    expected: tuple[type[BaseException], ...] = (
        TimeoutError,
        ConnectionError,
        FileNotFoundError,
        SupportflowError,
    )
    if isinstance(exc, expected) or (kafka_exception is not None and isinstance(exc, kafka_exception)):
        return _fail(1, f"{command}: {exc}")
    return None


def _log_level(verbose: bool) -> int:
    if verbose:
        return logging.DEBUG
    name = os.environ.get("SUPPORTFLOW_LOG_LEVEL", "WARNING").strip().upper()
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        print(
            f"supportflow: SUPPORTFLOW_LOG_LEVEL={name!r} is not a log level; using WARNING", file=sys.stderr
        )
        return logging.WARNING
    return level


def _first_error(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))


def _fail(code: int, message: str) -> int:
    print(f"supportflow: {' '.join(message.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
