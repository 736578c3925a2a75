"""Tally what the parsers make of a folder of sample tickets.

``python -m supportflow.connectors.ingress.samples [PATH] [--write] [--bench ROUNDS]`` prints
``{"valid_messages": N, "malformed_messages": M, ...}`` for the bundled samples (or PATH); ``--write``
stores it as ``expected.json`` next to them, which a unit test then holds the parsers to. ``--bench``
re-parses every event ROUNDS times and prints events/s per channel (single thread).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections import Counter
from pathlib import Path

from supportflow.connectors.ingress.files import events_from_path
from supportflow.data import data_path
from supportflow.processors.channels.parse import count_messages, parse_event
from supportflow.schemas.errors import PermanentError


def tally(path: Path) -> dict[str, object]:
    """Tickets produced, messages dead-lettered (by error class) and events that carried nothing."""
    now_ms = int(time.time() * 1000)
    valid = malformed = empty_events = 0
    by_channel: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for event in events_from_path(path, now_ms):
        try:
            tickets = parse_event(event, now_ms)
        except PermanentError as exc:
            malformed += count_messages(event)
            errors[type(exc).__name__] += 1
            continue
        valid += len(tickets)
        empty_events += not tickets
        by_channel.update(t.channel.value for t in tickets)
    return {
        "valid_messages": valid,
        "malformed_messages": malformed,
        "events_without_messages": empty_events,
        "valid_by_channel": dict(sorted(by_channel.items())),
        "errors": dict(sorted(errors.items())),
    }


def bench(path: Path, rounds: int) -> dict[str, dict[str, float]]:
    """Parse throughput per channel on the events under ``path`` (errors included: they cost time too)."""
    events = list(events_from_path(path, 0))
    result: dict[str, dict[str, float]] = {}
    for channel in sorted({e.channel.value for e in events}):
        subset = [e for e in events if e.channel.value == channel]
        started = time.perf_counter()
        for _ in range(rounds):
            for event in subset:
                with contextlib.suppress(PermanentError):
                    parse_event(event, 0)
        elapsed = time.perf_counter() - started
        result[channel] = {
            "events": len(subset) * rounds,
            "events_per_s": round(len(subset) * rounds / elapsed),
            "mean_ms": round(elapsed * 1000 / (len(subset) * rounds), 3),
        }
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", type=Path, default=data_path("samples"))
    parser.add_argument("--write", action="store_true", help="store the tally as PATH/expected.json")
    parser.add_argument("--bench", type=int, metavar="ROUNDS", help="also time ROUNDS passes over the events")
    args = parser.parse_args(argv)
    result = tally(args.path)
    if args.bench:
        print(json.dumps({"parse_throughput": bench(args.path, args.bench)}, indent=2))
    text = json.dumps(result, indent=2) + "\n"
    print(text, end="")
    if args.write:
        (args.path / "expected.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
