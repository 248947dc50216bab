"""MADDPG-CGAN (seed 000's learner, spec §5): MADDPG + per-agent conditional-GAN digital twins + a
DT experience pool + personalised federated aggregation, all inside the compiled training loop.

Per agent i (everything stacked on the agent axis and vmapped):

* **Twin** (spec §5.6 design R1, A35): a conditional WGAN-GP generator (`algos.cgan`, §5.2-§5.4)
  modelling ``x = (r_i, o_{t+1,i})`` given ``c = (o_{t,i}, a_{t,i})``, trained every ``gan_period``
  iterations on agent i's own real transitions (targets standardised with running statistics).
* **Knowledge sharing** (role A, §5.7 R1, A36): a platform keeps twin states ``ô_j``, synced to the
  true ``o_j`` every ``k_sync`` steps (and at episode starts) and advanced in between by
  ``â_j = mu_j(ô_j)``, ``ô_j' ~ G_j(z, (ô_j, â_j))``. Agent i's critic reads its own true
  ``(o_i, a_i, o_i')`` and the others' twin features ``(ô_j, â_j, ô_j')``, never their raw data.
  The critic input is agent-relative (self first, A41): ``[o_i, ô_{i+1}, ..., a_i, â_{i+1}, ...]``.
  The others' next actions in the target (eq. 20) are the platform's ``mu_j(ô_j')``, stored with
  the transition (§5.7's "simpler option"; one actor pass per env step instead of a target-actor
  pass per minibatch row and owner).
* **Networks**: maddpg's (per-option actor, task-factored critic, ``share_init``; its docstring),
  trained on the same owner-relative inputs. The actor update is ours by default: each head's logits
  learn by cross-entropy the option the critic scores best (``discrete_actor_loss="search"``)
  against the others' current actions on the features the owner sees of them, their twin states
  (``actor_others="current"``); the paper's deterministic policy gradient through the Gumbel sample
  on replayed actions is ``discrete_actor_loss=straight_through actor_others=replay``, what the
  seed-000 reproduction runs.
* **DT pool** (eq. 23, §5.6 A31-A34): once the twin is on, every ``pool_period`` iterations each
  agent rolls its generator
  ``H = n + n'`` steps ahead from the true ``o_{t+1,i}`` of env 0 with its current actor (plus
  exploration noise); the last ``n' + 1`` rollouts form eq. 23's matrix; per column q the
  candidate with the largest online ``Q_i`` (probability ``eps_q``) or one drawn with the
  time-interval weights ``1 - (p+q)/(n+n')`` goes into agent i's synthetic buffer. Minibatches take
  a share ``rho_syn`` from it (separate buffer, the spec's default ``syn_buffer_mode``).
* **Federated aggregation** (eqs. 24-25, §5.8): every ``fl_period`` iterations the target networks
  move toward the weighted average of all agents' online networks (``fl_mode="personalized"``,
  weights ``fl_weight_mode``), toward the plain average with ``tau_t = 1`` (``"fedavg"``), or not
  at all (``"none"``: centralised training).

The pieces are shared: `algos.common.twin` (twins, platform step, rollouts), `twin_pool.insert`
(eq. 23), `federated.sync_targets` (eqs. 24-25) and `maddpg.Core` (networks and updates); this
module assembles the critic inputs and the loop.

Gaps filled / deviations (docs/DEVIATIONS.md, seed 000):
* Action history ``h = 0`` in the twin's condition (spec default h = 2): the observation already
  carries s' and the battery; this halves the condition size on the CPU budget.
* Generated observations are clipped to the running per-feature [min, max] of real observations
  instead of the env-specific snapping of §5.6 (generic over envs).
* Synthetic transitions take the other agents' features from the platform snapshot at ``t0``
  (stale by q steps, documented in §5.7); rollouts start from env 0 only (CPU).
* On FL rounds eq. 24 is applied after that iteration's ordinary soft update.
* ``k_sync = 1`` uses the true features of the others at t but twin-predicted next features;
  ``twin_features=False`` is the R0 ablation (true joint data; the CGAN only feeds D').
* Sizes and periods are CPU-sized where marked in `Config` (batch 128, a GAN update of 2 critic
  steps every 20 iterations, a pool rollout every 2): at maddpg's batch 256 and the spec's GAN
  schedule an iteration cost 2.6x maddpg's and the default run did not fit 10 minutes on 2 cores.
* Ours (issue 26): besides the search update (Networks, above), the minibatches take no DT-pool
  rows by default (``rho_syn = 0``; the paper's 0.25 is ``--set rho_syn=0.25``, which the seed-000
  reproduction pins): 5 seeds 1.280 against 1.311 with 0.25 (docs/seed000_learners.md, "Stop 39").
  The pool still fills, so the share is a ``--set`` away.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from algos import cgan, maddpg
from algos.common import federated, replay, twin, twin_pool
from algos.common.training import (
    ActorCriticState, ReplaySpec, Trainer, env_metrics, gated_updates, hparams, make_trainer, replay_capacity, schedule,
    select, step_envs,
)

TRACED = maddpg.TRACED + ("rho_syn", "eps_max")
ACTION_SPACES = maddpg.ACTION_SPACES
FL_MODES = federated.FL_MODES


@dataclasses.dataclass(frozen=True)
class Config(maddpg.Config):
    """MADDPG's fields plus the twin, DT pool and FL settings (spec §8.9 unless marked CPU)."""

    share_params: bool = False  # per-agent networks; sharing happens through FL (eqs. 24-25)
    critic_state: str = "global"  # the critics read every agent's (twin) observation
    batch_size: int = 128  # CPU: with the twin, 256 does not fit 64k env steps in 10 min on 2 cores
    # ours (issue 26): each head's logits learn the option the critic scores best against the others'
    # current actions (maddpg's `Core.search_loss`); the paper's update, kept by benchmarks/reproduce/seed_000.py,
    # is discrete_actor_loss="straight_through" actor_others="replay" (docs/seed000_learners.md)
    discrete_actor_loss: str = "search"
    actor_others: str = "current"
    # twin (CGAN, spec §8.9 "CGAN (vector)")
    gan_loss: str = "cwgan_gp"
    gan_width: int = 32  # CPU (spec 64)
    gan_z_dim: int = 16  # CPU (spec 32)
    gan_batch: int = 64  # CPU (spec 256)
    gan_period: int = 20  # iterations between GAN updates; CPU (spec: every 10 env steps)
    gan_n_critic: int = 2  # CPU (spec 5)
    gan_lr: float = 1e-4
    gan_warmup_steps: int = 4_000  # env steps before the twin replaces real data (its GAN trains from the start)
    stats_momentum: float = 0.99  # running mean / std / range of the twin's targets
    # knowledge sharing (§5.7)
    twin_features: bool = True  # False: R0 ablation (critics read the true joint data)
    k_sync: int = 5
    # DT pool (§5.6)
    dt_n: int = 5
    dt_n_prime: int = 3
    eps_max: float = 0.5
    rho_syn: float = 0.0  # ours (issue 26): off by default, 5 seeds 1.280 vs 1.311 at 0.25 (the paper's share, which
    # the reproduction runs; docs/seed000_learners.md "Stop 39"); the pool still fills for --set rho_syn=...
    pool_period: int = 2  # iterations between DT-pool rollouts; CPU (spec: every step)
    syn_buffer_size: int = 2_048  # per agent; CPU (spec 1e5)
    # federated aggregation (§5.8)
    fl_mode: str = "personalized"
    fl_weight_mode: str = "normalized"
    fl_period: int = 100  # iterations (one episode)
    fl_tau0: float = 0.5
    fl_decay: float = 0.98

    def __post_init__(self):
        super().__post_init__()
        if self.fl_mode not in FL_MODES:
            raise ValueError(f"fl_mode={self.fl_mode!r}; valid: {', '.join(FL_MODES)}")
        federated._check_mode(self.fl_weight_mode)
        if self.k_sync < 1 or self.dt_n < 1 or self.dt_n_prime < 0 or self.gan_period < 1 or self.fl_period < 1 or self.pool_period < 1:
            raise ValueError("k_sync, dt_n, gan_period, fl_period and pool_period must be >= 1 and dt_n_prime >= 0")


