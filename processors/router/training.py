"""Training: fit the heads, calibrate on held-out data, choose thresholds, refit on everything.

Why the held-out step: temperature, the out-of-scope cut and the auto-band threshold are all chosen
on predictions the heads did not see. When no validation set is given, a stratified 20% of the
training rows is held out for that, then the heads are refitted on all rows with the chosen settings.

The steps of :func:`train_router`, in order: check the input, embed, split rows (:class:`_Rows`),
choose the embedding head's C, fit and weigh the n-gram view (:class:`_TextView`), calibrate
(:mod:`.held_out`), refit on all rows, and assemble the artifact's parts with their provenance.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from supportflow.processors.embedding import get_embedder
from supportflow.processors.router.calibration import fit_temperature, softmax
from supportflow.processors.router.heads import fit_embedding_head, fit_head, fit_heads, nll, scale_head
from supportflow.processors.router.held_out import (
    calibrate,
    calibrate_on_splits,
    fold_routers,
    stratified_split,
)
from supportflow.processors.router.model import Calibration, IntentRouter, LinearHead, RouterParts
from supportflow.processors.router.normalize import NORMALIZATION_VERSION, normalize_for_intent
from supportflow.processors.router.text_features import HashedTfidf
from supportflow.processors.router.train_options import (
    EMBEDDING_C_GRID,
    TEXT_C,
    TEXT_WEIGHT_GRID,
    TrainOptions,
)
from supportflow.schemas.errors import InvalidInputError

__all__ = ["TrainOptions", "calibrate_on_splits", "train_router"]

Vectors = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
LogProba = npt.NDArray[np.float64]


@dataclass
class _Rows:
    """A run's rows: ``fit`` rows choose the settings, ``val`` rows calibrate them, and with ``refit``
    the final heads are fitted on all rows (``texts``, ``x``, ``y``)."""

    texts: list[str]
    x: Vectors
    y: Labels
    fit_texts: list[str]
    x_fit: Vectors
    y_fit: Labels
    val_texts: list[str]
    x_val: Vectors
    y_val: Labels
    refit: bool
    has_validation_set: bool


@dataclass
class _TextView:
    """The n-gram view as fitted on the fit rows, its blend weight, and the blend's held-out scores."""

    tfidf: HashedTfidf | None
    head: LinearHead | None
    weight: float
    margin_scale: float
    combined_log_p: LogProba


@dataclass
class _Calibrations:
    embedding: Calibration
    combined: Calibration
    rows: int
    source: str


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"[router] {message}", file=sys.stderr, flush=True)


def _embed(texts: Sequence[str], progress: bool, what: str) -> Vectors:
    started = time.perf_counter()
    _log(progress, f"embedding {len(texts)} {what} texts ...")
    vectors = get_embedder().encode(list(texts))
    _log(progress, f"embedded {len(texts)} {what} texts in {time.perf_counter() - started:.1f}s")
    return vectors


def _identity(text: str) -> str:
    return text


def train_router(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    val_texts: Sequence[str] | None = None,
    val_labels: Sequence[str] | None = None,
    oos_label: str = "oos",
    target_precision: float = 0.99,
    progress: bool = True,
    vectors: Vectors | None = None,
    val_vectors: Vectors | None = None,
    options: TrainOptions | None = None,
    info: dict[str, object] | None = None,
) -> IntentRouter:
    """Train a router from labelled texts. ``vectors``/``val_vectors`` skip embedding when the caller
    already has them (they must be ``get_embedder().encode`` of the same texts)."""
    options = options or TrainOptions()
    texts, labels = list(texts), list(labels)
    classes = _checked_classes(texts, labels, val_texts, val_labels, oos_label, options)
    ngram = normalize_for_intent if options.normalize_text else _identity
    index = {c: i for i, c in enumerate(classes)}
    started = time.perf_counter()
    x_all = vectors if vectors is not None else _embed(texts, progress, "training")
    y_all = np.array([index[lab] for lab in labels], dtype=np.int64)
    rows = _split_rows(texts, x_all, y_all, index, val_texts, val_labels, val_vectors, options, progress)
    best_c, emb_head = _choose_embedding_head(rows, len(classes), options, progress)
    emb_log_p = emb_head.log_proba(rows.x_val)
    text = _fit_text_view(rows, emb_log_p, ngram, len(classes), options, progress)
    ships_text = text.tfidf is not None and text.weight > 0
    out_of_fold = rows.refit and not rows.has_validation_set and options.calibration_folds > 1
    # Normalised once for both the folds and the refit.
    all_ngram_texts = [ngram(t) for t in rows.texts] if out_of_fold or (rows.refit and ships_text) else []
    calibrations = _calibrate_views(
        rows, emb_log_p, text, all_ngram_texts, classes, oos_label, best_c, out_of_fold, ships_text,
        target_precision, options, progress,
    )  # fmt: skip
    heads = _final_heads(
        rows, text, emb_head, all_ngram_texts, len(classes), best_c, ships_text, options, progress
    )
    router = IntentRouter(
        _router_parts(
            classes, oos_label, heads, text.weight, calibrations, rows, best_c, target_precision, options,
            started, info,
        )
    )  # fmt: skip
    cal = router.calibration
    _log(
        progress,
        f"done in {time.perf_counter() - started:.1f}s: T={cal.temperature:.2f}, "
        f"oos<{cal.oos_threshold:.3f}, auto>={cal.auto_threshold:.3f}, {router.version}",
    )
    return router


