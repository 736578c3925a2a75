"""Reading a golden run: release-gate floors, comparison with an earlier run, scorecard and charts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from supportflow.data import data_path
from supportflow.evals.golden_language import language_markdown
from supportflow.schemas.errors import InvalidInputError

# Metrics a comparison lists, with the direction that counts as better.
HEADLINE: list[tuple[str, str]] = [
    ("deflection_rate", "up"), ("suggest_rate", "flat"), ("escalation_rate", "flat"),
    ("bad_answer_rate", "down"), ("groundedness", "up"), ("groundedness_share_at_floor", "up"),
    ("escalation_precision", "up"), ("escalation_recall", "up"), ("intent_accuracy", "up"),
    ("decision_matches_band", "up"), ("wrong_language_answers", "down"), ("p50_latency_ms", "down"), ("p95_latency_ms", "down"),
    ("p99_latency_ms", "down"), ("cost_per_resolution_routed", "down"),
    ("cost_per_resolution_frontier_only", "down"),
]  # fmt: skip


def default_gate_path() -> Path:
    return data_path("golden", "gate.yaml")


def load_floors(path: Path) -> dict[str, tuple[str, float]]:
    """``{metric: (">=" | "<=", bound)}`` from a YAML file with ``min:`` and ``max:`` maps."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read gate config {path}: {exc}") from exc
    if not isinstance(raw, dict) or not set(raw) <= {"min", "max"}:
        raise InvalidInputError(f"gate config {path} must hold only 'min:' and 'max:' maps")
    floors: dict[str, tuple[str, float]] = {}
    for key, op in (("min", ">="), ("max", "<=")):
        for metric, bound in (raw.get(key) or {}).items():
            if not isinstance(bound, int | float):
                raise InvalidInputError(f"gate config {path}: {key}.{metric} must be a number")
            floors[str(metric)] = (op, float(bound))
    return floors


def gate_failures(metrics: Mapping[str, Any], floors: Mapping[str, tuple[str, float]]) -> list[str]:
    """One readable line per floor the run does not meet (a metric missing from the run fails)."""
    failed = []
    for metric, (op, bound) in floors.items():
        value = metrics.get(metric)
        if not isinstance(value, int | float):
            failed.append(f"{metric}: not measured (needs {op} {bound:g})")
        elif (op == ">=" and value < bound) or (op == "<=" and value > bound):
            failed.append(f"{metric} = {value:g}, needs {op} {bound:g}")
    return failed


def _delta(new: Any, old: Any) -> str:
    if isinstance(new, int | float) and isinstance(old, int | float):
        return f"{new - old:+.4g}"
    return "n/a"


def compare(current: Mapping[str, Any], previous: Mapping[str, Any]) -> str:
    """Side-by-side text: headline metrics, then intents whose deflection or accuracy moved."""
    lines = [f"{'metric':<36}{'previous':>12}{'current':>12}{'delta':>12}"]
    for metric, better in HEADLINE:
        old, new = previous.get(metric), current.get(metric)
        mark = _direction_mark(new, old, better)
        lines.append(f"{metric:<36}{_fmt(old):>12}{_fmt(new):>12}{_delta(new, old):>12} {mark}")
    lines.append("")
    lines.append(f"{'intent':<28}{'deflection prev/cur':>22}{'intent acc prev/cur':>22}{'bad prev/cur':>14}")
    old_intents = previous.get("per_intent", {})
    for intent, row in sorted(current.get("per_intent", {}).items()):
        old = old_intents.get(intent, {})
        moved = any(old.get(k) != row.get(k) for k in ("deflection_rate", "intent_accuracy", "bad_answers"))
        flag = " *" if moved else ""
        lines.append(
            f"{intent:<28}{_pair(old.get('deflection_rate'), row['deflection_rate']):>22}"
            f"{_pair(old.get('intent_accuracy'), row['intent_accuracy']):>22}"
            f"{_pair(old.get('bad_answers'), row['bad_answers']):>14}{flag}"
        )
    for intent in sorted(set(old_intents) - set(current.get("per_intent", {}))):
        lines.append(f"{intent:<28}  (only in the previous run)")
    return "\n".join(lines)


def _direction_mark(new: Any, old: Any, better: str) -> str:
    if not (isinstance(new, int | float) and isinstance(old, int | float)) or new == old or better == "flat":
        return ""
    improved = (new > old) == (better == "up")
    return "better" if improved else "worse"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _pair(old: Any, new: Any) -> str:
    return f"{_fmt(old)} / {_fmt(new)}"


