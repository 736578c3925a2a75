"""Turning classifier scores into probabilities that mean what they say, and picking thresholds from them.

Everything here works on held-out (validation) predictions only: a threshold chosen on the data the
model was fitted on is optimistic by construction.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Temperature search range: below 0.05 or above 20 the fit is degenerate (one class or uniform).
_LOG_T_GRID = np.linspace(np.log(0.05), np.log(20.0), 121)


def softmax(logits: FloatArray, temperature: float = 1.0) -> FloatArray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def fit_temperature(logits: FloatArray, labels: npt.NDArray[np.int64]) -> float:
    """Temperature scaling (Guo et al. 2017): the one scalar T minimising validation NLL.

    A coarse log-grid then a local refinement; one parameter, so it cannot change which class wins,
    only how sure the model claims to be.
    """
    if len(labels) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        p = softmax(logits, float(np.exp(log_t)))
        return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None)).mean())

    best = min(_LOG_T_GRID, key=nll)
    step = _LOG_T_GRID[1] - _LOG_T_GRID[0]
    fine = np.linspace(best - step, best + step, 41)
    return float(np.exp(min(fine, key=nll)))


def expected_calibration_error(
    confidence: FloatArray, correct: npt.NDArray[np.bool_], bins: int = 15
) -> float:
    """ECE with equal-width bins: the average |accuracy - confidence| weighted by bin size."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return total / len(confidence)


def reliability_bins(
    confidence: FloatArray, correct: npt.NDArray[np.bool_], bins: int = 10
) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) per non-empty equal-width bin, for reliability diagrams."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            out.append((float(confidence[mask].mean()), float(correct[mask].mean()), int(mask.sum())))
    return out


def wilson_lower_bound(hits: FloatArray, n: FloatArray, z: float) -> FloatArray:
    """Lower end of the Wilson score interval for a proportion hits/n (z standard deviations)."""
    p = hits / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    out: FloatArray = (centre - spread) / (1 + z * z / n)
    return out


def choose_auto_threshold(
    confidence: FloatArray,
    correct: npt.NDArray[np.bool_],
    target_precision: float,
    min_support: int = 20,
    z: float = 1.0,
) -> float:
    """Lowest confidence t such that the band [t, 1] demonstrably reaches the target precision.

    "Demonstrably": the Wilson lower bound (``z`` = 1, ~84% one-sided) of the band's validation
    precision must reach the target, so a handful of lucky rows cannot open the band (at 99% it takes
    about 100 correct predictions in a row). And no higher band may do worse than the target on its
    own: that keeps a good average from hiding a patch of confident mistakes. To veto, a higher band
    needs enough rows that a single mistake alone cannot sink it (100 at 99%). Returns 1.0 ("nothing
    is automatic") when no cut qualifies.
    """
    order = np.argsort(-confidence, kind="stable")
    conf_sorted = confidence[order]
    counts = np.arange(1, len(order) + 1, dtype=np.float64)
    hits = np.cumsum(correct[order]).astype(np.float64)
    precision = hits / counts
    lower = wilson_lower_bound(hits, counts, z)
    veto_support = max(min_support, math.ceil(1.0 / max(1.0 - target_precision, 1e-9)))
    worst_above = np.minimum.accumulate(np.where(counts >= veto_support, precision, 1.0))
    best = 1.0
    for i in range(len(order)):
        # Only cut between distinct confidences, so ties are all in or all out.
        if i + 1 < len(order) and conf_sorted[i + 1] == conf_sorted[i]:
            continue
        if worst_above[i] < target_precision:
            break
        if counts[i] >= min_support and lower[i] >= target_precision:
            best = float(conf_sorted[i])
    return best


def choose_oos_threshold(
    confidence: FloatArray,
    predicted_oos: npt.NDArray[np.bool_],
    correct: npt.NDArray[np.bool_],
    is_oos: npt.NDArray[np.bool_],
    oos_weight: float = 0.5,
    target_recall: float | None = None,
) -> float:
    """Confidence below which an in-scope prediction is turned into out-of-scope.

    With out-of-scope examples in validation: maximise in-scope accuracy + ``oos_weight`` x
    out-of-scope recall (both matter: a rejected in-scope ticket loses an automation, an accepted
    out-of-scope one risks a wrong answer; it is weighted below 1 because real traffic is mostly in
    scope and an out-of-scope ticket that slips through still meets the auto-band threshold). With
    ``target_recall``, the operator names the operating point instead: the cut with the best
    in-scope accuracy among those whose out-of-scope recall reaches it (if none does, the one with
    the highest recall). Without out-of-scope examples there is nothing to trade against and nothing
    is rejected: the auto-band threshold and the policy's minimum confidence still keep unsure
    tickets from going out unreviewed.
    """
    if not is_oos.any() or is_oos.all():
        return 0.0
    n_in, n_oos = int((~is_oos).sum()), int(is_oos.sum())
    cuts = np.unique(np.concatenate([[0.0], confidence]))
    in_acc, recall = np.empty(len(cuts)), np.empty(len(cuts))
    for i, t in enumerate(cuts):
        final_oos = predicted_oos | (confidence < t)
        in_acc[i] = (correct & ~final_oos & ~is_oos).sum() / n_in
        recall[i] = (final_oos & is_oos).sum() / n_oos
    if target_recall is None:
        score = in_acc + oos_weight * recall
        return float(cuts[int(np.argmax(score >= score.max() - 1e-12))])  # the lowest best cut
    eligible = recall >= target_recall - 1e-12
    if not eligible.any():
        eligible = recall == recall.max()
    candidates = np.flatnonzero(eligible)
    return float(cuts[candidates[int(np.argmax(in_acc[candidates]))]])  # argmax: the lowest of equals
