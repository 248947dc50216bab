"""Every env renders headless (Agg) with and without an action; animate writes a GIF."""

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import jaxedge  # noqa: E402
from algos import heuristics  # noqa: E402
from jaxedge.render import animate, figure_to_rgb  # noqa: E402

from test_env_contract import SMALL_SIZES as SIZES  # noqa: E402


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_env_renders(name):
    env = jaxedge.make(name, **SIZES[name])
    params = env.default_params
    key = jax.random.PRNGKey(0)
    _, state = env.reset(key, params)
    for action in (None, env.action_space(params).sample(key)):
        fig = env.render(state, params, action)
        assert isinstance(fig, Figure) and len(fig.axes) >= 2
    rgb = figure_to_rgb(fig)
    assert rgb.ndim == 3 and rgb.shape[-1] == 3 and rgb.std() > 0
    batch = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, 2), params)[1]
    with pytest.raises(ValueError, match="not a batch"):
        env.render(batch, params)


def test_animate_writes_gif(tmp_path):
    env = jaxedge.make("collab_edge", **SIZES["collab_edge"])
    path = tmp_path / "ep.gif"
    assert animate(env, env.default_params, heuristics.make_heuristic(env, "round_robin"), jax.random.PRNGKey(0), 2, path) == 2
    assert path.read_bytes()[:3] == b"GIF"
