"""Framework-neutral pieces of the adapters: per-agent views of spaces, actions, info and masks.

A jaxedge space describes a *whole* array, agents first (``Box(shape=(A, obs_dim))``). The JaxMARL
and PettingZoo APIs want one space per agent without that axis; Gymnasium wants the whole array.
`agent_spec` turns a jaxedge space into a small neutral description of one agent's slice that each
adapter then builds in its framework's classes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxedge import spaces


class ForwardsToEnv:
    """Adapter mixin: attributes it lacks fall through to the wrapped jaxedge env ``self._env``."""

    def __getattr__(self, name):  # forward the rest (global_state helpers, sizes, ...) to the env
        if name.startswith("__") or name == "_env":
            raise AttributeError(name)
        return getattr(self._env, name)

    @property
    def name(self) -> str:
        return self._env.name


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """One agent's slice of a jaxedge space.

    kind: ``"box"`` | ``"discrete"`` (one choice in ``range(n)``) | ``"multidiscrete"`` (a flat vector
    with ``nvec``) | ``"hybrid"`` (``discrete`` and ``continuous`` sub-specs). ``native_shape`` is the
    per-agent shape the env takes; flat external actions are reshaped to it.
    """

    kind: str
    native_shape: tuple
    n: int = 0
    nvec: tuple = ()
    low: Any = None
    high: Any = None
    discrete: "AgentSpec | None" = None
    continuous: "AgentSpec | None" = None


def agent_spec(space: spaces.Space, agent: int = 0) -> AgentSpec:
    """Describe agent ``agent``'s slice of ``space`` (whose leading axis is the agent axis)."""
    if isinstance(space, spaces.Hybrid):
        return AgentSpec("hybrid", (), discrete=agent_spec(space.discrete, agent),
                         continuous=agent_spec(space.continuous, agent))
    shape = tuple(space.shape[1:])
    if isinstance(space, spaces.Box):
        return AgentSpec("box", shape, low=np.asarray(space.low[agent], np.float32),
                         high=np.asarray(space.high[agent], np.float32))
    if isinstance(space, spaces.Discrete):
        if shape == ():
            return AgentSpec("discrete", shape, n=space.n)
        return AgentSpec("multidiscrete", shape, nvec=(space.n,) * int(np.prod(shape)))
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.broadcast_to(space.nvec, space.shape)[agent].reshape(-1)
        return AgentSpec("multidiscrete", shape, nvec=tuple(int(v) for v in nvec))
    raise TypeError(f"no per-agent view of {space!r}")


def num_choices(spec: AgentSpec) -> int:
    """Length of the flat availability mask of one agent: ``n`` or ``sum(nvec)``."""
    if spec.kind == "hybrid":
        return num_choices(spec.discrete)
    if spec.kind == "discrete":
        return spec.n
    if spec.kind == "multidiscrete":
        return int(sum(spec.nvec))
    return 0


def to_native(spec: AgentSpec, action):
    """One agent's external action (flat, ``(1,)``-shaped, dict or `HybridAction`) -> env pytree."""
    if spec.kind == "hybrid":
        if isinstance(action, Mapping):
            disc, cont = action["discrete"], action["continuous"]
        elif isinstance(action, spaces.HybridAction):
            disc, cont = action.discrete, action.continuous
        else:
            raise ValueError(
                f"a hybrid action must be a dict with 'discrete' and 'continuous' or a HybridAction, got {type(action).__name__}"
            )
        return spaces.HybridAction(to_native(spec.discrete, disc), to_native(spec.continuous, cont))
    action = jnp.asarray(action)
    size = int(np.prod(spec.native_shape))
    if action.size != size:
        raise ValueError(f"an agent action needs {size} value(s) of shape {spec.native_shape}, got shape {action.shape}")
    dtype = jnp.float32 if spec.kind == "box" else jnp.int32
    return action.reshape(spec.native_shape).astype(dtype)


