"""Training: fit the heads, calibrate on held-out data, choose thresholds, refit on everything.

Why the held-out step: temperature, the out-of-scope cut and the auto-band threshold are all chosen
on predictions the heads did not see. When no validation set is given, a stratified 20% of the
training rows is held out for that, then the heads are refitted on all rows with the chosen settings.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.svm import LinearSVC

from supportflow.processors.embedding import get_embedder
from supportflow.processors.router.calibration import (
    choose_auto_threshold,
    choose_oos_threshold,
    fit_temperature,
    softmax,
)
from supportflow.processors.router.model import Calibration, IntentRouter, LinearHead, RouterParts
from supportflow.processors.router.normalize import NORMALIZATION_VERSION, normalize_for_intent
from supportflow.processors.router.text_features import DEFAULT_FEATURES, HashedTfidf
from supportflow.schemas.errors import InvalidInputError

# Inverse regularisation strengths tried for the embedding head; few-shot data wants weak
# regularisation (high C), large data sets a little more. Chosen by held-out log-loss.
EMBEDDING_C_GRID = (10.0, 30.0, 100.0)
TEXT_C = 0.5  # LinearSVC
TEXT_WEIGHT_GRID = (0.0, 0.3, 0.5, 0.7)
VAL_FRACTION = 0.2
SEED = 20261123


@dataclass(frozen=True)
class TrainOptions:
    use_text: bool = True
    text_features: int = DEFAULT_FEATURES
    text_weight: float | None = None  # None: choose from TEXT_WEIGHT_GRID by held-out log-loss
    embedding_c: float | None = None  # None: choose from EMBEDDING_C_GRID by held-out log-loss
    # Without a validation set, calibration (temperature, oos cut, auto threshold) is fitted on the
    # out-of-fold scores of this many stratified folds of the training rows: every row is held out
    # once. One 20% split held 20 out-of-scope rows of CLINC150, and the oos cut swung with them.
    calibration_folds: int = 5
    oos_weight: float = 0.5
    # Set: the oos cut is the best in-scope accuracy at this out-of-scope recall on held-out rows
    # (the operator's operating point) instead of the oos_weight trade-off.
    oos_recall_target: float | None = None
    min_support: int = 20
    # Replace ids, amounts, e-mails, ... by fixed tokens before the n-gram view (normalize.py); the
    # artifact records it so predict does the same.
    normalize_text: bool = False
    # With a validation set: after calibrating on it, refit the heads on train + validation rows (as
    # the no-validation path does with its split). For callers whose validation rows are a grouped
    # split of their own training data, e.g. augmented variants that must not straddle the split.
    refit_with_val: bool = False


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"[router] {message}", file=sys.stderr, flush=True)


def _embed(texts: Sequence[str], progress: bool, what: str) -> npt.NDArray[np.float32]:
    started = time.perf_counter()
    _log(progress, f"embedding {len(texts)} {what} texts ...")
    vectors = get_embedder().encode(list(texts))
    _log(progress, f"embedded {len(texts)} {what} texts in {time.perf_counter() - started:.1f}s")
    return vectors


def _fit_head(x: Any, y: npt.NDArray[np.int64], n_classes: int, c: float, svm: bool = False) -> LinearHead:
    """Multinomial logistic regression, or a linear SVM (``svm``) whose scores become logits after
    :func:`_scale_head`: on sparse n-grams it fits ~10x faster for the same accuracy."""
    n_features = x.shape[1]
    # Hashed n-grams use a fraction of the buckets: fitting only those is faster and gives the same
    # model (an unused bucket's weight stays 0 under L2 anyway).
    used = np.unique(x.indices) if sp.issparse(x) else np.arange(n_features)
    # liblinear shuffles with a seed: fixed, so the same data gives the same artifact (and version).
    model: LogisticRegression | LinearSVC = (
        LinearSVC(C=c, random_state=SEED) if svm else LogisticRegression(C=c, max_iter=2000)
    )
    model.fit(x[:, used] if sp.issparse(x) else x, y)
    weights = np.zeros((len(model.coef_), n_features), dtype=np.float32)
    weights[:, used] = model.coef_
    # A class absent from this fit (possible on a split) gets a very negative bias, not a crash.
    coef = np.zeros((n_classes, n_features), dtype=np.float32)
    intercept = np.full(n_classes, -30.0, dtype=np.float32)
    if len(model.classes_) == 2:  # sklearn stores one row for binary problems
        coef[model.classes_[1]], intercept[model.classes_[1]] = weights[0], model.intercept_[0]
        intercept[model.classes_[0]] = 0.0
    else:
        coef[model.classes_] = weights
        intercept[model.classes_] = model.intercept_
    return LinearHead(coef, intercept)


def _scale_head(head: LinearHead, scale: float) -> LinearHead:
    """Multiply the logits by ``scale`` (turning SVM margins into log-probabilities) and round to the
    artifact's float16 now, so an in-memory router predicts exactly like the saved one."""
    coef = (head.coef * scale).astype(np.float16).astype(np.float32)
    return LinearHead(coef, (head.intercept * scale).astype(np.float32))


