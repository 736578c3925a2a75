"""``supportflow schemas dump [DIR]``: write the current Avro schemas for consumers in other languages."""

from __future__ import annotations

import argparse
from pathlib import Path

from supportflow.console import err


def cmd_dump(args: argparse.Namespace) -> int:
    from supportflow.schemas.wire import AVRO_DIR, dump_schemas

    for path in dump_schemas(Path(args.directory) if args.directory else AVRO_DIR):
        err(f"wrote {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schemas", help="Avro schemas of the wire records")
    actions = p.add_subparsers(dest="schemas_command", required=True, metavar="ACTION")
    d = actions.add_parser("dump", help="write <Record>.v<N>.avsc files")
    d.add_argument(
        "directory", nargs="?", metavar="DIR",
        help="where to write them (default: the package's own schemas/avro folder)",
    )  # fmt: skip
    d.set_defaults(func=cmd_dump)