@struct.dataclass
class TrainState(ActorCriticState):
    """MADDPG's runner state (``buffer``: real joint transitions with the platform's twin features)
    plus the twin, the DT pool and the FL bookkeeping."""

    syn: replay.Buffer  # per-agent synthetic transitions, leading agent axis
    pool: twin_pool.TwinPool  # per-agent eq. 23 rollout rings, leading agent axis
    twin: cgan.GANState  # per-agent generators, leading agent axis
    stats: dict  # per-agent running mean / std / min / max of the twin's targets
    twin_obs: jax.Array  # [E, n, obs_dim] platform twin states
    last_q: jax.Array  # [n] mean online Q of the latest minibatch (FL weights)


FROZEN = ("buffer", "syn", "pool", "twin", "stats", "twin_obs", "env_state", "obs")


def make_train(cfg: Config, env, params) -> Trainer:
    if cfg.critic_state != "global":
        raise ValueError("maddpg_cgan's critics read every agent's (twin) observation: critic_state must be 'global'")
    core = maddpg.Core.build(cfg, env, params, critic_layout=(0, env.num_agents * env.observation_space(params).shape[-1]))
    spec, n, obs_dim = core.spec, core.n, core.obs_dim
    cd = spec.critic_dim
    sizes = schedule(cfg, warmup_steps=cfg.warmup_steps)
    capacity = replay_capacity(cfg, sizes)
    E = cfg.num_envs
    order = jnp.asarray(maddpg.relative_order(n))
    gan_warmup_iters = -(-cfg.gan_warmup_steps // E)
    gan_cfg = twin.gan_config(cfg.gan_width, cfg.gan_z_dim, cfg.gan_n_critic, cfg.gan_lr, cfg.gan_loss)
    weights = twin_pool.interval_weights(cfg.dt_n, cfg.dt_n_prime)
    own_slot = slice(n * obs_dim, n * obs_dim + cd)  # agent i's action in x[i]
    n_syn = max(1, int(round(cfg.rho_syn * cfg.batch_size)))  # synthetic rows per minibatch

    f32 = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)  # noqa: E731
    joint = dict(
        obs=f32(n, obs_dim), act=f32(n, cd), reward=f32(n), next_obs=f32(n, obs_dim),  # true data
        terminated=jax.ShapeDtypeStruct((), jnp.bool_),
        twin_obs=f32(n, obs_dim), twin_act=f32(n, cd), twin_next_obs=f32(n, obs_dim),  # platform features of everyone
        twin_next_act=f32(n, cd),  # the platform's mu_j(o_hat'_j) (§5.7's simpler option)
    )
    # a synthetic transition of one owner: its candidate in its row, the platform snapshot elsewhere;
    # next_act: the others' twin next actions (the owner's comes from its target actor)
    syn_row = dict(obs=f32(n, obs_dim), act=f32(n, cd), reward=f32(), next_obs=f32(n, obs_dim), next_act=f32(n, cd))
    own_step = dict(obs=f32(obs_dim), act=f32(cd), reward=f32(), next_obs=f32(obs_dim))

    def policy_actions(actor_p, obs):  # deterministic critic actions of every agent: [..., n, obs] -> [..., n, cd]
        return spec.critic_action(*spec.deterministic(core.actors(actor_p, obs)))

    # ---- critic inputs (agent-relative, self first, A41) -------------------------------------------
    def views(own, others):
        """``[n, B, n, f]``: position 0 agent i's own value, position k agent (i+k) mod n's from ``others``."""
        own_v, oth_v = own[:, order], others[:, order]  # [B, n(view), n(pos), f]
        first = (jnp.arange(n) == 0)[None, None, :, None]
        return jnp.moveaxis(jnp.where(first, own_v, oth_v), 1, 0)

    def critic_inputs(obs_v, act_v):  # [n, B, n, *] -> [n, B, D]
        lead = obs_v.shape[:2]
        return jnp.concatenate([obs_v.reshape(lead + (-1,)), act_v.reshape(lead + (-1,))], -1)

    def batch_inputs(rs, b):
        """(x, x_next) ``[n, B, D]`` for a joint batch: the others' features and next actions from the
        platform (``twin_features``) or the true joint data (R0: target actions of every agent)."""
        next_own = policy_actions(rs.actor_target, b["next_obs"])
        if cfg.twin_features:
            others, next_oth = (b["twin_obs"], b["twin_act"], b["twin_next_obs"]), b["twin_next_act"]
        else:
            others, next_oth = (b["obs"], b["act"], b["next_obs"]), next_own
        x = critic_inputs(views(b["obs"], others[0]), views(b["act"], others[1]))
        x_next = critic_inputs(views(b["next_obs"], others[2]), views(next_own, next_oth))
        return x, x_next

    def current_others_inputs(rs, b):
        """``[n, B, D]`` for the actor loss with ``actor_others="current"``: ``batch_inputs``' ``x`` with
        every other agent's action from its current actor on the features this owner sees of it."""
        others_obs = b["twin_obs"] if cfg.twin_features else b["obs"]
        current = jax.lax.stop_gradient(policy_actions(rs.actor, others_obs))
        return critic_inputs(views(b["obs"], others_obs), views(b["act"], current))

    def owner_view(i, obs, act):
        """Owner i's critic input for rows ``obs [K, n, obs_dim]``, ``act [K, n, cd]`` -> ``[K, D]``."""
        flat = lambda v: v[:, order[i]].reshape(v.shape[0], -1)  # noqa: E731  agent-relative, self first
        return jnp.concatenate([flat(obs), flat(act)], -1)

    def owner_inputs(rs, sb):
        """(x, x_next) ``[n, n_syn, D]`` for each owner's synthetic rows (leaves ``[n(owner), n_syn,
        ...]``): only the owner's view; its next action from its target actor, the others' from the
        platform snapshot."""
        own = jnp.arange(n)
        own_next_act = policy_actions(rs.actor_target, jnp.swapaxes(sb["next_obs"][own, :, own], 0, 1))  # [n_syn, n, cd]
        next_act = sb["next_act"].at[own, :, own].set(jnp.swapaxes(own_next_act, 0, 1))
        return (jax.vmap(owner_view)(own, sb["obs"], sb["act"]),
                jax.vmap(owner_view)(own, sb["next_obs"], next_act))

    # ---- state -------------------------------------------------------------------------------------
    def init(key, hp):
        k_net, k_env, k_gan, key = jax.random.split(key, 4)
        nets = core.init_networks(k_net, hp, n * (obs_dim + cd))
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, E), params)
        twins, stats = twin.init(k_gan, gan_cfg, n, obs_dim, cd)
        syn = jax.vmap(lambda _: replay.init(syn_row, cfg.syn_buffer_size))(jnp.arange(n))
        pool = jax.vmap(lambda _: twin_pool.init(own_step, cfg.dt_n, cfg.dt_n_prime))(jnp.arange(n))
        return TrainState(**nets, buffer=replay.init(joint, capacity), syn=syn, pool=pool, twin=twins, stats=stats,
                          twin_obs=obs, last_q=jnp.zeros((n,)), env_state=env_state, obs=obs, key=key,
                          step=jnp.zeros((), jnp.int32), hp=hp)

    # ---- DT pool (eq. 23) ----------------------------------------------------------------------------
    def maybe_enrich(rs, i, key, start_obs, snapshot, sigma):
        """Every ``pool_period`` iterations once the twin is on (§5.10: the pool is rolled only after
        the GAN warm-up; a lazy ``cond`` on the unbatched ``i``): each agent's twin rolled
        ``n + n'`` steps from ``start_obs`` (env 0's true next observations) with its current actor
        and exploration noise, the picks scored by the owner's online critic."""
        def rolled(r):
            def act(k, o):
                return spec.critic_action(*spec.sample(k, core.actors(r.actor, o), r.hp["gumbel_temperature"], sigma))

            def score(rows):
                return core.critics(r.critic, jax.vmap(owner_view)(jnp.arange(n), rows["obs"], rows["act"]))

            k_roll, k_sel = jax.random.split(key)
            steps = twin.rollout(r.twin.params, r.stats, k_roll, start_obs, cfg.dt_n + cfg.dt_n_prime, act)
            eps = twin_pool.epsilon_schedule(cfg.dt_n, r.hp["eps_max"])
            return twin_pool.insert(r.pool, r.syn, k_sel, steps, snapshot, score, weights, eps)

        run = (i >= gan_warmup_iters) & (i % cfg.pool_period == 0)
        pool, syn = jax.lax.cond(run, rolled, lambda r: (r.pool, r.syn), rs)
        return rs.replace(pool=pool, syn=syn)

    # ---- learning ----------------------------------------------------------------------------------
    def update(rs: TrainState, key):
        """One MADDPG update on a minibatch whose last ``n_syn`` rows are, per owner, synthetic DT-pool
        rows (``rho_syn``, once the twin is on and the pool holds data)."""
        k_real, k_syn, k_actor = jax.random.split(key, 3)
        b = replay.sample(rs.buffer, k_real, cfg.batch_size)
        x, x_next = batch_inputs(rs, b)  # [n, B, D]
        reward = jnp.broadcast_to(b["reward"].T, (n, cfg.batch_size))
        terminated = jnp.broadcast_to(b["terminated"], (n, cfg.batch_size))
        on = (rs.hp["rho_syn"] > 0) & (rs.step >= gan_warmup_iters)  # synthetic data once the twin is on
        sb, use_syn = twin_pool.sample_synthetic(rs.syn, k_syn, cfg.batch_size, n_syn, on)  # leaves [n(owner), n_syn, ...]
        sx, sx_next = owner_inputs(rs, sb)  # [n(owner), n_syn, D]
        x, x_next, reward = (twin_pool.mix(use_syn, *v) for v in ((x, sx), (x_next, sx_next), (reward, sb["reward"])))
        x_actor = x
        if cfg.actor_others == "current":  # synthetic rows keep their snapshot's actions
            x_actor = twin_pool.mix(use_syn, current_others_inputs(rs, b), sx)
        terminated = jnp.where(use_syn, False, terminated)
        next_q = core.critics(rs.critic_target, x_next)
        y = core.td_target(rs.hp, next_q, reward.T, terminated[0])
        critic_p, critic_opt, c_loss = core.critic_update(rs, x, y)
        obs_own = x[:, :, :obs_dim]
        actor_p, actor_opt, a_loss, q = core.actor_update(rs, critic_p, x_actor, own_slot, obs_own, k_actor)
        rs = rs.replace(actor=actor_p, critic=critic_p, actor_opt=actor_opt, critic_opt=critic_opt, last_q=q,
                        **core.soft_update_targets(rs, actor_p, critic_p))
        return rs, {"critic_loss": c_loss.mean(), "actor_loss": a_loss.mean(), "q": q.mean(),
                    "syn_share": use_syn.mean()}

    def maybe_fl_round(rs, i, learning):
        """Eqs. 24-25 on the last iteration of every ``fl_period`` (lazy ``cond``), after that
        iteration's soft update; a no-op during the warm-up."""
        if cfg.fl_mode == "none":
            return rs

        def fl_round(r):
            data = (r.buffer.size + r.syn.size).astype(jnp.float32)
            synced = federated.sync_targets((r.actor_target, r.critic_target), (r.actor, r.critic), r.last_q, data,
                                            r.step // cfg.fl_period, r.hp["tau"], cfg.fl_mode, cfg.fl_weight_mode,
                                            cfg.fl_tau0, cfg.fl_decay)
            return select(learning, synced, (r.actor_target, r.critic_target))

        actor_t, critic_t = jax.lax.cond(i % cfg.fl_period == cfg.fl_period - 1, fl_round,
                                         lambda r: (r.actor_target, r.critic_target), rs)
        return rs.replace(actor_target=actor_t, critic_target=critic_t)

    def iteration(rs: TrainState, i):
        """One vector env step. Periodic work (GAN updates, DT pool, FL rounds) is keyed on the global
        iteration index ``i`` (unbatched under a seed vmap, so these conds stay lazy; it equals ``rs.step``)."""
        key, k_act, k_rand, k_step, k_twin, k_gan, k_pool, k_upd = jax.random.split(rs.key, 8)
        learning = rs.step >= sizes.warmup_iters
        twin_on = rs.step >= gan_warmup_iters
        sigma = core.exploration_sigma(rs, sizes)
        one_hot, cont = spec.sample(k_act, core.actors(rs.actor, rs.obs), rs.hp["gumbel_temperature"], sigma)
        one_hot, cont = select(learning, (one_hot, cont), spec.random_critic_action(k_rand, (E,)))
        act = spec.critic_action(one_hot, cont)
        sync = (rs.step % cfg.k_sync == 0) | ~twin_on
        twin_obs, twin_act, twin_next = twin.platform_step(rs.twin.params, rs.stats, k_twin,
                                                           lambda o: policy_actions(rs.actor, o), rs.obs, rs.twin_obs, sync)
        twin_act = jnp.where(sync, act, twin_act)
        next_obs, env_state, reward, term, trunc, info, _ = step_envs(
            env, jax.random.split(k_step, E), rs.env_state, jax.vmap(spec.env_action)(one_hot, cont), params)
        twin_next = jnp.where(twin_on, twin_next, info["final_observation"])
        twin_next_act = policy_actions(rs.actor, twin_next)
        tr = dict(obs=rs.obs, act=act, reward=reward, next_obs=info["final_observation"], terminated=term,
                  twin_obs=twin_obs, twin_act=twin_act, twin_next_obs=twin_next, twin_next_act=twin_next_act)
        done = (term | trunc)[:, None, None]
        rs = rs.replace(buffer=replay.add(rs.buffer, tr), obs=next_obs, env_state=env_state, key=key,
                        twin_obs=jnp.where(done, next_obs, twin_next))
        metrics = env_metrics(reward, info)
        twins, stats, gan_m = twin.maybe_train_step(i % cfg.gan_period == 0, rs.twin, rs.stats, rs.buffer, k_gan,
                                                    cfg.gan_batch, cfg.stats_momentum)
        rs = rs.replace(twin=twins, stats=stats)
        snapshot = dict(obs=twin_obs[0], act=twin_act[0], next_obs=twin_next[0], next_act=twin_next_act[0])
        rs = maybe_enrich(rs, i, k_pool, info["final_observation"][0], snapshot, sigma)
        rs, losses = gated_updates(learning, update, rs, jax.random.split(k_upd, cfg.updates_per_step), frozen=FROZEN)
        rs = maybe_fl_round(rs, i, learning)
        metrics.update(losses)
        metrics.update(gan_m)
        return rs.replace(step=rs.step + 1), metrics

    return make_trainer(init, iteration, core.act, cfg, hparams(cfg, TRACED), sizes, ReplaySpec(joint, capacity))
