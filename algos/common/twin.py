"""Per-agent conditional-GAN digital twins (seed 000 §5.6 design R1, §5.7): training, prediction, the
platform's twin step and the rollouts that feed the eq. 23 pool (`algos.common.twin_pool`).

Agent i's twin is a conditional WGAN-GP generator (`algos.cgan`) of ``x = (r_i, o_{t+1,i})`` given
``c = (o_{t,i}, a_{t,i})``, trained on agent i's own real transitions; its targets are standardised
with running statistics (``stats``: a dict of per-agent ``mean``, ``std``, ``min``, ``max``, each
``[n, 1 + obs_dim]``). Everything is stacked on a leading agent axis, pure and jit / vmap / scan safe.

    twins, stats = init(key, gan_cfg, n, obs_dim, act_dim)
    twins, stats, metrics = train_step(twins, stats, buffer, key, batch_size, momentum)
    reward, next_obs = predict_agents(twins.params, stats, key, obs, act)     # [B, n], [B, n, obs_dim]
    twin_obs, twin_act, twin_next = platform_step(twins.params, stats, key, policy, obs, twin_obs, sync)
    steps = rollout(twins.params, stats, key, start_obs, horizon, act_fn)      # leaves [n, H, ...]

``buffer`` rows (and ``rollout``'s steps) hold ``obs [n, obs_dim]``, ``act [n, act_dim]``,
``reward [n]`` and ``next_obs [n, obs_dim]`` (more fields are ignored). Gaps filled (docs/DEVIATIONS.md,
seed 000): no action history in the condition (h = 0); generated observations are clipped to the
running per-feature [min, max] of the real ones instead of env-specific snapping.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from algos import cgan
from algos.common import replay


def gan_config(width: int, z_dim: int, n_critic: int, lr: float, loss: str = "cwgan_gp") -> cgan.GANConfig:
    """The twin's GAN for RL vectors: an "mse" consistency net, style width ``2 * width``."""
    return cgan.GANConfig(loss=loss, consistency="mse", z_dim=z_dim, w_dim=2 * width, width=width,
                          n_critic=n_critic, lr_g=lr, lr_d=lr)


def init_stats(n: int, x_dim: int) -> dict:
    """Running statistics before any data: mean 0, std 1, an empty [min, max] range."""
    return dict(mean=jnp.zeros((n, x_dim)), std=jnp.ones((n, x_dim)),
                min=jnp.full((n, x_dim), jnp.inf), max=jnp.full((n, x_dim), -jnp.inf))


def init(key, gan_cfg: cgan.GANConfig, n: int, obs_dim: int, act_dim: int):
    """``(twins, stats)``: n independent `cgan.GANState`s stacked on the agent axis, and `init_stats`."""
    x_dim, c_dim = 1 + obs_dim, obs_dim + act_dim
    keys = jax.random.split(key, n)
    twins = jax.vmap(lambda k: cgan.init(k, gan_cfg, jnp.zeros((x_dim,)), jnp.zeros((c_dim,))))(keys)
    return twins, init_stats(n, x_dim)


def standardise(stats, x):
    """One agent's ``(x - mean) / std``."""
    return (x - stats["mean"]) / stats["std"]


def update_stats(stats, x, momentum):
    """One agent's statistics after a batch ``x [B, x_dim]``: exponential moving mean and std (the
    batch std + 1e-3) with ``momentum``; the range grows to cover the batch."""
    mean, std = x.mean(0), x.std(0) + 1e-3
    return dict(mean=momentum * stats["mean"] + (1 - momentum) * mean,
                std=momentum * stats["std"] + (1 - momentum) * std,
                min=jnp.minimum(stats["min"], x.min(0)), max=jnp.maximum(stats["max"], x.max(0)))


def targets(batch):
    """The twin's samples ``x = (r, o')``: ``[..., n, 1 + obs_dim]``."""
    return jnp.concatenate([batch["reward"][..., None], batch["next_obs"]], -1)


def conditions(batch):
    """The twin's conditions ``c = (o, a)``: ``[..., n, obs_dim + act_dim]``."""
    return jnp.concatenate([batch["obs"], batch["act"]], -1)


def train_step(twins: cgan.GANState, stats, buffer: replay.Buffer, key, batch_size: int, momentum):
    """Every agent's CGAN on its own real transitions (eqs. 17-19): a batch of joint rows from
    ``buffer``, the statistics updated with it, then one `cgan.train_step` per agent on the
    standardised targets. Returns ``(twins, stats, metrics)`` (metrics averaged over agents)."""
    n = jax.tree_util.tree_leaves(stats)[0].shape[0]
    k_b, k_g = jax.random.split(key)
    b = replay.sample(buffer, k_b, batch_size)
    x, c = targets(b), conditions(b)  # [B, n, x_dim], [B, n, c_dim]
    stats = jax.vmap(lambda st, x_i: update_stats(st, x_i, momentum), in_axes=(0, 1))(stats, x)

    def one(state, st, k, x_i, c_i):
        return cgan.train_step(state, k, standardise(st, x_i), c_i)

    twins, metrics = jax.vmap(one, in_axes=(0, 0, 0, 1, 1))(twins, stats, jax.random.split(k_g, n), x, c)
    return twins, stats, jax.tree_util.tree_map(jnp.mean, metrics)


