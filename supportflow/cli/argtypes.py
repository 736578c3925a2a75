"""argparse types that refuse impossible values up front, with argparse's own one-line error."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def _bounded(
    kind: Callable[[str], float], low: float, high: float | None, what: str
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    return parse


#: 1, 2, ... (worker counts, ticket counts)
positive_int = _bounded(int, 1, None, "a whole number of at least 1")
#: 0, 1, ... (0 meaning "none" or "all")
non_negative_int = _bounded(int, 0, None, "a whole number of at least 0")
#: a TCP port, 0 to disable
port = _bounded(int, 0, 65535, "a port number from 0 to 65535")
#: seconds > 0
positive_seconds = _bounded(float, 1e-9, None, "a number of seconds above 0")
#: a rate >= 0 (0: as fast as possible)
non_negative_float = _bounded(float, 0, None, "a number of at least 0")


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=positive_int, default=1, metavar="N", help="worker processes to start (default 1)"
    )


def add_timeout_option(parser: argparse.ArgumentParser, default_s: float) -> None:
    parser.add_argument(
        "--timeout", type=positive_seconds, default=default_s, metavar="SECONDS",
        help=f"seconds to wait for every outcome (default {default_s:g})",
    )  # fmt: skip