def _nll(log_p: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> float:
    return float(-log_p[np.arange(len(y)), y].mean())


def _calibrate(
    log_p: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    oos_index: int,
    target_precision: float,
    options: TrainOptions,
) -> Calibration:
    temperature = fit_temperature(log_p, y)
    proba = softmax(log_p, temperature)
    pred = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    is_oos = y == oos_index
    predicted_oos = pred == oos_index
    correct = pred == y
    oos_threshold = choose_oos_threshold(
        confidence, predicted_oos, correct, is_oos, options.oos_weight, options.oos_recall_target
    )
    # The auto band only ever holds in-scope predictions that survived the out-of-scope cut.
    kept = ~predicted_oos & (confidence >= oos_threshold)
    auto = choose_auto_threshold(confidence[kept], correct[kept], target_precision, options.min_support)
    return Calibration(temperature, oos_threshold, max(auto, oos_threshold))


def calibrate_on_splits(
    held_out: Sequence[tuple[IntentRouter, npt.NDArray[np.float32], Sequence[str], Sequence[str]]],
    *,
    oos_label: str = "oos",
    target_precision: float = 0.99,
    options: TrainOptions | None = None,
) -> tuple[Calibration, Calibration]:
    """Calibrations (embedding alone, blend) fitted on the union of several held-out splits, each
    ``(router fitted without it, vectors, texts, labels)``: cross-fitting.

    One split's auto threshold swings with which rows it happens to hold: the demo store's build gave
    0.74 to 0.99 over split seeds. K splits score K times the rows, so the threshold rests on all of them.
    """
    options = options or TrainOptions()
    if not held_out:
        raise InvalidInputError("need at least one held-out split")
    classes = held_out[0][0].parts.classes
    index = {c: i for i, c in enumerate(classes)}
    emb_parts, blend_parts, ys = [], [], []
    for router, vectors, texts, labels in held_out:
        if router.parts.classes != classes:
            raise InvalidInputError("every split's router must have the same classes")
        emb, blend = router.raw_log_proba(vectors, texts)
        emb_parts.append(emb)
        blend_parts.append(emb if blend is None else blend)
        ys.append(np.array([index[lab] for lab in labels], dtype=np.int64))
    y = np.concatenate(ys)
    oos_index = index.get(oos_label, -1)
    embedding_cal = _calibrate(np.vstack(emb_parts), y, oos_index, target_precision, options)
    combined_cal = _calibrate(np.vstack(blend_parts), y, oos_index, target_precision, options)
    return embedding_cal, combined_cal


def train_router(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    val_texts: Sequence[str] | None = None,
    val_labels: Sequence[str] | None = None,
    oos_label: str = "oos",
    target_precision: float = 0.99,
    progress: bool = True,
    vectors: npt.NDArray[np.float32] | None = None,
    val_vectors: npt.NDArray[np.float32] | None = None,
    options: TrainOptions | None = None,
    info: dict[str, object] | None = None,
) -> IntentRouter:
    """Train a router from labelled texts. ``vectors``/``val_vectors`` skip embedding when the caller
    already has them (they must be ``get_embedder().encode`` of the same texts)."""
    options = options or TrainOptions()
    texts, labels = list(texts), list(labels)
    if len(texts) != len(labels) or not texts:
        raise InvalidInputError(
            f"need equal, non-zero numbers of texts and labels (got {len(texts)}, {len(labels)})"
        )
    if (val_texts is None) != (val_labels is None):
        raise InvalidInputError("pass both val_texts and val_labels, or neither")
    target = options.oos_recall_target
    if target is not None and not 0.0 < target <= 1.0:
        raise InvalidInputError(f"oos recall target must be in (0, 1], got {target}")
    ngram = normalize_for_intent if options.normalize_text else _identity
    classes = sorted(set(labels) | set(val_labels or []))
    if len([c for c in classes if c != oos_label]) < 2:
        raise InvalidInputError("need at least two in-scope intents to train a router")
    index = {c: i for i, c in enumerate(classes)}
    oos_index = index.get(oos_label, -1)
    started = time.perf_counter()
    x_all = vectors if vectors is not None else _embed(texts, progress, "training")
    y_all = np.array([index[lab] for lab in labels], dtype=np.int64)

    if val_texts is not None and val_labels is not None:
        refit = False
        val_texts = list(val_texts)
        x_val = val_vectors if val_vectors is not None else _embed(val_texts, progress, "validation")
        y_val = np.array([index[lab] for lab in val_labels], dtype=np.int64)
        fit_idx = np.arange(len(texts))
        x_fit, y_fit, fit_texts = x_all, y_all, texts
        if options.refit_with_val:  # calibrate on val now; refit below on everything
            refit = True
            texts, labels = texts + val_texts, labels + list(val_labels)
            x_all = np.vstack([x_all, x_val])
            y_all = np.concatenate([y_all, y_val])
    else:
        refit = True
        fit_idx, val_idx = _stratified_split(y_all)
        x_fit, y_fit, fit_texts = x_all[fit_idx], y_all[fit_idx], [texts[i] for i in fit_idx]
        x_val, y_val, val_texts = x_all[val_idx], y_all[val_idx], [texts[i] for i in val_idx]
    _log(
        progress, f"{len(classes)} classes, {len(fit_idx)} rows to fit, {len(y_val)} held out for calibration"
    )

    grid = EMBEDDING_C_GRID if options.embedding_c is None else (options.embedding_c,)
    heads = {c: _scale_head(_fit_head(x_fit, y_fit, len(classes), c), 1.0) for c in grid}
    scored = {c: _nll(h.log_proba(x_val), y_val) for c, h in heads.items()}
    best_c = min(scored, key=lambda c: scored[c])
    emb_head = heads[best_c]
    emb_log_p = emb_head.log_proba(x_val)
    _log(progress, f"embedding head C={best_c:g} (held-out NLL {scored[best_c]:.3f})")

    tfidf, text_head, text_weight, margin_scale = None, None, 0.0, 1.0
    combined_log_p = emb_log_p
    if options.use_text:
        _log(progress, "fitting the n-gram head ...")
        fit_ngram_texts = [ngram(t) for t in fit_texts]
        tfidf = HashedTfidf(options.text_features).fit(fit_ngram_texts)
        raw_text_head = _fit_head(tfidf.transform(fit_ngram_texts), y_fit, len(classes), TEXT_C, svm=True)
        x_val_text = tfidf.transform([ngram(t) for t in val_texts])
        # SVM margins have no probabilistic scale: fit one on held-out rows (a temperature).
        margin_scale = 1.0 / fit_temperature(raw_text_head.log_proba(x_val_text), y_val)
        text_head = _scale_head(raw_text_head, margin_scale)
        text_log_p = text_head.log_proba(x_val_text)

        def blended(w: float) -> npt.NDArray[np.float64]:
            return (1 - w) * emb_log_p + w * text_log_p

        def blend_score(w: float) -> float:
            return _nll(np.log(softmax(blended(w), fit_temperature(blended(w), y_val)) + 1e-12), y_val)

        text_weight = (
            options.text_weight if options.text_weight is not None else min(TEXT_WEIGHT_GRID, key=blend_score)
        )
        combined_log_p = blended(text_weight)
        _log(progress, f"n-gram weight {text_weight:g}")

    ships_text = tfidf is not None and text_weight > 0
    out_of_fold = refit and val_labels is None and options.calibration_folds > 1
    # Normalised once for both the folds and the refit.
    all_ngram_texts = [ngram(t) for t in texts] if out_of_fold or (refit and ships_text) else []
    calibration_rows = len(y_val)
    calibration_source = "validation set" if val_labels is not None else "split of training rows"
    if out_of_fold:
        _log(progress, f"scoring {options.calibration_folds} folds for calibration ...")
        held_out = _fold_routers(
            x_all, y_all, all_ngram_texts, classes, oos_label, best_c, ships_text, text_weight,
            margin_scale, options,
        )  # fmt: skip
        embedding_cal, combined_cal = calibrate_on_splits(
            held_out, oos_label=oos_label, target_precision=target_precision, options=options
        )
        calibration_rows = sum(len(labels) for *_, labels in held_out)
        calibration_source = f"{options.calibration_folds} folds of training rows, out of fold"
    else:
        embedding_cal = _calibrate(emb_log_p, y_val, oos_index, target_precision, options)
        combined_cal = _calibrate(combined_log_p, y_val, oos_index, target_precision, options)

    if refit:
        _log(progress, "refitting on all training rows ...")
        emb_head, refit_tfidf, refit_text_head = _fit_heads(
            x_all, y_all, all_ngram_texts, len(classes), best_c, ships_text, margin_scale, options
        )
        if ships_text:
            tfidf, text_head = refit_tfidf, refit_text_head
    if text_weight == 0:  # the n-gram view did not help on held-out data: do not ship it
        tfidf, text_head = None, None
        combined_cal = embedding_cal

    provenance: dict[str, object] = {
        "train_rows": len(texts),
        "calibration_rows": calibration_rows,
        "calibration_source": calibration_source,
        "refit_on_all_rows": refit,
        "text_normalization": NORMALIZATION_VERSION if options.normalize_text else None,
        "embedding_C": best_c,
        "text_C": TEXT_C if text_head is not None else None,
        "target_precision": target_precision,
        "train_seconds": round(time.perf_counter() - started, 2),
        **(info or {}),
    }
    parts = RouterParts(
        classes=classes,
        oos_label=oos_label if oos_label in index else None,
        embedding_head=emb_head,
        text_head=text_head,
        tfidf=tfidf,
        text_weight=text_weight,
        embedding_calibration=embedding_cal,
        combined_calibration=combined_cal,
        text_normalization=NORMALIZATION_VERSION
        if options.normalize_text and text_head is not None
        else None,
        encoder=get_embedder().model_id,
        info=provenance,
    )
    router = IntentRouter(parts)
    cal = router.calibration
    _log(
        progress,
        f"done in {time.perf_counter() - started:.1f}s: T={cal.temperature:.2f}, "
        f"oos<{cal.oos_threshold:.3f}, auto>={cal.auto_threshold:.3f}, {router.version}",
    )
    return router


def _fold_routers(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    ngram_texts: list[str],
    classes: list[str],
    oos_label: str,
    c: float,
    use_text: bool,
    text_weight: float,
    margin_scale: float,
    options: TrainOptions,
) -> list[tuple[IntentRouter, npt.NDArray[np.float32], list[str], list[str]]]:
    """One router per stratified fold, fitted without it with the settings already chosen, and the
    fold's rows: what :func:`calibrate_on_splits` scores. Texts are already n-gram-normalised.
    Rows of classes too small to split stay in every fit."""
    k = options.calibration_folds
    counts = np.bincount(y, minlength=len(classes))
    foldable = np.flatnonzero(counts[y] >= k)
    always_fit = np.flatnonzero(counts[y] < k)
    held_out = []
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=SEED).split(foldable, y[foldable])
    for fit_pos, held_pos in folds:
        fit, held = np.concatenate([foldable[fit_pos], always_fit]), foldable[held_pos]
        fit_texts = [ngram_texts[i] for i in fit] if use_text else []
        emb_head, tfidf, text_head = _fit_heads(
            x[fit], y[fit], fit_texts, len(classes), c, use_text, margin_scale, options
        )
        router = IntentRouter(
            RouterParts(
                classes=classes, oos_label=oos_label if oos_label in classes else None,
                embedding_head=emb_head, text_head=text_head, tfidf=tfidf,
                text_weight=text_weight if use_text else 0.0,
            )
        )  # fmt: skip
        held_out.append((router, x[held], [ngram_texts[i] for i in held], [classes[i] for i in y[held]]))
    return held_out


