"""Physics kernels: hand-checked values, float32 safety and hypothesis property tests."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxedge.physics import channel, compute, tasks, twin

FAST = settings(max_examples=60, deadline=None)


def rate_np(b, g, p, d, d_ref, lam, n0, psd):
    noise = n0 * (b if psd else 1.0)
    return b * math.log1p(g * p * (d / d_ref) ** (-lam) / noise) / math.log(2.0)


def rate_jax(b, g, p, d, d_ref, lam, n0, psd):
    ln = channel.log_snr(jnp.float32(g), jnp.float32(p), jnp.float32(d), d_ref, lam, jnp.float32(n0),
                         jnp.float32(b), psd)
    return float(channel.shannon_rate(jnp.float32(b), ln))


def test_calibrated_rate_matches_spec_example():
    # Spec §9.4: g = 1.5e-14, P = 1.5 W, d = 300 m, b = 50 kHz, N0 = 1e-16 W total -> 391.0 kbit/s.
    rate = rate_jax(5e4, 1.5e-14, 1.5, 300.0, 300.0, 3.0, 1e-16, False)
    assert abs(rate - 391.0e3) / 391.0e3 < 2e-3


def test_snr_float32_safe_for_tiny_gains_and_noise():
    # Literal Table 1: gains 1e-14, noise 1e-13 W/Hz times b, d^-2 at 300 m: SNR ~ -73 dB.
    for args in [
        (5e4, 1e-14, 1500.0, 300.0, 1.0, 2.0, 1e-13, True),
        (5e4, 1e-14, 1.0, 400.0, 300.0, 3.0, 1e-13, False),
        (1e2, 2e-14, 2e-3, 200.0, 1.0, 4.0, 1e-13, True),
    ]:
        expected = rate_np(*args)
        got = rate_jax(*args)
        assert expected > 0 and got > 0
        assert abs(got - expected) / expected < 1e-4, (args, got, expected)


def test_naive_float32_snr_would_lose_it():
    # Documents why the log domain is needed: under XLA the naive float32 product g P d^-lambda
    # passes through a denormal that is flushed to zero, while the log-domain SNR stays exact.
    naive = jax.jit(lambda g, p, d, n, b: g * p * d**-9.0 / (n * b))
    args = (1e-14, 1e-3, 400.0, 1e-13, 1e2)
    assert float(naive(*map(jnp.float32, args))) == 0.0
    expected = rate_np(1e2, 1e-14, 1e-3, 400.0, 1.0, 9.0, 1e-13, True)
    got = rate_jax(1e2, 1e-14, 1e-3, 400.0, 1.0, 9.0, 1e-13, True)
    assert abs(got - expected) / expected < 1e-4


@FAST
@given(
    b=st.floats(1e2, 1e7), g=st.floats(1e-15, 1e-10), p=st.floats(1e-3, 1e3),
    d=st.floats(10.0, 1e3), lam=st.floats(0.0, 4.0), psd=st.booleans(),
    up=st.floats(1.01, 10.0),
)
def test_rate_nonnegative_and_increasing_in_bandwidth_and_power(b, g, p, d, lam, psd, up):
    r = rate_jax(b, g, p, d, 1.0, lam, 1e-13, psd)
    assert r >= 0 and math.isfinite(r)
    assert rate_jax(b * up, g, p, d, 1.0, lam, 1e-13, psd) >= r * (1 - 1e-4)  # float32: a 1.5e-5 dip was seen at 6 % more bandwidth
    assert rate_jax(b, g, p * up, d, 1.0, lam, 1e-13, psd) >= r * (1 - 1e-4)  # float32: a 1.5e-5 dip was seen at 6 % more bandwidth


@FAST
@given(x=st.floats(1e6, 1e10), f=st.floats(1e8, 1e10), up=st.floats(1.01, 10.0),
       kappa=st.floats(1e-29, 1e-26))
def test_compute_delay_decreases_and_energy_increases_with_frequency(x, f, up, kappa):
    t, t_up = compute.compute_delay(x, f), compute.compute_delay(x, f * up)
    e, e_up = compute.compute_energy(x, f, kappa), compute.compute_energy(x, f * up, kappa)
    assert 0 < t_up < t
    assert 0 < e < e_up


def test_transmit_delay_and_energy():
    assert float(compute.transmit_delay(1e6, 2e6)) == 0.5
    assert float(compute.transmit_delay(0.0, 0.0)) == 0.0
    assert float(compute.transmit_energy(2.0, 0.5)) == 1.0


def test_best_frequency_closed_form_is_0794_fi():
    f_user = 1.5e9
    f = compute.best_frequency(0.5 * f_user, 0.5 / f_user**2, 10e9)
    assert abs(float(f) / f_user - 0.5 ** (1 / 3)) < 1e-5  # (mu_T / 2 mu_E)^(1/3) = 0.7937
    grid = np.linspace(0.1, 2.0, 20001) * f_user
    cost = 0.5 * f_user / grid + 0.5 * grid**2 / f_user**2
    assert abs(grid[np.argmin(cost)] - float(f)) / f_user < 1e-3


def test_kkt_frequencies_bind_and_beat_even_split():
    a = jnp.array([1.0, 2.0, 3.0, 5.0])
    e = jnp.array([1.0, 0.5, 2.0, 1.0])
    mask = jnp.array([True, True, True, False])
    free = np.cbrt(np.asarray(a / (2 * e)))
    cap = 0.5 * free[:3].sum()  # binding
    f = np.asarray(compute.kkt_frequencies(a, e, cap, mask))
    assert f[3] == 0
    np.testing.assert_allclose(f[:3].sum(), cap, rtol=1e-5)
    cost = lambda f: float(np.sum(np.asarray(a[:3]) / f + np.asarray(e[:3]) * f**2))  # noqa: E731
    rng = np.random.default_rng(0)
    for _ in range(200):  # no feasible point on the simplex does better
        w = rng.dirichlet(np.ones(3)) * cap
        assert cost(f[:3]) <= cost(w) + 1e-6
    loose = np.asarray(compute.kkt_frequencies(a, e, 10 * free.sum(), mask))
    np.testing.assert_allclose(loose[:3], free[:3], rtol=1e-5)


def test_sqrt_bandwidth_split_is_optimal():
    w = jnp.array([1.0, 4.0, 9.0])
    b = np.asarray(compute.sqrt_bandwidth_split(w, 6.0, jnp.ones(3, bool)))
    np.testing.assert_allclose(b, [1.0, 2.0, 3.0], rtol=1e-6)


def test_rayleigh_power_is_unit_mean_exponential():
    x, y = jax.random.normal(jax.random.PRNGKey(0), (2, 200_000))
    h = np.asarray(channel.rayleigh_power(x, y))
    assert abs(h.mean() - 1.0) < 0.01 and abs(h.var() - 1.0) < 0.03  # Exp(1): mean 1, var 1
    assert abs(np.mean(h > 1.0) - math.exp(-1.0)) < 0.005


def test_gaussian_fluctuation_is_floored():
    g = channel.gaussian_fluctuation(jnp.array([-100.0, 0.0, 1.0]), 0.1)
    np.testing.assert_allclose(g, [0.1, 1.0, 1.1], rtol=1e-6)


def test_medmnist_catalogue_matches_table2():
    assert tasks.NUM_MEDMNIST_TYPES == 12
    assert tasks.MEDMNIST_FLOPS.min() == np.float32(30.38e6)
    assert tasks.MEDMNIST_FLOPS.max() == np.float32(385.29e6)
    cycles, bits = tasks.medmnist_cycles_and_bits(jnp.array([9, 0]), 1.0, 64.0)
    np.testing.assert_allclose(cycles, [385.29e6, 40.37e6], rtol=1e-6)
    np.testing.assert_allclose(bits, [98304.0, 32768.0])  # 64x64x3x8 (Path), 64x64x1x8


def test_twin_exact_at_zero_sigma_and_bias_is_second_order():
    def delay(freq, bandwidth):
        return 1e8 / freq + 3e4 / bandwidth, 0.0

    inputs = dict(freq=jnp.float32(1e9), bandwidth=jnp.float32(1e5))
    eps = dict(zip(inputs, jax.random.normal(jax.random.PRNGKey(0), (2, 400_000))))
    truth = 1e8 / 1e9 + 3e4 / 1e5
    exact, _ = twin.twin_estimates(delay, inputs, 0.0, eps)
    assert np.allclose(exact, truth)
    bias = []
    for sigma in (0.1, 0.05):
        est, _ = twin.twin_estimates(delay, inputs, sigma, eps)
        bias.append(float(jnp.mean(est)) - truth)
    # E[1/(1+s e)] - 1 ~ s^2: halving sigma shrinks the bias about 4x.
    assert 3.0 < bias[0] / bias[1] < 5.0
    np.testing.assert_allclose(twin.relative_error(jnp.float32(1.1), jnp.float32(1.0)), 0.1, rtol=1e-5)
