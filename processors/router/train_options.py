"""What a router training run can be told, and the fixed hyperparameters it searches over."""

from __future__ import annotations

from dataclasses import dataclass

from supportflow.processors.router.text_features import DEFAULT_FEATURES

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
