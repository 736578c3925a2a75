"""The ``supportflow`` command. Each area registers its own sub-commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

# Before anything can import litellm: never fetch the model price map from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from confluent_kafka import KafkaException
from pydantic import ValidationError

from supportflow import __version__
from supportflow.cli import (
    audit,
    bench,
    dlq,
    egress,
    flags_cmd,
    golden,
    kb,
    pipeline,
    redact,
    router,
    schemas_cmd,
    serve,
)
from supportflow.schemas.errors import SupportflowError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportflow", description=__doc__)
    parser.add_argument("--version", action="version", version=f"supportflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pipeline.add_parser(sub)
    router.add_parser(sub)
    kb.add_parser(sub)
    schemas_cmd.add_parser(sub)
    audit.add_parser(sub)
    bench.add_parser(sub)
    serve.add_parser(sub)
    egress.add_parser(sub)
    dlq.add_parser(sub)
    flags_cmd.add_parser(sub)
    redact.add_parser(sub)
    evals = sub.add_parser("eval", help="evaluate: route | retrieval | golden").add_subparsers(
        dest="eval_command", required=True, metavar="EVAL"
    )
    router.add_eval_parser(evals)
    kb.add_eval_parser(evals)
    golden.add_eval_parser(evals)
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
    try:
        code: int = args.func(args)
    except ValidationError as exc:  # settings from the environment: named, values never echoed
        return _fail(2, f"invalid settings: {_first_error(exc)}")
    except (KafkaException, TimeoutError, ConnectionError, FileNotFoundError, SupportflowError) as exc:
        return _fail(1, f"{args.command}: {exc}")
    return code


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
