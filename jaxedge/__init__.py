"""jaxedge: vectorised JAX simulators of multi-agent mobile-edge-computing resource allocation.

    import jax, jaxedge
    env = jaxedge.make("dt_inference", n_users=8, n_servers=6)
    params = env.default_params
    obs, state = env.reset(jax.random.PRNGKey(0), params)
"""

from __future__ import annotations

import importlib

from jaxedge import spaces
from jaxedge.env import MultiAgentEnv

__version__ = "0.1.0"

# name -> (module, class, seed)
_REGISTRY = {
    "dt_inference": ("jaxedge.envs.dt_inference", "DTInference", "000"),
    "collab_edge": ("jaxedge.envs.collab_edge", "CollabEdge", "003"),
    "slicing": ("jaxedge.envs.slicing", "Slicing", "001"),
    "v2x": ("jaxedge.envs.v2x", "V2X", "002"),
    "cloud_edge": ("jaxedge.envs.cloud_edge", "CloudEdge", "004"),
}


def list_envs() -> list[str]:
    """Names accepted by `make`."""
    return sorted(_REGISTRY)


def make(name: str, **sizes) -> MultiAgentEnv:
    """Build a registered env; keyword arguments set its static sizes (e.g. ``n_users=8``)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown env {name!r}; choose one of {list_envs()}")
    module, cls_name, _ = _REGISTRY[name]
    cls = getattr(importlib.import_module(module), cls_name)
    try:
        return cls(**sizes)
    except TypeError as err:
        import dataclasses

        valid = [f.name for f in dataclasses.fields(cls) if f.name != "name"]
        raise ValueError(f"bad size for {name!r}: {err}; valid sizes are {valid}") from None


__all__ = ["make", "list_envs", "spaces", "MultiAgentEnv", "__version__"]
