"""The heuristics registry (`algos.heuristics`): one table per env, every entry builds and acts.

Per-env behaviour is tested beside each module: tests/test_heuristics_<env>.py.
"""

import ast
import pathlib

import jax
import numpy as np
import pytest

import jaxedge
from algos import heuristics

from test_env_contract import SMALL_SIZES

PACKAGE = pathlib.Path(heuristics.__file__).parent
ENTRIES = [(env, name) for env in jaxedge.list_envs() for name in heuristics.HEURISTICS[env]]


def test_every_env_has_a_table_with_random_and_default_entries():
    assert sorted(heuristics.HEURISTICS) == jaxedge.list_envs()
    for env, table in heuristics.HEURISTICS.items():
        assert table["random"] is heuristics.random_policy
        assert set(heuristics.DEFAULT_EVAL[env]) <= set(table), env


@pytest.mark.parametrize("env_name,name", ENTRIES)
def test_every_heuristic_returns_an_action_in_the_action_space(env_name, name):
    env = jaxedge.make(env_name, **(dict(n_users=2, n_servers=2, n_tasks=1) if name == "oracle" and
                                    env_name == "dt_inference" else SMALL_SIZES[env_name]))
    params = env.default_params
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    action = jax.jit(heuristics.make_heuristic(env, name))(jax.random.PRNGKey(1), obs, state, params)
    assert env.action_space(params).contains(action), (env_name, name)
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree_util.tree_leaves(action))


def test_unknown_names_raise_listing_the_choices():
    env = jaxedge.make("slicing", **SMALL_SIZES["slicing"])
    with pytest.raises(ValueError, match="choose one of"):
        heuristics.make_heuristic(env, "nope")

    class Unknown:
        name = "nowhere"

    with pytest.raises(ValueError, match="envs with heuristics"):
        heuristics.make_heuristic(Unknown(), "random")


def test_modules_stay_small_and_reuse_the_env_physics():
    """One module per env, each <= 300 lines, importing the env it serves and no other env."""
    envs = set(jaxedge.list_envs())
    for path in PACKAGE.glob("*.py"):
        source = path.read_text()
        assert len(source.splitlines()) <= 300, path.name
        if path.stem not in envs:
            continue
        imported = {node.module.split(".")[-1] for node in ast.walk(ast.parse(source))
                    if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
                     and node.module == "jaxedge.envs" for alias in node.names}
        assert imported & envs == {path.stem}, (path.name, imported & envs)
