"""CLI wiring for the router: ``supportflow router train`` and ``supportflow eval route``.

``supportflow.cli.main`` calls :func:`add_parser` and :func:`add_eval_parser`; ``python -m
supportflow.cli.router`` runs the same commands standalone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from supportflow.schemas.errors import SupportflowError


def _train(args: argparse.Namespace) -> int:
    from supportflow.evals.route import load_csv
    from supportflow.processors.router import TrainOptions, train_router

    texts, labels = _with_feedback(load_csv(args.data), args.feedback)
    val_texts, val_labels = load_csv(args.val) if args.val else (None, None)
    router = train_router(
        texts, labels, val_texts=val_texts, val_labels=val_labels, oos_label=args.oos_label,
        target_precision=args.target_precision,
        options=TrainOptions(use_text=not args.no_ngrams, oos_recall_target=args.oos_recall),
        info={"data": args.data.name, "val": args.val.name if args.val else None,
              "feedback": args.feedback.name if args.feedback else None},
    )  # fmt: skip
    router.save(args.out)
    cal = router.calibration
    print(
        f"saved {router.version} to {args.out}: {len(router.intents)} intents, "
        f"auto>={cal.auto_threshold:.3f}, oos<{cal.oos_threshold:.3f}, T={cal.temperature:.2f}"
    )
    return 0


def _with_feedback(rows: tuple[list[str], list[str]], feedback: Path | None) -> tuple[list[str], list[str]]:
    """The training rows plus agent-confirmed and corrected rows (``supportflow feedback labels``)."""
    texts, labels = rows
    if feedback is None:
        return texts, labels
    from supportflow.evals.route import load_csv
    from supportflow.processors.feedback.labels import merge_rows

    merged = merge_rows(texts, labels, *load_csv(feedback))
    print(f"feedback {feedback.name}: {merged.added} rows added, {merged.relabelled} training rows relabelled",
          file=sys.stderr)  # fmt: skip
    return merged.texts, merged.labels


def _train_with_feedback(train: Path, feedback: Path | None, folder: Path) -> Path:
    """``train``, or a copy of it with the feedback rows merged in (what ``eval route`` trains on)."""
    if feedback is None:
        return train
    import csv

    from supportflow.evals.route import load_csv

    texts, labels = _with_feedback(load_csv(train), feedback)
    merged = folder / f"{train.stem}+{feedback.stem}.csv"
    with merged.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *zip(texts, labels, strict=True)])
    return merged


def _eval_route(args: argparse.Namespace) -> int:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="supportflow-route-") as folder:
        train = _train_with_feedback(args.train, args.feedback, Path(folder))
        return _run_eval_route(args, train)


def _run_eval_route(args: argparse.Namespace, train: Path) -> int:
    from supportflow.evals.route import run

    return run(
        train, args.test, args.val, args.oos_label, args.json, args.plots, args.target_precision,
        llm_router=args.llm_router, llm_api_base=args.llm_api_base, llm_limit=args.llm_limit,
        oos_recall=args.oos_recall,
    )  # fmt: skip


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--oos-label", default="oos", help="label of out-of-scope rows (default: oos)")
    p.add_argument(
        "--feedback", type=Path, metavar="CSV",
        help="agent-confirmed and corrected rows (`supportflow feedback labels`) added to the training rows",
    )  # fmt: skip
    p.add_argument(
        "--target-precision", type=float, default=0.99, help="auto-band precision to reach on validation"
    )
    p.add_argument(
        "--oos-recall", type=_fraction, metavar="R",
        help="choose the out-of-scope cut for this out-of-scope recall on validation (e.g. 0.85), the "
        "best in-scope accuracy that reaches it (default: maximise in-scope accuracy + 0.5 x oos recall)",
    )  # fmt: skip


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    router = subparsers.add_parser("router", help="train the intent router")
    sub = router.add_subparsers(dest="router_command", required=True)
    train = sub.add_parser("train", help="train a router artifact from a text,label CSV")
    train.add_argument("--data", type=Path, required=True, help="training CSV (columns text,label)")
    train.add_argument(
        "--val",
        type=Path,
        help="validation CSV for calibration (default: out-of-fold scores of 5 folds of --data)",
    )
    train.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    train.add_argument("--no-ngrams", action="store_true", help="embedding head only (no n-gram head)")
    _common(train)
    train.set_defaults(func=_train)


def add_eval_parser(eval_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    route = eval_subparsers.add_parser("route", help="train on one CSV, evaluate the router on another")
    route.add_argument("--train", type=Path, required=True, help="training CSV (columns text,label)")
    route.add_argument("--test", type=Path, required=True, help="test CSV (columns text,label)")
    route.add_argument(
        "--val",
        type=Path,
        help="validation CSV for thresholds (default: out-of-fold scores of 5 folds of --train)",
    )
    route.add_argument("--json", action="store_true", help="print one JSON object")
    route.add_argument("--plots", type=Path, help="directory for reliability.png and confusion.png")
    route.add_argument(
        "--llm-router", metavar="MODEL",
        help="also ask this LiteLLM model about the uncertain middle and report before/after "
        "(key, timeout, top-k from SUPPORTFLOW_LLM_ROUTER__*)",
    )  # fmt: skip
    route.add_argument("--llm-api-base", metavar="URL", help="OpenAI-compatible endpoint for --llm-router")
    route.add_argument("--llm-limit", type=int, metavar="N", help="ask about at most N uncertain rows")
    _common(route)
    route.set_defaults(func=_eval_route)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supportflow.cli.router")
    commands = parser.add_subparsers(dest="command", required=True)
    add_parser(commands)
    evals = commands.add_parser("eval", help="evaluations").add_subparsers(dest="eval_command", required=True)
    add_eval_parser(evals)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SupportflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
