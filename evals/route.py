"""``supportflow eval route``: train a router on one CSV, measure it on another.

Thresholds are chosen on ``--val`` or out of fold on TRAIN (never on TEST). Bands here come from the
model alone (a CSV row has no customer or channel for the policy's hard rules): auto = in-scope and
confidence >= the router's auto threshold; suggest = in-scope, between min_confidence and that;
low = in-scope below min_confidence; oos = predicted out of scope.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import f1_score

from supportflow.processors.embedding import get_embedder
from supportflow.processors.router import (
    OOS,
    IntentRouter,
    TrainOptions,
    decide,
    load_policy,
    train_router,
    warm_up,
)
from supportflow.processors.router.calibration import expected_calibration_error, reliability_bins
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Channel, Ticket
from supportflow.settings import Thresholds


def load_csv(path: Path) -> tuple[list[str], list[str]]:
    """Rows of a ``text,label`` CSV (other columns ignored, empty texts skipped)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
                raise InvalidInputError(f"{path}: need columns text,label (found {reader.fieldnames})")
            rows = [(r["text"].strip(), r["label"].strip()) for r in reader if (r["text"] or "").strip()]
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
    if not rows:
        raise InvalidInputError(f"{path}: no rows")
    return [t for t, _ in rows], [lab for _, lab in rows]


@dataclass
class EvalResult:
    metrics: dict[str, Any]
    truth: list[str]
    predicted: list[str]
    confidence: npt.NDArray[np.float64]


def _band_table(
    truth: npt.NDArray[Any],
    pred: npt.NDArray[Any],
    conf: npt.NDArray[np.float64],
    auto_t: float,
    min_conf: float,
) -> dict[str, dict[str, float | None]]:
    in_scope = pred != OOS
    bands = {
        "auto": in_scope & (conf >= max(auto_t, min_conf)),
        "suggest": in_scope & (conf >= min_conf) & (conf < max(auto_t, min_conf)),
        "low_confidence": in_scope & (conf < min_conf),
        "oos": ~in_scope,
    }
    out: dict[str, dict[str, float | None]] = {}
    for name, mask in bands.items():
        n = int(mask.sum())
        out[name] = {
            "count": n,
            "coverage": n / len(truth),
            "precision": float((pred[mask] == truth[mask]).mean()) if n else None,
        }
    return out


def evaluate(
    train_csv: Path,
    test_csv: Path,
    val_csv: Path | None = None,
    oos_label: str = "oos",
    target_precision: float = 0.99,
    progress: bool = True,
    oos_recall: float | None = None,
) -> tuple[EvalResult, IntentRouter]:
    texts, labels = load_csv(train_csv)
    val = load_csv(val_csv) if val_csv else (None, None)
    test_texts, test_labels = load_csv(test_csv)
    started = time.perf_counter()
    router = train_router(
        texts, labels, val_texts=val[0], val_labels=val[1], oos_label=oos_label,
        target_precision=target_precision, progress=progress,
        options=TrainOptions(oos_recall_target=oos_recall),
    )  # fmt: skip
    train_s = time.perf_counter() - started

    if progress:
        print(f"[eval] embedding and predicting {len(test_texts)} test rows ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    vectors = get_embedder().encode(test_texts)
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    predictions = router.predict(vectors, test_texts)
    predict_s = time.perf_counter() - started
    decide_s = _time_decide(test_texts, predictions, router)

    truth = np.array([OOS if lab == oos_label else lab for lab in test_labels], dtype=object)
    pred = np.array([p.intent for p in predictions], dtype=object)
    conf = np.array([p.confidence for p in predictions], dtype=np.float64)
    correct = pred == truth
    is_oos = truth == OOS
    min_conf = Thresholds().min_confidence
    bands = _band_table(truth, pred, conf, router.auto_threshold, min_conf)
    n = len(truth)
    metrics: dict[str, Any] = {
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(truth.astype(str), pred.astype(str), average="macro", zero_division=0)),
        "in_scope_accuracy": float(correct[~is_oos].mean()) if (~is_oos).any() else None,
        "oos_recall": float((pred[is_oos] == OOS).mean()) if is_oos.any() else None,
        "oos_false_positive_rate": float((pred[~is_oos] == OOS).mean()) if is_oos.any() else None,
        "ece": expected_calibration_error(conf, correct),
        "auto_band_precision": bands["auto"]["precision"],
        "auto_band_coverage": bands["auto"]["coverage"],
        "bands": bands,
        "thresholds": {
            "auto": router.auto_threshold,
            "oos": router.calibration.oos_threshold,
            "temperature": router.calibration.temperature,
            "min_confidence": min_conf,
            "target_precision": target_precision,
            "oos_recall_target": oos_recall,
        },
        "timing": {
            "train_s": round(train_s, 2),
            "embed_test_s": round(embed_s, 2),
            "predict_tickets_per_s": round(n / max(embed_s + predict_s, 1e-9), 1),
            "route_tickets_per_s": round(n / max(embed_s + predict_s + decide_s, 1e-9), 1),
            "decide_ms_per_ticket": round(1000 * decide_s / n, 3),
        },
        "router": router.version,
        "n_train": len(texts),
        "n_val": len(val[0]) if val[0] else 0,
        "n_test": n,
        "n_intents": len(router.intents),
    }
    return EvalResult(metrics, list(truth), list(pred), conf), router