def scorecard_markdown(metrics: Mapping[str, Any], charts: list[str], command: str) -> str:
    """The scorecard a support lead reads: headline, policy confusion, cost, breakdowns, bad answers."""
    m = metrics
    cost = m.get("cost", {})
    lines = [
        "# Golden-set scorecard", "", f"Command: `{command}`", "",
        f"{m['cases']} golden tickets, {m['outcomes']} decided, {m['missing']} without an outcome.", "",
        "| metric | value |", "|---|---|",
        f"| auto-resolved (deflection) | {m['deflection_rate']:.1%} |",
        f"| drafted for an agent (suggest) | {m['suggest_rate']:.1%} |",
        f"| escalated | {m['escalation_rate']:.1%} |",
        f"| bad answers (of auto-resolved) | {m['bad_answer_rate']:.1%} ({m['bad_answers']}) |",
        f"| groundedness of auto answers (mean) | {m['groundedness']:.3f} |",
        f"| auto answers with groundedness >= {m['groundedness_floor']:.2f} | {m['groundedness_share_at_floor']:.1%} |",
        f"| escalation precision / recall | {m['escalation_precision']:.1%} / {m['escalation_recall']:.1%} |",
        f"| intent accuracy | {m['intent_accuracy']:.1%} |",
        f"| decision matches expected band | {m['decision_matches_band']:.1%} |",
        f"| latency ingest -> decision p50 / p95 / p99 | {m['p50_latency_ms']:.0f} / {m['p95_latency_ms']:.0f} / {m['p99_latency_ms']:.0f} ms |",
    ]  # fmt: skip
    if cost:
        lines += [
            f"| cost per resolution, routed ({cost['commodity_model']} + {cost['frontier_model']}) "
            f"| ${cost['cost_per_resolution_routed']:.5f} |",
            f"| cost per resolution, every ticket to {cost['frontier_model']} "
            f"| ${cost['cost_per_resolution_frontier_only']:.5f} |",
            f"| frontier-only / routed | {cost['frontier_to_routed_ratio']}x |",
            "| spend of this offline run | $0.00 (extractive drafter; the costs above price the same "
            "prompts on the hosted tiers) |",
        ]
    lines += ["", "## Expected band vs decision", "", "| expected \\ decided | auto_resolved | suggested | escalated | missing |",
              "|---|---|---|---|---|"]  # fmt: skip
    for band, row in m["band_confusion"].items():
        cells = " | ".join(str(row.get(d, 0)) for d in ("auto_resolved", "suggested", "escalated", "missing"))
        lines.append(f"| {band} | {cells} |")
    if m.get("by_language"):
        lines += ["", *language_markdown(m["by_language"])]
    lines += ["", "## Latency per stage (ms)", "", "| stage | p50 | p95 | p99 |", "|---|---|---|---|"]
    for stage, p in m["stage_latency_ms"].items():
        lines.append(f"| {stage} | {p['p50']} | {p['p95']} | {p['p99']} |")
    for title, key in (("channel", "per_channel"), ("intent", "per_intent"), ("tag", "per_tag")):
        lines += ["", f"## Per {title}", "",
                  f"| {title} | n | auto | suggest | escalate | bad | intent acc | matches band | p95 ms |",
                  "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for name, g in m[key].items():
            lines.append(
                f"| {name} | {g['n']} | {g['auto_resolved']} | {g['suggested']} | {g['escalated']} | "
                f"{g['bad_answers']} | {g['intent_accuracy']:.0%} | {g['decision_matches_band']:.0%} | "
                f"{g['p95_latency_ms']:.0f} |"
            )
    if m["bad_answer_cases"]:
        lines += ["", "## Bad answers", ""]
        lines += [f"- `{b['id']}` ({b['intent']}): {', '.join(b['reasons'])}" for b in m["bad_answer_cases"]]
    if charts:
        lines += ["", "## Charts", ""] + [f"![{Path(c).stem}]({Path(c).name})" for c in charts]
    return "\n".join(lines) + "\n"


def write_charts(metrics: Mapping[str, Any], latencies: list[float], out: Path) -> list[str]:
    """Bands by intent, latency distribution, cost comparison as PNG files; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    per_intent = metrics["per_intent"]
    names = list(per_intent)
    fig, ax = plt.subplots(figsize=(10, max(4.0, 0.32 * len(names))))
    left = [0.0] * len(names)
    for key, color in (("auto_resolved", "#2a9d8f"), ("suggested", "#e9c46a"), ("escalated", "#e76f51"),
                       ("missing", "#999999")):  # fmt: skip
        values = [per_intent[n][key] for n in names]
        ax.barh(names, values, left=left, color=color, label=key)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("golden tickets")
    ax.set_title("Decision by expected intent")
    ax.legend(loc="lower right")
    fig.tight_layout()
    paths.append(_save(fig, out / "bands_by_intent.png", plt))

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.hist(latencies or [0.0], bins=40, color="#264653")
    for q in ("p50", "p95", "p99"):
        value = metrics[f"{q}_latency_ms"]
        ax.axvline(value, linestyle="--", color="#e76f51")
        ax.text(value, ax.get_ylim()[1] * 0.9, f" {q} {value:.0f} ms", rotation=90, va="top")
    ax.set_xlabel("ingest -> decision latency (ms)")
    ax.set_ylabel("tickets")
    ax.set_title("Latency distribution")
    fig.tight_layout()
    paths.append(_save(fig, out / "latency.png", plt))

    cost = metrics.get("cost")
    if cost:
        fig, ax = plt.subplots(figsize=(6, 4))
        labels = ["routed", f"all {cost['frontier_model']}"]
        values = [cost["cost_per_resolution_routed"] * 100, cost["cost_per_resolution_frontier_only"] * 100]
        bars = ax.bar(labels, values, color=["#2a9d8f", "#e76f51"])
        ax.bar_label(bars, fmt="%.3f ¢")
        ax.set_ylabel("cents per resolution")
        ax.set_title("Cost per resolution (same prompts, LiteLLM price map)")
        fig.tight_layout()
        paths.append(_save(fig, out / "cost.png", plt))
    return paths


def _save(fig: Any, path: Path, plt: Any) -> str:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
