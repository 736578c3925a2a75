"""Calibration and threshold selection on synthetic data where the right answer is known."""

import numpy as np

from supportflow.processors.router.calibration import (
    choose_auto_threshold,
    choose_oos_threshold,
    expected_calibration_error,
    fit_temperature,
    softmax,
)

RNG = np.random.default_rng(0)


def _overconfident_logits(n=4000, k=5, true_t=3.0):
    """Labels drawn from softmax(logits / true_t): a model whose logits are true_t times too sharp."""
    logits = RNG.normal(0, 4, size=(n, k))
    p = softmax(logits, true_t)
    labels = np.array([RNG.choice(k, p=row) for row in p])
    return logits, labels


def test_fit_temperature_recovers_known_overconfidence():
    logits, labels = _overconfident_logits()
    assert abs(fit_temperature(logits, labels) - 3.0) < 0.3


def test_fit_temperature_lowers_ece():
    logits, labels = _overconfident_logits()

    def ece(t):
        p = softmax(logits, t)
        return expected_calibration_error(p.max(1), p.argmax(1) == labels)

    assert ece(fit_temperature(logits, labels)) < ece(1.0) / 3


def test_ece_zero_for_perfectly_calibrated_bins_and_large_for_overconfident():
    conf = np.full(1000, 0.8)
    correct = np.arange(1000) < 800
    assert expected_calibration_error(conf, correct) < 1e-9
    assert abs(expected_calibration_error(np.full(1000, 0.99), correct) - 0.19) < 1e-9


def test_choose_auto_threshold_finds_cut_with_target_precision():
    # Confidence in [0,1]; probability of being correct equals confidence (calibrated).
    conf = RNG.uniform(0, 1, 20000)
    correct = RNG.uniform(0, 1, 20000) < conf
    t = choose_auto_threshold(conf, correct, target_precision=0.95)
    kept = conf >= t
    assert correct[kept].mean() >= 0.95
    # Precision above t is ~(1+t)/2 for this distribution: the cut is near 0.9, not needlessly high.
    assert 0.85 < t < 0.93


def test_choose_auto_threshold_unreachable_target_closes_auto_band():
    conf = RNG.uniform(0, 1, 500)
    correct = np.zeros(500, dtype=bool)
    assert choose_auto_threshold(conf, correct, 0.99) == 1.0


def test_choose_auto_threshold_ignores_unsupported_top_mistake():
    # One wrong answer at the very top must not close the band when 1000 right ones follow.
    conf = np.linspace(1.0, 0.5, 1001)
    correct = np.ones(1001, dtype=bool)
    correct[0] = False
    t = choose_auto_threshold(conf, correct, 0.99, min_support=20)
    assert t == conf[-1]


def test_choose_auto_threshold_requires_every_higher_cut_to_hold():
    # A patch of errors high up: no cut below it reaches the target, so the band stays above it.
    conf = np.linspace(1.0, 0.0, 1000)
    correct = np.ones(1000, dtype=bool)
    correct[100:130] = False  # 30 errors at confidence ~0.88
    t = choose_auto_threshold(conf, correct, 0.99, min_support=20)
    assert t >= conf[100] and correct[conf >= t].mean() >= 0.99


def test_choose_oos_threshold_separates_low_confidence_oos():
    conf = np.concatenate([RNG.uniform(0.6, 1.0, 900), RNG.uniform(0.0, 0.5, 100)])
    is_oos = np.arange(1000) >= 900
    correct = ~is_oos
    t = choose_oos_threshold(conf, np.zeros(1000, dtype=bool), correct, is_oos)
    assert 0.5 <= t <= 0.61


def _overlapping_oos_scores():
    # In-scope confidence spreads over 0.3-1.0, out-of-scope over 0.0-0.6: every cut trades one
    # against the other. 1 in 10 in-scope rows is wrong, independent of confidence.
    conf = np.concatenate([np.linspace(0.3, 1.0, 900), np.linspace(0.0, 0.6, 100)])
    is_oos = np.arange(1000) >= 900
    correct = ~is_oos & (np.arange(1000) % 10 != 0)
    return conf, is_oos, correct


def _at_cut(t, conf, is_oos, correct):
    rejected = conf < t
    return (correct & ~rejected)[~is_oos].sum() / (~is_oos).sum(), rejected[is_oos].mean()


def test_choose_oos_threshold_with_target_recall_takes_the_best_cut_that_reaches_it():
    conf, is_oos, correct = _overlapping_oos_scores()
    none = np.zeros(1000, dtype=bool)
    t = choose_oos_threshold(conf, none, correct, is_oos, target_recall=0.9)
    _, recall = _at_cut(t, conf, is_oos, correct)
    assert recall >= 0.9
    lower = conf[conf < t].max()  # the next cut down misses the target
    assert _at_cut(lower, conf, is_oos, correct)[1] < 0.9
    assert t != choose_oos_threshold(conf, none, correct, is_oos)  # not the default trade-off


def test_choose_oos_threshold_with_unreachable_target_takes_the_highest_recall():
    conf, is_oos, correct = _overlapping_oos_scores()
    conf[900] = 1.0  # one out-of-scope row as confident as the best in-scope one: no cut catches it
    t = choose_oos_threshold(conf, np.zeros(1000, dtype=bool), correct, is_oos, target_recall=1.0)
    assert _at_cut(t, conf, is_oos, correct)[1] == 0.99


def test_choose_oos_threshold_without_oos_examples_rejects_nothing():
    conf = RNG.uniform(0, 1, 100)
    assert choose_oos_threshold(conf, np.zeros(100, bool), np.ones(100, bool), np.zeros(100, bool)) == 0.0


def test_choose_auto_threshold_does_not_average_over_confident_mistakes():
    conf = np.linspace(1.0, 0.0, 3000)
    correct = np.ones(3000, dtype=bool)
    correct[150:160] = False  # the whole band [0, 1] is still 99.7% precise, [0.95, 1] only 94%
    t = choose_auto_threshold(conf, correct, 0.99, min_support=20)
    assert t >= conf[150]  # at most the first mistake (150/151 = 99.3%) is inside


def test_choose_auto_threshold_needs_evidence_not_luck():
    # 30 correct predictions are not evidence of 99% precision; 300 are.
    assert choose_auto_threshold(np.linspace(1, 0.5, 30), np.ones(30, bool), 0.99) == 1.0
    assert choose_auto_threshold(np.linspace(1, 0.5, 300), np.ones(300, bool), 0.99) == 0.5