def stack_actions(specs: list[AgentSpec], agents: list[str], actions: Mapping) -> Any:
    """A dict of per-agent actions -> the env's stacked action pytree."""
    missing = [a for a in agents if a not in actions]
    if missing:
        raise ValueError(f"actions missing for agents {missing[:5]}{'...' if len(missing) > 5 else ''}")
    per_agent = [to_native(s, actions[a]) for s, a in zip(specs, agents)]
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *per_agent)


def per_agent_info(info: Mapping, n_agents: int, terminated, truncated) -> dict:
    """Flatten ``info`` to leaves of shape ``(n_agents,)``: metrics and scalars broadcast, per-agent
    vectors kept; leaves of any other shape (``final_observation``, ``final_state``, ...) dropped."""
    out = {}

    def put(name, value):
        value = jnp.asarray(value)
        if value.shape == ():
            out[name] = jnp.broadcast_to(value, (n_agents,))
        elif value.shape == (n_agents,):
            out[name] = value

    for name, value in info.items():
        if name in ("final_observation", "final_state"):
            continue
        if name == "metrics":
            for m, v in value.items():
                put(m, v)
        elif not isinstance(value, (Mapping, tuple, list)) and hasattr(value, "shape"):
            put(name, value)
    out["terminated"] = jnp.broadcast_to(jnp.asarray(terminated), (n_agents,))
    out["truncated"] = jnp.broadcast_to(jnp.asarray(truncated), (n_agents,))
    return out


# ---- env-specific masks (kept here so the env modules need no interop code) -----------------------
def live_agents(env, state) -> jax.Array:
    """bool[n_agents]: agents that exist this episode (cloud_edge pads UEs; the rest are all live)."""
    mask = getattr(state, "mask", None) if env.name == "cloud_edge" else None
    if mask is None:
        return jnp.ones((env.num_agents,), bool)
    return jnp.asarray(mask, bool)


def _head_mask(nvec: tuple, only_first: jax.Array) -> jax.Array:
    """Concatenated per-head availability: all options, or only option 0 where ``only_first``."""
    parts = []
    for n in nvec:
        first = jnp.arange(n) == 0
        parts.append(jnp.where(only_first[..., None], first, True))
    return jnp.concatenate(parts, axis=-1)


def head_nvec(spec: AgentSpec) -> tuple:
    """Options per discrete head of one agent (``()`` for a purely continuous agent)."""
    disc = spec.discrete if spec.kind == "hybrid" else spec
    if disc.kind == "discrete":
        return (disc.n,)
    if disc.kind == "multidiscrete":
        return tuple(disc.nvec)
    return ()


def avail_actions(env, nvec: tuple, state, params=None) -> jax.Array:
    """bool[n_agents, sum(nvec)]: the options that change anything (``nvec`` from `head_nvec`).

    * cloud_edge: a padded UE can only take option 0 of each head (local, channel 0);
    * collab_edge: on a no-op step (per task: the slot's tasks are all decided; per slot: positions
      past N_t) only server 0 is offered, since every choice is ignored there;
    * otherwise every option is available.
    """
    n = env.num_agents
    if not nvec:
        return jnp.zeros((n, 0), bool)
    if env.name == "cloud_edge":
        dead = ~live_agents(env, state)
        return _head_mask(nvec, dead)
    if env.name == "collab_edge":
        if getattr(env, "per_task", True):
            noop = jnp.broadcast_to(state.t != state.period, (n,))
            return _head_mask(nvec, noop)
        noop = jnp.arange(len(nvec)) >= state.n_tasks  # per position
        first = jnp.concatenate([jnp.arange(k) == 0 for k in nvec])
        heads = np.repeat(np.arange(len(nvec)), nvec)
        mask = jnp.where(noop[heads], first, True)
        return jnp.broadcast_to(mask, (n, mask.shape[0]))
    return jnp.ones((n, int(sum(nvec))), bool)


def observations_of(env, state, params):
    """The observation the env shows in ``state`` (for JaxMARL's ``reset_state``)."""
    fn = getattr(env, "observations", None)
    if fn is None:
        raise NotImplementedError(f"{type(env).__name__} has no observations(state, params)")
    return fn(state, params)
