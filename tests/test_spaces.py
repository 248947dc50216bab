"""Spaces: samples are contained, out-of-range elements are not, bad definitions raise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxedge import spaces

KEY = jax.random.PRNGKey(0)


def test_discrete_covers_all_values_and_rejects_outside():
    sp = spaces.Discrete(5, shape=(2000,))
    x = np.asarray(sp.sample(KEY))
    assert set(np.unique(x)) == set(range(5))
    assert bool(sp.contains(x))
    assert not bool(sp.contains(jnp.full((2000,), 5)))
    assert not bool(sp.contains(jnp.zeros((3,), jnp.int32)))
    with pytest.raises(ValueError):
        spaces.Discrete(0)


def test_multidiscrete_respects_each_head():
    sp = spaces.MultiDiscrete([2, 7], shape=(500, 2))
    x = np.asarray(sp.sample(KEY))
    assert x[:, 0].max() == 1 and x[:, 1].max() == 6 and x.min() == 0
    assert bool(sp.contains(x))
    assert not bool(sp.contains(jnp.array([[1, 7]] * 500)))
    with pytest.raises(ValueError):
        spaces.MultiDiscrete([3, 0])


def test_box_bounds():
    sp = spaces.Box(-1.0, 2.0, (1000,))
    x = np.asarray(sp.sample(KEY))
    assert x.min() >= -1 and x.max() <= 2 and x.std() > 0.5
    assert bool(sp.contains(x)) and not bool(sp.contains(x + 5))
    with pytest.raises(ValueError):
        spaces.Box(1.0, 0.0, (2,))


def test_hybrid_and_dict():
    hyb = spaces.Hybrid(spaces.Discrete(3, (4,)), spaces.Box(0.0, 1.0, (4, 2)))
    a = hyb.sample(KEY)
    assert isinstance(a, spaces.HybridAction) and bool(hyb.contains(a))
    assert not bool(hyb.contains(a.replace(continuous=a.continuous + 2)))
    assert not bool(hyb.contains({"discrete": a.discrete}))
    d = spaces.Dict({"hyb": hyb, "n": spaces.Discrete(2)})
    x = d.sample(KEY)
    assert bool(d.contains(x))
    assert not bool(d.contains({"hyb": x["hyb"]}))
