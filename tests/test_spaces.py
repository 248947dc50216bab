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


def test_obs_parts_offsets_flatten_and_unflatten():
    parts = (spaces.ObsPart("task", (2, 3), "head"), spaces.ObsPart("scalar"), spaces.ObsPart("srv", (4,), "option"))
    assert spaces.obs_size(parts) == 11
    assert spaces.part_offsets(parts) == {"task": (0, 6), "scalar": (6, 1), "srv": (7, 4)}
    values = {"task": jnp.arange(12.0).reshape(2, 2, 3), "scalar": jnp.array([7.0, 8.0]), "srv": jnp.arange(4.0)}
    flat = spaces.flatten_parts(parts, values, lead=(2,))
    assert flat.shape == (2, 11) and flat.dtype == jnp.float32
    np.testing.assert_array_equal(flat[1], [6, 7, 8, 9, 10, 11, 8, 0, 1, 2, 3])  # "srv" broadcast to both rows
    back = spaces.unflatten_parts(parts, flat)
    np.testing.assert_array_equal(back["task"], values["task"])
    np.testing.assert_array_equal(back["scalar"], values["scalar"])
    np.testing.assert_array_equal(back["srv"], np.tile(np.arange(4.0), (2, 1)))
    np.testing.assert_array_equal(spaces.flatten_parts(parts, back, (2,)), flat)
    with pytest.raises(KeyError):
        spaces.flatten_parts(parts, {"task": values["task"]}, (2,))
    with pytest.raises(ValueError, match="columns"):
        spaces.unflatten_parts(parts, jnp.zeros((2, 10)))
    with pytest.raises(ValueError, match="duplicate"):
        spaces.part_offsets(parts + (spaces.ObsPart("srv"),))
    with pytest.raises(ValueError, match="head"):
        spaces.ObsPart("bad", (3,), "head")
    with pytest.raises(ValueError, match="option"):
        spaces.ObsPart("bad", (3, 2), "option")
    with pytest.raises(ValueError, match="role"):
        spaces.ObsPart("bad", (3,), "per_server")
