"""``supportflow eval golden``: the golden set, then the golden conversations, through the real broker and
stages, scored.

Progress and human-readable output go to stderr/stdout as usual; ``--json`` prints one object on stdout.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportflow.cli import argtypes
from supportflow.console import err

if TYPE_CHECKING:
    from supportflow.evals.golden import GoldenCase
    from supportflow.evals.golden_conversations import Conversation
    from supportflow.schemas.models import Outcome
    from supportflow.streams.collect import Collected

DEFAULT_RATE = 20.0
#: The LiteLLM models the cost replay prices when --commodity-model / --frontier-model are not given.
DEFAULT_COMMODITY_MODEL = "gpt-4o-mini"
DEFAULT_FRONTIER_MODEL = "gpt-4o"


def run_golden(
    cases: list[GoldenCase], *, workers: int, timeout_s: float, rate_per_s: float | None, quiet: bool = False
) -> tuple[dict[str, Outcome], float, int]:
    """Publish every case through the embedded (or configured) broker; outcomes keyed by golden id."""
    from supportflow.evals.golden import pipeline_ticket_id, render_events
    from supportflow.streams.harness import run_events

    events = render_events(cases)
    expected, collected, seconds = run_events(
        events, workers=workers, timeout_s=timeout_s, quiet=quiet, rate_per_s=rate_per_s or None
    )
    by_ticket = {pipeline_ticket_id(c): c.id for c in cases}
    outcomes = {by_ticket[t]: o for t, o in collected.outcomes.items() if t in by_ticket}
    _warn_dead_letters(collected, "golden events")
    return outcomes, seconds, expected


def _warn_dead_letters(collected: Collected, what: str) -> None:
    if collected.dead_letters:
        err(f"warning: {len(collected.dead_letters)} {what} were dead-lettered: "
            + "; ".join(f"{d.source}: {d.error_message[:80]}" for d in collected.dead_letters[:5]))  # fmt: skip


def run_conversations(
    conversations: list[Conversation], *, workers: int, timeout_s: float, rate_per_s: float | None
) -> tuple[dict[tuple[str, int], Outcome], float]:
    """Publish the conversations wave by wave (turn k+1 after turn k is decided); outcomes by turn."""
    from supportflow.evals.golden_conversations import publish_steps, turn_ticket_id
    from supportflow.streams.harness import run_event_waves

    waves = publish_steps(conversations)
    by_ticket = {turn_ticket_id(c, k): (c.id, k) for c in conversations for k in range(1, len(c.turns) + 1)}
    _, collected, seconds = run_event_waves(
        [lambda live, wave=wave: (event for _, event in wave.events(live)) for wave in waves],
        workers=workers,
        # --timeout bounds the whole run; a wave that never completes must not take all of it.
        wave_timeout_s=max(30.0, timeout_s / len(waves)),
        rate_per_s=rate_per_s or None,
    )
    _warn_dead_letters(collected, "conversation messages")
    return {by_ticket[t]: o for t, o in collected.outcomes.items() if t in by_ticket}, seconds


def score_conversation_run(
    conversations: list[Conversation], args: argparse.Namespace, metrics: dict[str, Any]
) -> None:
    """Run and score the conversations into ``metrics["conversations"]`` and the gate's flat keys."""
    from supportflow.evals.golden_conversations import default_articles
    from supportflow.evals.golden_score import score_conversations, turn_results

    turns = sum(len(c.turns) for c in conversations)
    err(f"golden conversations: {len(conversations)} conversations, {turns} messages, in waves ...")
    outcomes, seconds = run_conversations(
        conversations, workers=args.workers, timeout_s=args.timeout, rate_per_s=args.rate
    )
    summary = score_conversations(turn_results(conversations, outcomes, default_articles()))
    summary["pipeline_seconds"] = round(seconds, 2)
    metrics["conversations"] = summary
    # Flat copies: gate floors name top-level keys (gate.yaml, conversation_*).
    for key in ("bad_answer_rate", "escalation_recall", "closed_when_not_expected", "reopen_rate"):
        metrics[f"conversation_{key}"] = summary[key]


def _load_conversations(args: argparse.Namespace) -> list[Conversation] | None:
    from supportflow.evals.golden_conversations import default_conversations_path, load_conversations

    if args.no_conversations:
        return None
    return load_conversations(
        Path(args.conversations) if args.conversations else default_conversations_path()
    )


def price_run(
    cases: list[GoldenCase], outcomes: dict[str, Outcome], commodity: str, frontier: str
) -> dict[str, Any]:
    """Rebuild each case's real resolve prompt in-process and price both configurations."""
    from supportflow.connectors.crm import open_crm
    from supportflow.evals.golden_cost import build_prompt_cases, cost_summary, litellm_pricing
    from supportflow.settings import get_settings
    from supportflow.streams.runtime import Runtime

    pricing = litellm_pricing(commodity, frontier)
    err("pricing: replaying route/retrieve in-process to rebuild the exact prompts ...")
    runtime = Runtime.build(get_settings(), crm=open_crm(get_settings()), kb_in_memory=True)
    prompts = build_prompt_cases(cases, outcomes, runtime)
    resolutions = sum(o.decision == "auto_resolved" for o in outcomes.values())
    summary = cost_summary(prompts, pricing, resolutions)
    mismatched = sum(p.band != outcomes[p.case_id].band for p in prompts if p.case_id in outcomes)
    summary["band_mismatch_vs_run"] = mismatched  # the replay must route like the workers did
    return summary