def _fit_heads(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    ngram_texts: list[str],
    n_classes: int,
    c: float,
    use_text: bool,
    margin_scale: float,
    options: TrainOptions,
) -> tuple[LinearHead, HashedTfidf | None, LinearHead | None]:
    """The embedding head and, with ``use_text``, the n-gram head and its features, fitted on these
    rows with the settings already chosen (C, the n-gram margin scale)."""
    emb_head = _scale_head(_fit_head(x, y, n_classes, c), 1.0)
    if not use_text:
        return emb_head, None, None
    tfidf = HashedTfidf(options.text_features).fit(ngram_texts)
    raw = _fit_head(tfidf.transform(ngram_texts), y, n_classes, TEXT_C, svm=True)
    return emb_head, tfidf, _scale_head(raw, margin_scale)


def _identity(text: str) -> str:
    return text


def _stratified_split(y: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Hold out ~20% per class; classes with a single row stay entirely in the fitting part."""
    idx = np.arange(len(y))
    counts = np.bincount(y)
    splittable = counts[y] >= 2
    n, k = int(splittable.sum()), int((counts >= 2).sum())
    # Stratification needs at least one held-out row per class and one left to fit.
    n_val = min(max(math.ceil(VAL_FRACTION * n), k), n - k)
    fit_part, val_part = train_test_split(
        idx[splittable], test_size=n_val, stratify=y[splittable], random_state=SEED
    )
    return np.sort(np.concatenate([fit_part, idx[~splittable]])), np.sort(val_part)
