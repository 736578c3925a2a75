"""``supportflow demo``: every bundled (or given) ticket through the pipeline once, then a summary."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportflow.cli import argtypes
from supportflow.cli.output import ELLIPSIS, shorten
from supportflow.console import err

if TYPE_CHECKING:
    from supportflow.schemas.models import Outcome
    from supportflow.streams.collect import Collected


def _record(o: Outcome) -> dict[str, Any]:
    return {
        "ticket_id": o.ticket_id, "conversation_id": o.conversation_id, "customer_id": o.customer_id,
        "channel": str(o.channel), "decision": str(o.decision), "intent": o.intent,
        "confidence": round(o.confidence, 4), "band": str(o.band), "tier": str(o.tier), "model": o.model,
        "reasons": o.reasons, "answer": o.answer, "citations": o.citations,
        "groundedness": round(o.groundedness, 4), "latency_ms": o.latency_ms, "timings_ms": o.timings_ms,
        "language": o.language, "cost_usd": o.cost_usd, "external_id": o.external_id,
        "turn": o.turn, "handoff_message": o.handoff_message,
        "transcript": [{"author": str(e.author), "text": e.text, "at_ms": e.at_ms} for e in o.transcript],
    }  # fmt: skip


def demo_summary(expected: int, collected: Collected, seconds: float) -> dict[str, Any]:
    """What ``demo --json`` prints: counts, tallies, dead letters and one record per outcome."""
    outcomes = list(collected.outcomes.values())
    reasons: Counter[str] = Counter(_reason_kind(r) for o in outcomes for r in o.reasons)
    return {
        "tickets_in": expected,
        "outcomes": len(outcomes),
        "dead_lettered": len(collected.dead_letters),
        "duplicates": collected.duplicates,
        "lost": len(collected.unaccounted),
        "missing": collected.unaccounted,
        "seconds": round(seconds, 2),
        "by_decision": dict(Counter(str(o.decision) for o in outcomes)),
        "by_channel": dict(Counter(str(o.channel) for o in outcomes)),
        "by_reason": dict(reasons.most_common()),
        "dead_letters": [
            {
                "stage": d.stage,
                "error_class": d.error_class,
                "error_message": d.error_message[:200],
                "channel": d.channel,
                "source": d.source,
                "original_bytes": len(d.original),
            }
            for d in collected.dead_letters
        ],
        "records": [_record(o) for o in sorted(outcomes, key=lambda o: o.ticket_id)],
    }


def cmd_demo(args: argparse.Namespace) -> int:
    from supportflow.connectors.ingress import events_from_path
    from supportflow.data import data_path
    from supportflow.schemas import registry
    from supportflow.settings import get_settings
    from supportflow.streams.harness import run_events

    registry.configure(get_settings())  # events and outcomes in the schema registry's framing when set

    path = Path(args.tickets) if args.tickets else data_path("samples")
    if not path.exists():
        err(f"no such file or folder: {path}")
        return 2
    if args.shadow_router or args.shadow_policy:
        return _demo_with_shadow(args, path)
    # Progress goes to stderr either way: with --json, stdout carries only the one JSON object.
    expected, collected, seconds = run_events(
        list(events_from_path(path)), workers=args.workers, timeout_s=args.timeout, keep_logs=args.keep_logs
    )
    summary = demo_summary(expected, collected, seconds)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        _print_summary(summary)
    return 0 if summary["lost"] == 0 else 1


def _demo_with_shadow(args: argparse.Namespace, path: Path) -> int:
    """The demo with a shadow worker deciding the same tickets with a candidate, then the comparison."""
    from supportflow.cli.shadow import demo_with_shadow
    from supportflow.connectors.ingress import events_from_path
    from supportflow.evals.shadow import render

    summary, report = demo_with_shadow(list(events_from_path(path)), args.shadow_router, args.shadow_policy,
                                       timeout_s=args.timeout, keep_logs=args.keep_logs)  # fmt: skip
    if args.json:
        print(json.dumps({**summary, "shadow": report.as_dict()}, ensure_ascii=False))
    else:
        _print_summary(summary)
        print("\nshadow comparison (live -> candidate):\n" + render(report))
    return 0 if summary["lost"] == 0 else 1


def _print_summary(s: dict[str, Any]) -> None:
    print(f"\n{s['tickets_in']} messages in -> {s['outcomes']} outcomes, {s['dead_lettered']} dead-lettered, "
          f"{s['duplicates']} duplicates suppressed, {s['lost']} lost ({s['seconds']} s)")  # fmt: skip
    print("\nby decision:  " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_decision"].items())))
    print("by channel:   " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_channel"].items())))
    print("top reasons:  " + ", ".join(f"{k} {v}" for k, v in list(s["by_reason"].items())[:8]))
    if s["dead_letters"]:
        print("\ndead letters:")
        for d in s["dead_letters"]:
            print(
                f"  [{d['stage']}] {d['error_class']}: {shorten(d['error_message'], 90)}  ({d['source'] or d['channel']})"
            )
    auto = [r for r in s["records"] if r["decision"] == "auto_resolved"][:3]
    for r in auto:
        print(f"\nexample auto-resolved ({r['intent']}, groundedness {r['groundedness']:.2f}, cites "
              f"{', '.join(r['citations'])}):\n  " + _excerpt(r["answer"], 400).replace("\n", "\n  "))  # fmt: skip


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="run the bundled (or given) tickets through the pipeline once and summarize"
    )
    p.add_argument(
        "--tickets", metavar="PATH", help="file or folder of .eml / .json / .jsonl (default: bundled samples)"
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout (progress stays on stderr)"
    )
    argtypes.add_workers_option(p)
    argtypes.add_timeout_option(p, 240.0)
    p.add_argument(
        "--keep-logs", action="store_true",
        help="keep the workers' temporary log folder on exit (it is always kept when a worker fails)",
    )  # fmt: skip
    p.add_argument("--shadow-router", type=Path, metavar="DIR",
                   help="also run a shadow worker with this candidate router and print the comparison")  # fmt: skip
    p.add_argument("--shadow-policy", type=Path, metavar="FILE",
                   help="also run a shadow worker with this candidate policy and print the comparison")  # fmt: skip
    p.set_defaults(func=cmd_demo)


def _excerpt(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, line breaks kept, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return (cut[:space] if space > 0 else cut).rstrip() + ELLIPSIS


def _reason_kind(reason: str) -> str:
    """kind:name, keeping detail a person wants (which language) but not values (amounts, thresholds);
    a degradation or failure keeps its cause too: "degraded:resolve" alone reads like a fault."""
    parts = reason.split(":")
    return ":".join(parts[:3] if parts[0] in ("degraded", "failure") else parts[:2])