def _time_decide(texts: list[str], predictions: list[Any], router: IntentRouter) -> float:
    """Seconds for the policy step over all rows, as the route stage runs it (default policy)."""
    policy, thresholds = load_policy(), Thresholds()
    warm_up()
    tickets = [
        Ticket(
            ticket_id=str(i),
            conversation_id=str(i),
            channel=Channel.API,
            sender="eval",
            text=t,
            received_at_ms=0,
            ingested_at_ms=0,
            trace_id=str(i),
        )
        for i, t in enumerate(texts)
    ]
    started = time.perf_counter()
    for ticket, prediction in zip(tickets, predictions, strict=True):
        decide(
            ticket, prediction, None, policy, thresholds, router.auto_threshold, model_version=router.version
        )
    return time.perf_counter() - started


def format_report(m: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.2f}%"

    t = m["timing"]
    lines = [
        f"router            {m['router']}  ({m['n_intents']} intents, {m['n_train']} train rows, "
        f"{m['n_test']} test rows)",
        f"accuracy          {pct(m['accuracy'])}",
        f"macro-F1          {pct(m['macro_f1'])}",
        f"in-scope accuracy {pct(m['in_scope_accuracy'])}",
        f"oos recall        {pct(m['oos_recall'])}",
        f"ECE               {m['ece']:.4f}",
        f"thresholds        auto>={m['thresholds']['auto']:.3f}  oos<{m['thresholds']['oos']:.3f}  "
        f"min_confidence={m['thresholds']['min_confidence']:.2f}  T={m['thresholds']['temperature']:.2f}",
        "band              precision  coverage  count",
    ]
    for name, b in m["bands"].items():
        lines.append(f"  {name:<15} {pct(b['precision']):>9}  {pct(b['coverage']):>8}  {b['count']:>5}")
    lines.append(
        f"timing            train {t['train_s']:.1f}s, predict {t['predict_tickets_per_s']:.0f} tickets/s "
        f"incl. embedding, route {t['route_tickets_per_s']:.0f} tickets/s incl. policy "
        f"({t['decide_ms_per_ticket']:.3f} ms/ticket decide)"
    )
    return "\n".join(lines)


def write_plots(result: EvalResult, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    correct = np.array(result.truth, dtype=object) == np.array(result.predicted, dtype=object)
    bins = reliability_bins(result.confidence, correct, bins=10)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot([b[0] for b in bins], [b[1] for b in bins], "o-", label="router")
    for conf, acc, count in bins:
        ax.annotate(str(count), (conf, acc), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"Reliability (ECE {result.metrics['ece']:.3f})")
    ax.legend(loc="upper left")
    reliability = out_dir / "reliability.png"
    fig.savefig(reliability, dpi=120, bbox_inches="tight")
    plt.close(fig)

    labels = sorted(set(result.truth) | set(result.predicted))
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)))
    for t, p in zip(result.truth, result.predicted, strict=True):
        matrix[index[t], index[p]] += 1
    matrix /= np.clip(matrix.sum(axis=1, keepdims=True), 1, None)
    size = min(4 + 0.18 * len(labels), 24)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    if len(labels) <= 60:  # beyond that, names are unreadable; the diagonal still tells the story
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion (row-normalised)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    confusion = out_dir / "confusion.png"
    fig.savefig(confusion, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [reliability, confusion]


def run(
    train: Path,
    test: Path,
    val: Path | None = None,
    oos_label: str = "oos",
    as_json: bool = False,
    plots: Path | None = None,
    target_precision: float = 0.99,
    llm_router: str | None = None,
    llm_api_base: str | None = None,
    llm_limit: int | None = None,
    oos_recall: float | None = None,
) -> int:
    result, router = evaluate(train, test, val, oos_label, target_precision, oos_recall=oos_recall)
    if plots:
        for p in write_plots(result, plots):
            print(f"[eval] wrote {p}", file=sys.stderr)
    report = format_report(result.metrics)
    if llm_router:  # optional: the LLM router's effect on the uncertain middle (evals/route_llm.py)
        from supportflow.evals.route_llm import evaluate_llm_router, format_llm_report
        from supportflow.settings import get_settings

        base = get_settings().llm_router  # key, timeout, top_k from SUPPORTFLOW_LLM_ROUTER__*
        settings = base.model_copy(update={"model": llm_router, "api_base": llm_api_base or base.api_base})
        texts, _ = load_csv(test)
        result.metrics["llm_router"] = evaluate_llm_router(
            router, texts, result.truth, result.predicted, list(result.confidence), settings, llm_limit
        )
        report += "\n" + format_llm_report(result.metrics["llm_router"])
    print(json.dumps(result.metrics, sort_keys=True) if as_json else report)
    return 0
