"""Policy heads for any action space of the env contract: ``Discrete``, ``MultiDiscrete`` or
``Hybrid`` (integer heads + a continuous box).

`ActionSpec.from_env(env, params)` reads the *per-agent* structure of the env's action space
(the leading agent axis dropped):

* ``heads``: number of discrete choices per agent (e.g. one per task), each over at most
  ``n_choices`` options (``MultiDiscrete`` heads with fewer options are masked);
* ``cont_shape``: the per-agent continuous shape (``()`` when there is none), in ``[low, high]``.

Actors output ``n_logits = heads * n_choices + prod(cont_shape)`` numbers. They become

* an **env action** (`HybridAction` / int array, what ``env.step`` takes) and
* a **critic action** (a flat float vector: one-hot of every head + the continuous values), which is
  what replay stores and centralised critics read.

Discrete heads use a Gumbel-softmax with a straight-through hard one-hot in training (gradients
flow through the soft sample) and argmax in evaluation. Continuous outputs in ``[0, 1]`` boxes use
``low + (high - low) (eps_min + (1 - eps_min) sigmoid(x))`` (spec §4.2, A17); other bounded boxes use
``tanh``. Exploration noise is added to the pre-activation (spec A65).
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from algos.common.networks import MLP, PerHeadActor, PerOptionActor
from jaxedge import spaces


@dataclasses.dataclass(frozen=True)
class ActionSpec:
    n_agents: int
    heads: int
    n_choices: int
    head_shape: tuple  # per-agent shape of the discrete part (env layout)
    nvec: tuple  # options per head (len == heads); all == n_choices for Discrete
    cont_shape: tuple  # per-agent continuous shape; () if none
    low: float
    high: float
    eps_min: float
    kind: str  # "discrete" | "multidiscrete" | "hybrid"
    per_choice: bool = False  # hybrid only: separate continuous outputs for every discrete choice
    cont_init: tuple = ()  # value of each of a head's k continuous entries at a zero actor output; () = midpoint

    def __post_init__(self):
        if self.per_choice and not self.cont_by_head:
            raise ValueError("per_choice needs a Hybrid space whose continuous shape is head_shape + (k,)")
        if self.cont_init:
            if not self.cont_by_head or len(self.cont_init) != self.per_head_cont:
                raise ValueError(f"cont_init needs one value per continuous entry of a head "
                                 f"({self.per_head_cont if self.cont_by_head else 'no per-head entries'}); "
                                 f"got {self.cont_init} (maddpg: --set share_init= for the box midpoint)")
            if not all(self.floor < v < self.high for v in self.cont_init):
                raise ValueError(f"cont_init values must lie strictly inside ({self.floor}, {self.high}); got {self.cont_init}")

    @classmethod
    def from_space(cls, space: spaces.Space, n_agents: int, eps_min: float = 0.05,
                   per_choice: bool = False) -> "ActionSpec":
        def disc(sp):
            if isinstance(sp, spaces.Discrete):
                shape = sp.shape[1:]
                heads = int(np.prod(shape)) if shape else 1
                return shape, (sp.n,) * heads
            if isinstance(sp, spaces.MultiDiscrete):
                shape = sp.shape[1:]
                heads = int(np.prod(shape))
                nvec = np.broadcast_to(sp.nvec, shape).reshape(-1)
                return shape, tuple(int(v) for v in nvec)
            raise TypeError(f"unsupported discrete space {sp}")

        if isinstance(space, spaces.Hybrid):
            head_shape, nvec = disc(space.discrete)
            box = space.continuous
            low, high = float(np.min(box.low)), float(np.max(box.high))
            if not (np.all(box.low == low) and np.all(box.high == high) and np.isfinite([low, high]).all()):
                raise ValueError("Hybrid continuous part needs one finite [low, high] for all entries")
            return cls(n_agents, len(nvec), max(nvec), head_shape, nvec, box.shape[1:], low, high,
                       eps_min, "hybrid", per_choice)
        if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
            head_shape, nvec = disc(space)
            kind = "discrete" if isinstance(space, spaces.Discrete) else "multidiscrete"
            return cls(n_agents, len(nvec), max(nvec), head_shape, nvec, (), 0.0, 1.0, eps_min, kind)
        raise TypeError(f"unsupported action space {space}; expected Discrete, MultiDiscrete or Hybrid")

    @classmethod
    def from_env(cls, env, params, eps_min: float = 0.05, per_choice: bool = False) -> "ActionSpec":
        return cls.from_space(env.action_space(params), env.num_agents, eps_min, per_choice)

    # ---- sizes ----------------------------------------------------------------------------------
    @property
    def cont_dim(self) -> int:
        return int(np.prod(self.cont_shape)) if self.cont_shape else 0

    @property
    def cont_by_head(self) -> bool:
        """Hybrid with a continuous shape ``head_shape + (k,)``: k continuous entries per discrete head."""
        return self.kind == "hybrid" and self.cont_shape[: len(self.head_shape)] == self.head_shape

    @property
    def per_head_cont(self) -> int:
        return self.cont_dim // self.heads

    @property
    def n_logits(self) -> int:
        return self.heads * self.n_choices * (1 + (self.per_head_cont if self.per_choice else 0)) + (
            0 if self.per_choice else self.cont_dim)

    @property
    def critic_dim(self) -> int:
        """Width of the flat critic action of one agent."""
        return self.heads * self.n_choices + self.cont_dim

    @property
    def mask(self) -> jax.Array:
        """``bool[heads, n_choices]``: which options exist (MultiDiscrete heads may have fewer)."""
        return jnp.asarray(np.arange(self.n_choices)[None, :] < np.asarray(self.nvec)[:, None])

    # ---- actor outputs -> actions ---------------------------------------------------------------
    def split(self, out):
        """``out[..., n_logits]`` -> (masked logits ``[..., heads, n_choices]``, pre-activations:
        ``[..., cont_dim]``, or ``[..., heads, n_choices, k]`` with ``per_choice``)."""
        d = self.heads * self.n_choices
        logits = out[..., :d].reshape(out.shape[:-1] + (self.heads, self.n_choices))
        logits = jnp.where(self.mask, logits, -1e9)
        pre = out[..., d:]
        if self.per_choice:
            pre = pre.reshape(out.shape[:-1] + (self.heads, self.n_choices, self.per_head_cont))
        return logits, pre

    def chosen(self, one_hot, values):
        """The continuous values of each head's chosen option (``per_choice``), flat ``[..., cont_dim]``;
        the straight-through one-hot passes gradients to the chosen values (parameterised actions,
        as in P-DQN / H-PPO)."""
        if not self.per_choice:
            return values
        picked = jnp.einsum("...hc,...hck->...hk", one_hot, values)
        return picked.reshape(picked.shape[:-2] + (self.cont_dim,))

    @property
    def floor(self) -> float:
        """Smallest continuous value an actor emits (eps_min of a [0, high] box, else ``low``)."""
        return self.high * self.eps_min if self.low == 0.0 else self.low

    @property
    def pre_shift(self):
        """Offset added to the continuous pre-activations so that a zero output gives ``cont_init``
        (``[k]`` per-choice, ``[heads * k]`` flat; 0 without ``cont_init``)."""
        if not self.cont_init:
            return 0.0
        v = np.asarray(self.cont_init, np.float64)
        if self.low == 0.0:
            u = (v / self.high - self.eps_min) / (1.0 - self.eps_min)
            shift = np.log(u) - np.log1p(-u)
        else:
            shift = np.arctanh(2.0 * (v - self.low) / (self.high - self.low) - 1.0)
        return jnp.asarray(shift if self.per_choice else np.tile(shift, self.heads), jnp.float32)

    def squash(self, pre):
        """Pre-activations -> continuous values in the box (eps_min floor on [0, 1] boxes)."""
        pre = pre + self.pre_shift
        if self.low == 0.0:
            unit = self.eps_min + (1.0 - self.eps_min) * jax.nn.sigmoid(pre)
            return self.high * unit
        return self.low + (self.high - self.low) * 0.5 * (jnp.tanh(pre) + 1.0)

    def sample(self, key, out, temperature=1.0, noise_std=0.0):
        """Training action: Gumbel-softmax straight-through one-hot + noisy squashed continuous.

        The exploration noise is Gaussian in the action box (``noise_std`` x its width, then clipped
        to ``[floor, high]``), not on the pre-activations: a share the actor has pushed onto the
        sigmoid's flat end would otherwise never be explored again (seen on dt_inference: server CPU
        shares stuck at eps_min). Returns ``(one_hot [..., heads, n_choices], continuous
        [..., cont_dim])``; both carry gradients to ``out`` (through the soft sample and the squash).
        """
        k_g, k_n = jax.random.split(key)
        logits, pre = self.split(out)
        gumbel = jax.random.gumbel(k_g, logits.shape)
        soft = jax.nn.softmax((logits + gumbel) / temperature, axis=-1)
        hard = jax.nn.one_hot(jnp.argmax(soft, -1), self.n_choices)
        one_hot = soft + jax.lax.stop_gradient(hard - soft)
        cont = self.chosen(one_hot, self.squash(pre))
        noise = noise_std * (self.high - self.low) * jax.random.normal(k_n, cont.shape)
        return one_hot, jnp.clip(cont + noise, self.floor, self.high)

    def deterministic(self, out):
        """Evaluation action: argmax one-hot and noiseless squash (gradients flow to the squash)."""
        logits, pre = self.split(out)
        one_hot = jax.nn.one_hot(jnp.argmax(logits, -1), self.n_choices)
        return one_hot, self.chosen(one_hot, self.squash(pre))

    # ---- networks -------------------------------------------------------------------------------
    def actor(self, hidden, arch: str = "mlp", head_layout=None, option_offsets=None, out_scale: float = 0.01):
        """The actor network emitting ``n_logits``: a flat ``MLP`` on the whole observation
        (``arch="mlp"``), one `PerHeadActor` shared by every head (``"per_head"``; needs the env's
        ``head_obs_layout`` (`algos.common.obs_layout`, from its named observation parts) and, with
        continuous outputs, a continuous shape ``head_shape + (k,)``)
        or one `PerOptionActor` shared by every (head, option) pair (``"per_option"``; also needs
        ``option_obs_offsets`` and, with continuous outputs, per-choice shares)."""
        if arch == "mlp":
            return MLP(tuple(hidden), self.n_logits, out_scale=out_scale)
        if arch not in ("per_head", "per_option"):
            raise ValueError(f"unknown actor_arch {arch!r}; valid: 'mlp', 'per_head', 'per_option'")
        if head_layout is None:
            raise ValueError(f"actor_arch={arch!r} needs an env whose head_obs_layout is not None")
        if self.cont_dim and not self.cont_by_head:
            raise ValueError(f"actor_arch={arch!r} needs a continuous shape head_shape + (k,)")
        offset, width = head_layout
        if arch == "per_option":
            if not option_offsets:
                raise ValueError("actor_arch='per_option' needs an env whose option_obs_offsets is not None")
            if self.cont_dim and not self.per_choice:
                raise ValueError("actor_arch='per_option' needs per-choice shares (per_choice_shares=True)")
            return PerOptionActor(tuple(hidden), self.heads, offset, width, self.n_choices, tuple(option_offsets),
                                  self.per_head_cont if self.cont_dim else 0, out_scale)
        cont_out = self.per_head_cont * (self.n_choices if self.per_choice else 1) if self.cont_dim else 0
        return PerHeadActor(tuple(hidden), self.heads, offset, width, self.n_choices, cont_out, out_scale)

    # ---- conversions ----------------------------------------------------------------------------
    def critic_action(self, one_hot, cont):
        """Flat critic input ``[..., critic_dim]``."""
        flat = one_hot.reshape(one_hot.shape[:-2] + (self.heads * self.n_choices,))
        return jnp.concatenate([flat, cont], axis=-1) if self.cont_dim else flat

    def env_action(self, one_hot, cont):
        """Env action for all agents from ``one_hot [n_agents, heads, n_choices]`` and
        ``cont [n_agents, cont_dim]``."""
        idx = jnp.argmax(one_hot, -1).astype(jnp.int32).reshape((self.n_agents,) + self.head_shape)
        if self.kind != "hybrid":
            return idx
        return spaces.HybridAction(idx, cont.reshape((self.n_agents,) + self.cont_shape))

    def env_action_from_indices(self, idx, cont=None):
        """Env action from head indices ``int[n_agents, heads]`` (+ continuous)."""
        idx = idx.astype(jnp.int32).reshape((self.n_agents,) + self.head_shape)
        if self.kind != "hybrid":
            return idx
        return spaces.HybridAction(idx, cont.reshape((self.n_agents,) + self.cont_shape))

    def random_critic_action(self, key, batch_shape=()):
        """Uniformly random critic action (for the replay warm-up)."""
        k1, k2 = jax.random.split(key)
        shape = batch_shape + (self.n_agents, self.heads)
        u = jax.random.uniform(k1, shape)
        idx = jnp.minimum(jnp.floor(u * jnp.asarray(self.nvec)), jnp.asarray(self.nvec) - 1).astype(jnp.int32)
        cont = self.low + (self.high - self.low) * jax.random.uniform(k2, batch_shape + (self.n_agents, self.cont_dim))
        return jax.nn.one_hot(idx, self.n_choices), cont


@dataclasses.dataclass(frozen=True)
class DiscretisedActions:
    """A joint discrete action per head for value-based learners (DQN, spec §6.6).

    Each head's options are the product of its discrete choices and ``levels`` for every continuous
    entry that belongs to the head (continuous shape must be ``head_shape + (k,)``), e.g. dt_inference:
    7 targets x 4 phi_f x 4 phi_b = 112 options per task.
    """

    spec: ActionSpec
    levels: tuple

    @property
    def per_head_cont(self) -> int:
        if not self.spec.cont_dim:
            return 0
        if not self.spec.cont_by_head:
            raise ValueError(
                f"DiscretisedActions needs continuous shape head_shape + (k,); got {self.spec.cont_shape}"
            )
        return self.spec.per_head_cont

    @property
    def n_options(self) -> int:
        return self.spec.n_choices * len(self.levels) ** self.per_head_cont

    def table(self):
        """``(choice int[n_options], cont float[n_options, k])`` decoding of each option."""
        k = self.per_head_cont
        rows = list(itertools.product(range(self.spec.n_choices), *([self.levels] * k)))
        choice = np.array([r[0] for r in rows], np.int32)
        cont = np.array([r[1:] for r in rows], np.float32).reshape(len(rows), k)
        return jnp.asarray(choice), jnp.asarray(cont)

    @property
    def mask(self):
        """``bool[heads, n_options]``: options whose discrete choice exists for the head."""
        choice, _ = self.table()
        return jnp.asarray(choice)[None, :] < jnp.asarray(self.spec.nvec)[:, None]

    def env_action(self, option):
        """``option int[n_agents, heads]`` -> env action."""
        choice, cont = self.table()
        idx = choice[option]
        if self.spec.kind != "hybrid":
            return self.spec.env_action_from_indices(idx)
        return self.spec.env_action_from_indices(idx, cont[option])
