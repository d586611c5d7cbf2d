"""McNemar, the bootstrap and the length buckets against small cases worked out by hand."""

import math

import numpy as np
import pytest

from labreport.core import stats as analysis


def decisions_to_probabilities(decisions):
    return np.where(np.array(decisions) == 1, 0.9, 0.1)


def test_mcnemar_exact_small_case():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    a = decisions_to_probabilities([1, 1, 1, 1, 0, 0, 0, 1])  # wrong on the last
    b = decisions_to_probabilities([0, 0, 0, 1, 0, 0, 0, 0])  # wrong on the first three
    result = analysis.mcnemar(labels, a, b)
    assert (result["a_only"], result["b_only"]) == (3, 1)
    # Two-sided exact binomial, n = 4 discordant, k = 1: 2 * (C(4,0) + C(4,1)) / 16 = 0.625
    assert result["method"] == "exact"
    assert result["p_value"] == pytest.approx(0.625)


def test_mcnemar_chi_square_large_case():
    labels = np.ones(100, dtype=int)
    a = decisions_to_probabilities([1] * 40 + [0] * 60)
    b = decisions_to_probabilities([0] * 30 + [1] * 10 + [0] * 60)
    result = analysis.mcnemar(labels, a, b)
    assert (result["a_only"], result["b_only"]) == (30, 0)
    assert result["method"] == "chi2_corrected"
    assert result["statistic"] == pytest.approx((30 - 1) ** 2 / 30)
    assert result["p_value"] == pytest.approx(math.erfc(math.sqrt(result["statistic"] / 2)))


def test_mcnemar_p_value_matches_scipy():
    import scipy.stats as scipy_stats
    labels = np.ones(100, dtype=int)
    a = decisions_to_probabilities([1] * 40 + [0] * 60)
    b = decisions_to_probabilities([0] * 30 + [1] * 10 + [0] * 60)
    result = analysis.mcnemar(labels, a, b)
    assert result["p_value"] == pytest.approx(scipy_stats.chi2.sf(result["statistic"], 1))


def test_mcnemar_identical_models():
    labels = np.array([1, 0, 1])
    p = decisions_to_probabilities([1, 1, 0])
    assert analysis.mcnemar(labels, p, p)["p_value"] == 1.0


def test_bootstrap_interval_contains_the_difference_and_is_seeded():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    a = np.where(rng.random(500) < 0.8, labels, 1 - labels) * 0.8 + 0.1
    b = np.where(rng.random(500) < 0.7, labels, 1 - labels) * 0.8 + 0.1
    first = analysis.bootstrap_difference(labels, a, b, seed=1, resamples=500)
    assert first["low"] <= first["difference"] <= first["high"]
    assert first == analysis.bootstrap_difference(labels, a, b, seed=1, resamples=500)
    identical = analysis.bootstrap_difference(labels, a, a, seed=1, resamples=200)
    assert identical["low"] == identical["high"] == identical["difference"] == 0


def test_accuracy_by_length_buckets():
    labels = np.array([1, 1, 0, 0])
    lengths = np.array([50, 150, 250, 900])
    p = decisions_to_probabilities([1, 0, 0, 1])
    result = analysis.accuracy_by_length(labels, lengths, {"gru": p})
    assert result["counts"] == [1, 1, 1, 0, 1]
    assert result["accuracy"]["gru"] == [1.0, 0.0, 1.0, None, 0.0]


def test_disagreements_only_where_decisions_differ():
    labels = np.array([1, 0, 1, 0])
    found = analysis.disagreements(labels, np.array([5, 5, 5, 5]), ["a", "b", "c", "d"],
                                   {"gru": decisions_to_probabilities([1, 0, 1, 1]),
                                    "lstm": decisions_to_probabilities([1, 1, 0, 1])}, seed=0)
    assert [d["index"] for d in found] == [1, 2]


def test_spread_is_mean_and_sample_standard_deviation():
    s = analysis.spread([0.8, 0.9, 1.0])
    assert s["mean"] == pytest.approx(0.9)
    assert s["sd"] == pytest.approx(0.1)  # sqrt(((-.1)² + 0 + .1²) / 2)
    assert s["values"] == [0.8, 0.9, 1.0]
    assert analysis.spread([0.5]) == {"mean": 0.5, "sd": None, "values": [0.5]}


def test_across_seeds_summarises_every_run():
    runs = [
        {"seed": 42, "test": {"accuracy": 0.8, "loss": 0.4}, "best_epoch": 2, "epoch_seconds": [9.0, 3.0, 5.0]},
        {"seed": 43, "test": {"accuracy": 0.9, "loss": 0.2}, "best_epoch": 4, "epoch_seconds": [8.0, 2.0]},
    ]
    summary = analysis.across_seeds(runs)
    assert summary["runs"] == 2 and summary["seeds"] == [42, 43]
    assert summary["test_accuracy"]["mean"] == pytest.approx(0.85)
    assert summary["test_loss"]["sd"] == pytest.approx(0.1414213562)
    assert summary["best_epoch"]["mean"] == 3
    assert summary["seconds_per_epoch"]["values"] == [4.0, 2.0]  # medians after the first epoch


def test_sign_flip_test_by_hand():
    # Three runs, all +1: of the 8 sign patterns only ++ + and - - - reach |mean| 1, so p = 2/8.
    assert analysis.sign_flip_test([1.0, 1.0, 1.0]) == pytest.approx(0.25)
    assert analysis.sign_flip_test([1.0, -1.0]) == pytest.approx(1.0)
    assert analysis.sign_flip_test([0.02] * 30) < 0.001
