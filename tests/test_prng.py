"""`jaxedge.prng`: its fused threefry draws are bit-identical to jax's, and every PRNG option draws the same
distributions as the default threefry (two-sample KS tests on the envs' own step draws)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import jaxedge
from jaxedge import prng


def test_draws_are_bit_identical_to_jax_random():
    """Raw and typed threefry keys, one key and vmapped per-env keys, odd sizes, array bounds."""
    for key in (jax.random.PRNGKey(3), jax.random.key(3)):
        for shape in [(), (1,), (8, 3, 2), (3, 4, 20), (1001,)]:
            assert np.array_equal(prng.uniform(key, shape), jax.random.uniform(key, shape))
            assert np.array_equal(prng.normal(key, shape), jax.random.normal(key, shape))
    keys = jax.random.split(jax.random.PRNGKey(11), 64)
    ours = jax.jit(jax.vmap(lambda k: prng.uniform(k, (5, 48))))(keys)
    assert np.array_equal(ours, jax.vmap(lambda k: jax.random.uniform(k, (5, 48)))(keys))
    key = jax.random.PRNGKey(3)
    low, high = np.zeros((8, 3, 2), np.float32), np.full((8, 3, 2), 2.5, np.float32)
    assert np.array_equal(prng.uniform(key, (8, 3, 2), jnp.float32, low, high),
                          jax.random.uniform(key, (8, 3, 2), jnp.float32, low, high))


def test_threefry_hash_matches_jax_bits_and_split():
    key = jax.random.PRNGKey(2026)
    assert np.array_equal(prng._bits(key, 4099), jax.random.bits(key, (4099,), jnp.uint32))
    for num in (2, 3, 64):
        assert np.array_equal(prng.split(key, num), jax.random.split(key, num))
    keys = jax.random.split(key, 16)
    assert np.array_equal(jax.jit(jax.vmap(prng.split))(keys), jax.vmap(jax.random.split)(keys))
    typed = jax.random.key(5)
    assert np.array_equal(jax.random.key_data(prng.split(typed, 3)), jax.random.key_data(jax.random.split(typed, 3)))


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