def _checked_classes(
    texts: list[str],
    labels: list[str],
    val_texts: Sequence[str] | None,
    val_labels: Sequence[str] | None,
    oos_label: str,
    options: TrainOptions,
) -> list[str]:
    """The sorted class list, after rejecting input no router can be trained from."""
    if len(texts) != len(labels) or not texts:
        raise InvalidInputError(
            f"need equal, non-zero numbers of texts and labels (got {len(texts)}, {len(labels)})"
        )
    if (val_texts is None) != (val_labels is None):
        raise InvalidInputError("pass both val_texts and val_labels, or neither")
    target = options.oos_recall_target
    if target is not None and not 0.0 < target <= 1.0:
        raise InvalidInputError(f"oos recall target must be in (0, 1], got {target}")
    classes = sorted(set(labels) | set(val_labels or []))
    if len([c for c in classes if c != oos_label]) < 2:
        raise InvalidInputError("need at least two in-scope intents to train a router")
    return classes


def _split_rows(
    texts: list[str],
    x_all: Vectors,
    y_all: Labels,
    index: dict[str, int],
    val_texts: Sequence[str] | None,
    val_labels: Sequence[str] | None,
    val_vectors: Vectors | None,
    options: TrainOptions,
    progress: bool,
) -> _Rows:
    """Fit and held-out rows: the validation set when given (embedded here unless ``val_vectors``),
    else a stratified split of the training rows, refitted on all of them afterwards."""
    if val_texts is not None and val_labels is not None:
        val_texts = list(val_texts)
        x_val = val_vectors if val_vectors is not None else _embed(val_texts, progress, "validation")
        y_val = np.array([index[lab] for lab in val_labels], dtype=np.int64)
        rows = _Rows(
            texts, x_all, y_all, texts, x_all, y_all, val_texts, x_val, y_val,
            refit=False, has_validation_set=True,
        )  # fmt: skip
        if options.refit_with_val:  # calibrate on val now; refit later on everything
            rows.refit = True
            rows.texts = texts + val_texts
            rows.x = np.vstack([x_all, x_val])
            rows.y = np.concatenate([y_all, y_val])
    else:
        fit_idx, val_idx = stratified_split(y_all)
        rows = _Rows(
            texts, x_all, y_all,
            [texts[i] for i in fit_idx], x_all[fit_idx], y_all[fit_idx],
            [texts[i] for i in val_idx], x_all[val_idx], y_all[val_idx],
            refit=True, has_validation_set=False,
        )  # fmt: skip
    n_classes = len(index)
    _log(
        progress,
        f"{n_classes} classes, {len(rows.y_fit)} rows to fit, {len(rows.y_val)} held out for calibration",
    )
    return rows


def _choose_embedding_head(
    rows: _Rows, n_classes: int, options: TrainOptions, progress: bool
) -> tuple[float, LinearHead]:
    """The embedding head's C (from the grid unless given) by held-out log-loss, and its head."""
    grid = EMBEDDING_C_GRID if options.embedding_c is None else (options.embedding_c,)
    heads = {c: fit_embedding_head(rows.x_fit, rows.y_fit, n_classes, c) for c in grid}
    scored = {c: nll(h.log_proba(rows.x_val), rows.y_val) for c, h in heads.items()}
    best_c = min(scored, key=lambda c: scored[c])
    _log(progress, f"embedding head C={best_c:g} (held-out NLL {scored[best_c]:.3f})")
    return best_c, heads[best_c]


def _fit_text_view(
    rows: _Rows,
    emb_log_p: LogProba,
    ngram: Callable[[str], str],
    n_classes: int,
    options: TrainOptions,
    progress: bool,
) -> _TextView:
    """The n-gram head fitted on the fit rows, its margin scale, and the blend weight (given, or the
    grid's best held-out log-loss). Without ``options.use_text``: no view, weight 0."""
    if not options.use_text:
        return _TextView(None, None, 0.0, 1.0, emb_log_p)
    _log(progress, "fitting the n-gram head ...")
    fit_ngram_texts = [ngram(t) for t in rows.fit_texts]
    tfidf = HashedTfidf(options.text_features).fit(fit_ngram_texts)
    raw_text_head = fit_head(tfidf.transform(fit_ngram_texts), rows.y_fit, n_classes, TEXT_C, svm=True)
    x_val_text = tfidf.transform([ngram(t) for t in rows.val_texts])
    y_val = rows.y_val
    # SVM margins have no probabilistic scale: fit one on held-out rows (a temperature).
    margin_scale = 1.0 / fit_temperature(raw_text_head.log_proba(x_val_text), y_val)
    text_head = scale_head(raw_text_head, margin_scale)
    text_log_p = text_head.log_proba(x_val_text)

    def blended(w: float) -> LogProba:
        return (1 - w) * emb_log_p + w * text_log_p

    def blend_score(w: float) -> float:
        return nll(np.log(softmax(blended(w), fit_temperature(blended(w), y_val)) + 1e-12), y_val)

    weight = (
        options.text_weight if options.text_weight is not None else min(TEXT_WEIGHT_GRID, key=blend_score)
    )
    _log(progress, f"n-gram weight {weight:g}")
    return _TextView(tfidf, text_head, weight, margin_scale, blended(weight))


