"""``supportflow eval languages``: the route stage over labelled tickets in several languages, per language.

Runs the deployment's route stage (settings as a worker reads them) on a ``text,label,language`` CSV,
by default the shipped translated dev set, and prints accuracy, in-scope accuracy, in-scope tickets
read as ``oos``, oos recall and the auto band per language. ``--english-router-only`` turns the
multilingual router off for comparison.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from supportflow.console import err

COLUMNS = (
    ("language", 8), ("rows", 5), ("accuracy", 9), ("in-scope", 9), ("in→oos", 7), ("oos rec.", 9),
    ("auto n", 7), ("auto prec.", 10),
)  # fmt: skip


def _pct(value: object) -> str:
    return "-" if value is None else f"{100 * float(str(value)):.1f}%"


def _table(scores: dict[str, dict[str, Any]]) -> str:
    lines = ["  ".join(name.ljust(width) for name, width in COLUMNS)]
    for language, s in scores.items():
        cells = (
            language, str(s["rows"]), _pct(s["accuracy"]), _pct(s["in_scope_accuracy"]),
            _pct(s["in_scope_as_oos_rate"]), _pct(s["oos_recall"]), str(s["auto"]), _pct(s["auto_precision"]),
        )  # fmt: skip
        lines.append("  ".join(c.ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True)))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from supportflow.connectors.crm import open_crm
    from supportflow.data import data_path
    from supportflow.evals.route_languages import load_cases, score_languages
    from supportflow.settings import get_settings
    from supportflow.streams.runtime import Runtime

    path = Path(args.data) if args.data else data_path("router", "dev_multilingual.csv")
    cases = load_cases(path)
    settings = get_settings()
    if args.english_router_only:
        settings = settings.model_copy(update={"multilingual_router": False})
    err(f"routing {len(cases)} tickets from {path} (loading the encoders and the help center first)")
    runtime = Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)
    try:
        scores = {k: v.as_dict() for k, v in score_languages(cases, runtime.route_ctx).items()}
    finally:
        runtime.kb.close()
    if args.json:
        print(json.dumps({"data": str(path), "multilingual_router": settings.multilingual_router,
                          "embedding_model": settings.embedding_model, "by_language": scores}))  # fmt: skip
    else:
        print(_table(scores))
        routers = ", ".join(f"{name}: {n}" for name, n in scores["all"]["routers"].items())
        print(f"decided by: {routers}")
    return 0


def add_eval_parser(evals: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = evals.add_parser(
        "languages", help="route stage on labelled tickets per language (text,label,language)"
    )
    p.add_argument("--data", help="CSV with text,label,language (default: the shipped translated dev set)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--english-router-only", action="store_true",
        help="every ticket through the main router (multilingual_router off), for comparison",
    )  # fmt: skip
    p.set_defaults(func=run, _parser=p)