def cmd_eval_golden(args: argparse.Namespace) -> int:
    from supportflow.evals.golden import default_set_path, load_golden
    from supportflow.evals.golden_report import compare, default_gate_path, gate_failures, load_floors
    from supportflow.evals.golden_score import case_results, score
    from supportflow.schemas.errors import SupportflowError
    from supportflow.settings import get_settings

    try:
        cases = load_golden(Path(args.set) if args.set else default_set_path())
        floors = (
            load_floors(Path(args.gate_config) if args.gate_config else default_gate_path())
            if args.gate
            else {}
        )
        previous = json.loads(Path(args.compare).read_text(encoding="utf-8")) if args.compare else None
        conversations = _load_conversations(args)
    except (SupportflowError, OSError, json.JSONDecodeError) as exc:
        err(f"eval golden: {exc}")
        return 2
    err(f"golden set: {len(cases)} cases; publishing through the pipeline "
        f"({'burst' if not args.rate else f'{args.rate:g}/s'}) ...")  # fmt: skip
    started = time.monotonic()
    outcomes, seconds, _ = run_golden(
        cases, workers=args.workers, timeout_s=args.timeout, rate_per_s=args.rate
    )
    metrics = score(case_results(cases, outcomes), get_settings().thresholds.groundedness_floor)
    metrics["pipeline_seconds"] = round(seconds, 2)
    if not args.no_cost:
        try:
            cost = price_run(cases, outcomes, args.commodity_model, args.frontier_model)
        except SupportflowError as exc:
            err(f"eval golden: {exc}")
            return 2
        metrics["cost"] = cost
        metrics["cost_per_resolution_routed"] = cost["cost_per_resolution_routed"]
        metrics["cost_per_resolution_frontier_only"] = cost["cost_per_resolution_frontier_only"]
    if conversations is not None:
        score_conversation_run(conversations, args, metrics)
    else:
        # Skipped on request: their floors are not measured, so they are not checked either.
        floors = {k: v for k, v in floors.items() if not k.startswith("conversation_")}
    metrics["command"] = "supportflow " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    metrics["wall_seconds"] = round(time.monotonic() - started, 1)

    _write_outputs(args, metrics, [o.latency_ms for o in outcomes.values()])
    if previous is not None:
        (sys.stderr if args.json else sys.stdout).write(compare(metrics, previous) + "\n")
    if args.gate:
        failed = gate_failures(metrics, floors)
        if failed:
            err("release gate FAILED:\n  " + "\n  ".join(failed))
            return 1
        err(f"release gate passed ({len(floors)} floors)")
    return 0 if not metrics["missing"] and not metrics.get("conversations", {}).get("missing") else 1


def _write_outputs(args: argparse.Namespace, metrics: dict[str, Any], latencies: list[float]) -> None:
    """The scorecard (single tickets, then conversations) to --report DIR, and JSON or Markdown to stdout."""
    from supportflow.evals.golden_report import scorecard_markdown, write_charts

    if args.report:
        out = Path(args.report)
        charts = write_charts(metrics, latencies, out)
        (out / "scorecard.md").write_text(
            scorecard_markdown(metrics, charts, metrics["command"]) + _conversation_section(metrics),
            encoding="utf-8",
        )
        err(f"wrote {out / 'scorecard.md'} and {len(charts)} charts")
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False))
    else:
        print(scorecard_markdown(metrics, [], metrics["command"]) + _conversation_section(metrics))


def _conversation_section(metrics: dict[str, Any]) -> str:
    from supportflow.evals.golden_conversations import conversation_markdown

    return (
        "\n\n" + conversation_markdown(metrics["conversations"]) + "\n" if "conversations" in metrics else ""
    )


def add_eval_parser(eval_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = eval_subparsers.add_parser("golden", help="golden set through the live pipeline: scorecard, gate")
    p.add_argument(
        "--set",
        metavar="PATH",
        help="golden JSONL (default: the bundled supportflow/data/golden/golden.jsonl)",
    )
    p.add_argument(
        "--conversations",
        metavar="PATH",
        help="golden conversations YAML, run after the single tickets "
        "(default: the bundled supportflow/data/golden/conversations.yaml)",
    )
    p.add_argument("--no-conversations", action="store_true", help="score the single tickets only")
    p.add_argument("--json", action="store_true", help="print one JSON object with every metric")
    p.add_argument("--report", metavar="DIR", help="write scorecard.md and PNG charts to DIR")
    p.add_argument("--gate", action="store_true", help="exit 1 when a floor in the gate config is not met")
    p.add_argument(
        "--gate-config", metavar="PATH", help="YAML floors (default: supportflow/data/golden/gate.yaml)"
    )
    p.add_argument("--compare", metavar="RUN.json", help="a previous --json output to compare against")
    p.add_argument(
        "--commodity-model", default=DEFAULT_COMMODITY_MODEL, metavar="MODEL",
        help=f"LiteLLM model priced as commodity (default {DEFAULT_COMMODITY_MODEL})",
    )  # fmt: skip
    p.add_argument(
        "--frontier-model", default=DEFAULT_FRONTIER_MODEL, metavar="MODEL",
        help=f"LiteLLM model priced as frontier (default {DEFAULT_FRONTIER_MODEL})",
    )  # fmt: skip
    p.add_argument("--no-cost", action="store_true", help="skip the cost replay (faster)")
    p.add_argument("--rate", type=argtypes.non_negative_float, default=DEFAULT_RATE,
                   help=f"tickets per second to publish (default {DEFAULT_RATE:g}; 0 = all at once)")  # fmt: skip
    argtypes.add_workers_option(p)
    argtypes.add_timeout_option(p, 300.0)
    p.set_defaults(func=cmd_eval_golden)
