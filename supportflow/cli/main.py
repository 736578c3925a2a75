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
    level = (
        logging.DEBUG
        if args.verbose
        else getattr(logging, os.environ.get("SUPPORTFLOW_LOG_LEVEL", "WARNING"))
    )
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
