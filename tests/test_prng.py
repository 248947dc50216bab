"""`jaxedge.prng`: flat draws are bit-identical to jax's, and every PRNG option draws the same
distributions as the default threefry (two-sample KS tests on the envs' own step draws)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import jaxedge
from jaxedge import prng


def test_flat_draws_are_bit_identical_to_jax_random():
    key = jax.random.PRNGKey(3)
    for shape in [(8, 3, 2), (3, 4, 20)]:
        assert np.array_equal(prng.uniform(key, shape), jax.random.uniform(key, shape))
        assert np.array_equal(prng.normal(key, shape), jax.random.normal(key, shape))
    low, high = np.zeros((8, 3, 2), np.float32), np.full((8, 3, 2), 2.5, np.float32)
    assert np.array_equal(prng.uniform(key, (8, 3, 2), jnp.float32, low, high),
                          jax.random.uniform(key, (8, 3, 2), jnp.float32, low, high))


def test_unknown_prng_is_refused():
    with pytest.raises(ValueError, match="unknown PRNG"):
        prng.configure("mersenne")


# env name -> StepDraws fields compared (continuous draws; each field's values pooled over envs)
FIELDS = {"dt_inference": ("fading", "twin_eps"), "slicing": ("fade_up", "fade_down"), "v2x": ("bits", "gain")}
N_ENVS = 512


def _draws(name, impl):
    env = jaxedge.make(name)
    params = env.default_params
    keys = jax.random.split(jax.random.key(7, impl=impl), N_ENVS)
    draws = jax.jit(jax.vmap(env.sample_step, in_axes=(0, None)))(keys, params)
    return {f: np.asarray(getattr(draws, f), np.float64).reshape(-1) for f in FIELDS[name]}


@pytest.mark.parametrize("impl", ["unsafe_rbg", pytest.param("philox2x32", marks=pytest.mark.slow)])
def test_other_prng_draws_the_same_distributions(impl):
    """Each env's step draws under ``impl`` vs threefry: two-sample KS p > 1e-3 for every field
    (different streams, same distributions), and the streams do differ."""
    for name in FIELDS:
        ref, other = _draws(name, "threefry2x32"), _draws(name, impl)
        for field in FIELDS[name]:
            assert not np.array_equal(ref[field], other[field])
            p = stats.ks_2samp(ref[field], other[field]).pvalue
            assert p > 1e-3, f"{name}.{field} under {impl}: KS p = {p:.2g}"


@pytest.mark.slow  # a second jax process
def test_unrolled_threefry_is_bit_identical_in_a_fresh_process():
    """The CPU lowering switch changes no number (run in a subprocess: it is process-global)."""
    import subprocess
    import sys

    code = ("import jax, numpy as np, jaxedge; from jaxedge import prng; env = jaxedge.make('dt_inference');"
            "f = lambda: np.asarray(jax.jit(lambda k: env.sample_step(k, env.default_params).twin_eps)"
            "(jax.random.PRNGKey(5)));"
            "a = f(); jax.clear_caches(); prng.configure('threefry2x32_unrolled'); b = f();"
            "print(np.array_equal(a, b))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("True")
