"""The one statistics helper: exact Student-t quantiles, n = 1 has no CI, non-finite values dropped."""

import math

import numpy as np
import pytest

from algos.common import stats

# Two-sided 95 % Student t quantiles from standard tables.
T975 = {1: 12.7062, 2: 4.3027, 4: 2.7764, 9: 2.2622, 30: 2.0423, 120: 1.9799}


@pytest.mark.parametrize("df, expected", sorted(T975.items()))
def test_t_quantile_matches_the_tables(df, expected):
    assert stats.t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)


def test_t_quantile_tends_to_the_normal_quantile():
    assert stats.t_quantile(0.975, 1e6) == pytest.approx(1.95996, abs=1e-4)
    assert stats.t_cdf(0.0, 3) == pytest.approx(0.5)


def test_mean_ci_is_t_times_standard_error():
    values = [1.2, 1.4, 1.3, 1.9, 0.7]
    got = stats.mean_ci(values)
    sem = np.std(values, ddof=1) / math.sqrt(5)
    assert got["n"] == 5 and got["mean"] == pytest.approx(1.3)
    assert got["ci95"] == pytest.approx(2.7764 * sem, rel=1e-4)


def test_one_run_has_no_ci_and_non_finite_values_are_dropped():
    assert stats.mean_ci([3.0]) == {"mean": 3.0, "ci95": None, "std": None, "n": 1}
    assert stats.mean_ci([3.0, float("nan"), float("inf")])["n"] == 1
    assert stats.mean_ci([])["n"] == 0
    assert stats.band([3.0]) == (3.0, 3.0, 3.0)
    assert stats.fmt(stats.mean_ci([3.0])) == "3 (n=1, no CI)"


def test_summarise_averages_trailing_axes_first():
    got = stats.summarise({"cost": np.array([[1.0, 3.0], [2.0, 4.0], [3.0, 5.0]])})
    assert got["cost"]["n"] == 3 and got["cost"]["mean"] == pytest.approx(3.0)


def test_t_quantile_refuses_bad_arguments():
    with pytest.raises(ValueError, match="0.5 < p < 1"):
        stats.t_quantile(0.3, 4)
