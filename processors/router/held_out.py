"""Calibration on rows the heads did not see: held-out splits, out-of-fold routers, cross-fitting.

Temperature, the out-of-scope cut and the auto-band threshold are all chosen on predictions of rows
left out of the fit: a 20% stratified split, a validation set, or the folds of :func:`fold_routers`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import StratifiedKFold, train_test_split

from supportflow.processors.router.calibration import (
    choose_auto_threshold,
    choose_oos_threshold,
    fit_temperature,
    softmax,
)
from supportflow.processors.router.heads import fit_heads
from supportflow.processors.router.model import Calibration, IntentRouter, RouterParts
from supportflow.processors.router.train_options import SEED, VAL_FRACTION, TrainOptions
from supportflow.schemas.errors import InvalidInputError

# (router fitted without these rows, their vectors, their texts, their labels)
HeldOutSplit = tuple[IntentRouter, npt.NDArray[np.float32], Sequence[str], Sequence[str]]


def calibrate(
    log_p: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    oos_index: int,
    target_precision: float,
    options: TrainOptions,
) -> Calibration:
    """Temperature, out-of-scope cut and auto threshold for one way of scoring held-out rows."""
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
    held_out: Sequence[HeldOutSplit],
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
    embedding_cal = calibrate(np.vstack(emb_parts), y, oos_index, target_precision, options)
    combined_cal = calibrate(np.vstack(blend_parts), y, oos_index, target_precision, options)
    return embedding_cal, combined_cal


def fold_routers(
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
        emb_head, tfidf, text_head = fit_heads(
            x[fit], y[fit], fit_texts, len(classes), c, use_text, margin_scale, options.text_features
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


def stratified_split(y: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
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
