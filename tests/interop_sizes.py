"""Small sizes and short-episode params shared by the interop tests."""

import jaxedge
from jaxedge.envs.collab_edge import Params as CollabParams

SIZES = {
    "dt_inference": dict(n_users=3, n_servers=2, n_tasks=2),
    "collab_edge": dict(n_servers=3, max_tasks=4),
    "slicing": dict(n_aps=2, max_users=6, action_mode="coarse"),
    "v2x": dict(n_vehicles=3, n_servers=2),
    "cloud_edge": dict(n_cells=2, ues_per_cell=3, n_channels=2, cache_slots=4),
}


def short_params(env, episode_len=5):
    """A few-step episode; cloud_edge with 1-2 of its 3 UE slots per cell used (padding present)."""
    if env.name == "collab_edge":
        return CollabParams.paper(env.n_servers, env.max_tasks, n_slots=2)
    params = env.default_params.replace(episode_len=episode_len)
    if env.name == "cloud_edge":
        params = params.replace(ue_min=1, ue_max=2)
    return params


def small_env(name):
    env = jaxedge.make(name, **SIZES[name])
    return env, short_params(env)