def _calibrate_views(
    rows: _Rows,
    emb_log_p: LogProba,
    text: _TextView,
    all_ngram_texts: list[str],
    classes: list[str],
    oos_label: str,
    best_c: float,
    out_of_fold: bool,
    ships_text: bool,
    target_precision: float,
    options: TrainOptions,
    progress: bool,
) -> _Calibrations:
    """Calibrations of the embedding view and the blend: on out-of-fold scores of every training row
    (``out_of_fold``), else on the held-out rows' scores."""
    if not out_of_fold:
        oos_index = classes.index(oos_label) if oos_label in classes else -1
        return _Calibrations(
            calibrate(emb_log_p, rows.y_val, oos_index, target_precision, options),
            calibrate(text.combined_log_p, rows.y_val, oos_index, target_precision, options),
            rows=len(rows.y_val),
            source="validation set" if rows.has_validation_set else "split of training rows",
        )
    _log(progress, f"scoring {options.calibration_folds} folds for calibration ...")
    held_out = fold_routers(
        rows.x, rows.y, all_ngram_texts, classes, oos_label, best_c, ships_text, text.weight,
        text.margin_scale, options,
    )  # fmt: skip
    embedding_cal, combined_cal = calibrate_on_splits(
        held_out, oos_label=oos_label, target_precision=target_precision, options=options
    )
    return _Calibrations(
        embedding_cal,
        combined_cal,
        rows=sum(len(labels) for *_, labels in held_out),
        source=f"{options.calibration_folds} folds of training rows, out of fold",
    )


def _final_heads(
    rows: _Rows,
    text: _TextView,
    emb_head: LinearHead,
    all_ngram_texts: list[str],
    n_classes: int,
    best_c: float,
    ships_text: bool,
    options: TrainOptions,
    progress: bool,
) -> tuple[LinearHead, HashedTfidf | None, LinearHead | None]:
    """The heads the artifact ships: refitted on all rows when the run refits, and no n-gram view
    when its chosen weight is 0 (it did not help on held-out data)."""
    tfidf, text_head = text.tfidf, text.head
    if rows.refit:
        _log(progress, "refitting on all training rows ...")
        emb_head, refit_tfidf, refit_text_head = fit_heads(
            rows.x, rows.y, all_ngram_texts, n_classes, best_c, ships_text, text.margin_scale,
            options.text_features,
        )  # fmt: skip
        if ships_text:
            tfidf, text_head = refit_tfidf, refit_text_head
    if text.weight == 0:
        tfidf, text_head = None, None
    return emb_head, tfidf, text_head


def _router_parts(
    classes: list[str],
    oos_label: str,
    heads: tuple[LinearHead, HashedTfidf | None, LinearHead | None],
    text_weight: float,
    calibrations: _Calibrations,
    rows: _Rows,
    best_c: float,
    target_precision: float,
    options: TrainOptions,
    started: float,
    info: dict[str, object] | None,
) -> RouterParts:
    """What the artifact stores, with the run's provenance (sizes, sources, hyperparameters)."""
    emb_head, tfidf, text_head = heads
    provenance: dict[str, object] = {
        "train_rows": len(rows.texts),
        "calibration_rows": calibrations.rows,
        "calibration_source": calibrations.source,
        "refit_on_all_rows": rows.refit,
        "text_normalization": NORMALIZATION_VERSION if options.normalize_text else None,
        "embedding_C": best_c,
        "text_C": TEXT_C if text_head is not None else None,
        "target_precision": target_precision,
        "train_seconds": round(time.perf_counter() - started, 2),
        **(info or {}),
    }
    return RouterParts(
        classes=classes,
        oos_label=oos_label if oos_label in classes else None,
        embedding_head=emb_head,
        text_head=text_head,
        tfidf=tfidf,
        text_weight=text_weight,
        embedding_calibration=calibrations.embedding,
        # Without the n-gram view, the blend is the embedding view.
        combined_calibration=calibrations.embedding if text_weight == 0 else calibrations.combined,
        text_normalization=NORMALIZATION_VERSION
        if options.normalize_text and text_head is not None
        else None,
        encoder=get_embedder().model_id,
        info=provenance,
    )