def zero_metrics(twins: cgan.GANState):
    """`train_step`'s metrics, all zero (what an iteration without a GAN update reports)."""
    cfg = twins.cfg
    x, c = jnp.zeros((2,) + cfg.x_shape), jnp.zeros((2,) + cfg.c_shape)
    shapes = jax.eval_shape(lambda: cgan.train_step(cgan.init(jax.random.PRNGKey(0), cfg, x[0], c[0]),
                                                    jax.random.PRNGKey(0), x, c)[1])
    return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def maybe_train_step(run, twins, stats, buffer, key, batch_size: int, momentum):
    """`train_step` where ``run`` (a lazy ``lax.cond``: keep ``run`` unbatched, e.g. keyed on the
    global iteration index, so it stays a branch under a seed vmap), else no change and zero metrics.
    Only ``(twins, stats, metrics)`` come back, so the ``cond`` carries no replay buffer out."""
    zero = zero_metrics(twins)
    return jax.lax.cond(run, lambda t, s, b, k: train_step(t, s, b, k, batch_size, momentum),
                        lambda t, s, b, k: (t, s, zero), twins, stats, buffer, key)


def predict(params: cgan.GANParams, stats, key, obs, act):
    """One agent's generator step ``(r_hat [B], o_hat' [B, obs_dim])`` for ``obs [B, obs_dim]``,
    ``act [B, act_dim]``: de-standardised, ``o_hat'`` clipped to the running range of real data."""
    x = cgan.generate(params, key, jnp.concatenate([obs, act], -1))
    x = x * stats["std"] + stats["mean"]
    next_obs = jnp.clip(x[..., 1:], stats["min"][1:], stats["max"][1:])
    return x[..., 0], next_obs


def predict_agents(params: cgan.GANParams, stats, key, obs, act):
    """Every agent's twin on its own column: ``obs [B, n, obs_dim]``, ``act [B, n, act_dim]`` ->
    ``(r_hat [B, n], o_hat' [B, n, obs_dim])``; one key per agent from ``key``."""
    n = obs.shape[-2]
    keys = jax.random.split(key, n)
    return jax.vmap(predict, in_axes=(0, 0, 0, 1, 1), out_axes=1)(params, stats, keys, obs, act)


def platform_step(params: cgan.GANParams, stats, key, policy, obs, twin_obs, sync):
    """The knowledge-sharing platform (§5.7, A36) at one step for every env and agent: its twin
    states ``o_hat`` (reset to the true ``obs`` where ``sync``), the actions ``a_hat = policy(o_hat)``
    and the twins' next states ``o_hat' ~ G(z, (o_hat, a_hat))``. ``obs``, ``twin_obs``:
    ``[E, n, obs_dim]``; ``sync``: bool broadcastable to them; ``policy``: ``[E, n, obs_dim] ->
    [E, n, act_dim]`` (the agents' deterministic actors). Returns ``(o_hat, a_hat, o_hat')``."""
    twin_obs = jnp.where(sync, obs, twin_obs)
    twin_act = policy(twin_obs)
    _, twin_next = predict_agents(params, stats, key, twin_obs, twin_act)
    return twin_obs, twin_act, twin_next


def rollout(params: cgan.GANParams, stats, key, start_obs, horizon: int, act_fn):
    """Each agent's twin rolled ``horizon`` steps from ``start_obs [n, obs_dim]``, acting with
    ``act_fn(key, obs [n, obs_dim]) -> act [n, act_dim]`` (e.g. the current actors with exploration
    noise). Returns the generated transitions ``obs, act, reward, next_obs``, leaves ``[n, H, ...]``,
    the rollout `twin_pool.push_rollout` takes (vmapped over agents)."""

    def step(o, k):
        k_a, k_g = jax.random.split(k)
        a = act_fn(k_a, o)
        r, o_next = predict_agents(params, stats, k_g, o[None], a[None])
        return o_next[0], dict(obs=o, act=a, reward=r[0], next_obs=o_next[0])

    _, steps = jax.lax.scan(step, start_obs, jax.random.split(key, horizon))
    return jax.tree_util.tree_map(lambda v: jnp.moveaxis(v, 0, 1), steps)
