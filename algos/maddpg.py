"""MADDPG (Lowe et al. 2017) for hybrid / discrete multi-agent actions: the seed-000 core (spec §5.5).

* Decentralised actors ``mu_i(o_i)`` (``o_i`` already contains the partial global state s', A20),
  one per agent, parameters stacked on the agent axis and applied with ``vmap``.
* Centralised critics ``Q_i(s, o_i, a_i, a_{i+1}, ...)`` on ``env.global_state``, agent i's own
  observation and every agent's critic action (per-head one-hot + continuous shares) in
  agent-relative order, self first (A41); one per agent, also stacked (``share_params``: one copy
  trained on every agent's data).
* Discrete heads: Gumbel-softmax with straight-through one-hot in training, argmax in evaluation;
  continuous shares ``eps_min + (1 - eps_min) sigmoid`` (spec §4.2, A17), one pair per discrete
  choice (``per_choice_shares``; the executed choice's pair is used). Exploration: Gumbel sampling
  plus Gaussian noise in the share box, sigma ``noise_start -> noise_end`` over ``noise_fraction``
  of training (A65).
* Standard MADDPG targets (A29): ``y_i = r_i + gamma (1 - terminated) Q'_i(s', mu'(o'))`` with target
  actors and target critics; the actor loss uses the online critic with only agent i's action
  replaced. Soft target updates with ``tau``. Truncation (time limit) bootstraps.
* Replay: one ring buffer of joint transitions inside the scan state; a warm-up of random actions.
* Options of ours (README "Training"): structured actors shared over tasks or (task, server)
  pairs (``actor_arch``, from the env's observation parts via `obs_layout`), a critic
  factored over the owner's tasks that reads each task's chosen option, its features and its load
  from every agent's actions (``critic_arch="per_option"``, `PerOptionCritic`), a critic without
  ``env.global_state`` (``critic_state="none"``), the shares' initial values (``share_init``),
  the exact discrete loss with P-DQN share gradients (``discrete_actor_loss="expected"``) and an
  actor loss that prices agent i's action against the other agents' *current* deterministic
  actions instead of the replayed ones (``actor_others="current"``, FACMAC's centralised policy
  gradient, Peng et al. 2021): the replayed ones carry the others' past exploration and
  policies, not what they will do (docs/seed000_learners.md has the measured effect), and
  policy improvement by search (``discrete_actor_loss="search"``, `Core.search_loss`): each head's
  logits learn, by cross-entropy, the option its critic scores best with the agent's other heads at
  their current options, while the shares keep the straight-through gradient.

Reproduces: the "plain MADDPG" baseline of seed 000's Fig. 5 / Table 3 (the MADDPG-CGAN issue builds
on this module). Defaults: spec §8.9, except where marked "CPU" (see `Config`) and choices of ours
named in docs/DEVIATIONS.md: ``gamma = 0.5`` (spec 0.95, a gap), the noise in the
share box rather than on the pre-activations (a share stuck on the sigmoid's flat end was never
explored again), and, where the env describes its observation layout (dt_inference), the
per-option actor, the task-factored critic without the global state and ``share_init = (0.2,
0.9)``: with the spec's flat MLPs the policy collapsed onto local execution and never beat greedy
(``critic_arch=mlp actor_arch=mlp critic_state=global share_init=`` restores them).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from algos.common import obs_layout, replay
from algos.common.actions import ActionSpec
from algos.common.networks import MLP, PerOptionCritic, init_per_agent, linear_schedule, per_agent, soft_update
from algos.common.training import (
    ActorCriticState as TrainState, OffPolicyConfig, ReplaySpec, Trainer, env_metrics, gated_updates, hparams,
    make_optimizer, make_trainer, replay_capacity, schedule, select, step_envs,
)

TRACED = ("lr_actor", "lr_critic", "gamma", "tau", "noise_start", "noise_end", "gumbel_temperature",
          "reward_scale", "logit_reg", "share_reg", "search_weight")
ACTION_SPACES = ("discrete", "multi_discrete", "hybrid")
ACTOR_OTHERS = ("replay", "current")
DISCRETE_ACTOR_LOSSES = ("straight_through", "expected", "search")
# share_init=None: per env, the shares a zero actor output starts from (dt_inference: phi_f, phi_b:
# a low CPU request and a high bandwidth request); elsewhere the box midpoint.
SHARE_INIT_BY_ENV = {"dt_inference": (0.2, 0.9)}


@dataclasses.dataclass(frozen=True)
class Config(OffPolicyConfig):
    """Spec §8.9 defaults unless marked CPU (sized so the default run fits 10 min on 2 CPU cores).
    Run sizes (`OffPolicyConfig`): 64k env steps (CPU: 4k vector steps x 16 envs; spec: 300 episodes
    x 100 steps), batch 256, warm-up 1,000 env steps (spec 2,000), one update per vector step."""

    actor_hidden: Sequence[int] = (64, 64)  # CPU (spec: 256, 256)
    actor_arch: str = "auto"  # "mlp"; "per_head": one net shared by every task; "per_option": by every (task, server) pair; "auto": per_option where the env has the layout
    critic_hidden: Sequence[int] = (128, 128)  # CPU (spec: 512, 256)
    critic_arch: str = "auto"  # "mlp"; "per_option": Q = sum over heads of one net on the head's chosen option, its features and load; "auto" as actor_arch
    critic_state: str = "none"  # critic input besides o_i and all actions: "global" (env.global_state) or "none" (dt_inference: the others matter through their actions)
    lr_actor: float = 1e-3  # spec 1e-4: the policy collapses to low local shares and recovers too slowly for a CPU run
    lr_critic: float = 1e-3
    gamma: float = 0.5  # spec 0.95 ([G]); 0.5: the battery is the only coupling between steps (docs/DEVIATIONS.md)
    tau: float = 0.01
    buffer_size: int = 25_000  # CPU: a quarter of the memory and checkpoint size (spec: 1e5)
    gumbel_temperature: float = 1.0
    noise_start: float = 0.1
    noise_end: float = 0.02
    noise_fraction: float = 0.6
    eps_min: float = 0.05
    logit_reg: float = 0.03  # L2 on the discrete logits (keeps the choice stochastic in training)
    share_reg: float = 0.03  # L2 on the shares' pre-activations (keeps them off the sigmoid's flat ends)
    reward_scale: float = 1.0
    per_choice_shares: bool = True  # continuous outputs per discrete choice (ActionSpec.per_choice)
    share_init: Sequence[float] | None = None  # each per-head continuous entry at a zero actor output; None: SHARE_INIT_BY_ENV (dt_inference (0.2, 0.9)); () = box midpoint
    discrete_actor_loss: str = "straight_through"  # or "expected": exact E_pi[Q] over each head's options + P-DQN share gradients (~3x slower on CPU; segfaults in jaxlib 0.10.2 CPU under a run vmap; train.py then runs seeds one at a time on a CPU); or "search": the logits learn the critic's best option per head (`Core.search_loss`), the shares the straight-through gradient
    search_batch: int = 32  # "search": minibatch rows searched per update (each costs heads x options critic calls)
    search_weight: float = 1.0  # "search": weight of the cross-entropy toward the searched options
    share_params: bool = False  # True: one actor and one critic trained on every agent's data
    actor_others: str = "replay"  # the other agents' actions in the actor loss: "replay" (standard MADDPG) or "current" (their current deterministic policies; FACMAC's centralised policy gradient)


def relative_order(n: int) -> np.ndarray:
    """``int[n, n]``; row i lists agents i, i+1, ... (mod n): the agent-relative layout (A41)."""
    return (np.arange(n)[:, None] + np.arange(n)[None, :]) % n


def joint_critic_inputs(order, gstate, obs, act):
    """``x[i] = [s, o_i, a_i, a_{i+1}, ...]``: the global state (``critic_state="global"``; left out
    with ``gstate=None``), agent i's observation and every action in agent-relative order (A41,
    ``order = relative_order(n)``); ``obs [B, n, o]``, ``act [B, n, a]`` -> ``[n, B, D]``."""
    n = order.shape[0]
    rel = jnp.moveaxis(act[:, order], 1, 0).reshape(n, act.shape[0], -1)
    own = [jnp.swapaxes(obs, 0, 1), rel]
    if gstate is not None:
        own.insert(0, jnp.broadcast_to(gstate, (n,) + gstate.shape))
    return jnp.concatenate(own, -1)


@dataclasses.dataclass(frozen=True)
class Core:
    """The networks and per-agent updates of MADDPG, shared with MADDPG-CGAN.

    Critic inputs are per agent, ``x: [n, B, D]``, with agent i's own action at ``own_slot`` of
    ``x[i]``; how ``x`` is assembled (true joint data here, twin features in MADDPG-CGAN) is the
    learner's business.
    """

    cfg: Config
    spec: ActionSpec
    n: int
    obs_dim: int
    head_layout: tuple | None = None
    option_offsets: tuple | None = None
    critic_layout: tuple | None = None  # (start of agent i's observation, of the owner-first actions) in x[i]
    critic_module: object = None  # a learner's own critic network (flax module on x[i] -> [..., 1]); None: from critic_arch

    @classmethod
    def build(cls, cfg: Config, env, params, critic_layout: tuple | None = None) -> "Core":
        if cfg.actor_others not in ACTOR_OTHERS:
            raise ValueError(f"unknown actor_others {cfg.actor_others!r}; valid: {', '.join(ACTOR_OTHERS)}")
        if cfg.discrete_actor_loss not in DISCRETE_ACTOR_LOSSES:
            raise ValueError(f"unknown discrete_actor_loss {cfg.discrete_actor_loss!r}; "
                             f"valid: {', '.join(DISCRETE_ACTOR_LOSSES)}")
        spec = ActionSpec.from_env(env, params, cfg.eps_min)
        if cfg.per_choice_shares and spec.cont_by_head:
            spec = dataclasses.replace(spec, per_choice=True)
        share_init = SHARE_INIT_BY_ENV.get(env.name, ()) if cfg.share_init is None else cfg.share_init
        spec = dataclasses.replace(spec, cont_init=tuple(share_init))
        head_layout, option_offsets = obs_layout.head_obs_layout(env), obs_layout.option_obs_offsets(env)
        structured = head_layout is not None and bool(option_offsets) and spec.per_choice
        auto = "per_option" if structured else "mlp"
        cfg = dataclasses.replace(cfg, actor_arch=auto if cfg.actor_arch == "auto" else cfg.actor_arch,
                                  critic_arch=auto if cfg.critic_arch == "auto" else cfg.critic_arch)
        core = cls(cfg, spec, env.num_agents, env.observation_space(params).shape[-1], head_layout,
                   option_offsets, critic_layout)
        core.critic  # noqa: B018 (fail at build time on a bad critic_arch)
        return core

    @property
    def actor(self):
        return self.spec.actor(self.cfg.actor_hidden, self.cfg.actor_arch, self.head_layout, self.option_offsets)

    @property
    def critic(self):
        if self.critic_module is not None:
            return self.critic_module
        arch, spec = self.cfg.critic_arch, self.spec
        if arch == "mlp":
            return MLP(tuple(self.cfg.critic_hidden), 1)
        if arch != "per_option":
            raise ValueError(f"unknown critic_arch {arch!r}; valid: 'mlp', 'per_option'")
        if self.head_layout is None or not self.option_offsets or not spec.cont_by_head:
            raise ValueError("critic_arch='per_option' needs an env with head_obs_layout, option_obs_offsets "
                             "and a continuous shape head_shape + (k,)")
        if self.critic_layout is None:
            raise ValueError("critic_arch='per_option' needs Core.build(..., critic_layout=(obs_start, act_start))")
        offset, width = self.head_layout
        obs_start, act_start = self.critic_layout
        return PerOptionCritic(tuple(self.cfg.critic_hidden), self.n, obs_start, self.obs_dim, act_start,
                               spec.heads, offset, width, spec.n_choices, tuple(self.option_offsets),
                               spec.per_head_cont)

    @property
    def tx(self):
        return make_optimizer(self.cfg.max_grad_norm)

    def actors(self, p, obs):
        """Every agent's actor on its own observation: ``obs [..., n, obs_dim] -> [..., n, n_logits]``."""
        return per_agent(self.actor, p, obs)

    def init_networks(self, key, hp, critic_in_dim: int) -> dict:
        k_a, k_c = jax.random.split(key)
        keys_a, keys_c = jax.random.split(k_a, self.n), jax.random.split(k_c, self.n)
        if self.cfg.share_params:  # identical copies, kept identical by `_shared`
            keys_a, keys_c = jnp.broadcast_to(k_a, keys_a.shape), jnp.broadcast_to(k_c, keys_c.shape)
        actor_p = init_per_agent(self.actor, keys_a, jnp.zeros((self.obs_dim,)))
        critic_p = init_per_agent(self.critic, keys_c, jnp.zeros((critic_in_dim,)))
        return dict(
            actor=actor_p, critic=critic_p, actor_target=actor_p, critic_target=critic_p,
            actor_opt=jax.vmap(self.tx(learning_rate=hp["lr_actor"]).init)(actor_p),
            critic_opt=jax.vmap(self.tx(learning_rate=hp["lr_critic"]).init)(critic_p),
        )

    def init_state(self, key, hp, critic_in_dim: int, env, params, num_envs: int, buffer) -> TrainState:
        """The learner's state at step 0: the networks, ``num_envs`` freshly reset envs, ``buffer``."""
        k_net, k_env, key = jax.random.split(key, 3)
        nets = self.init_networks(k_net, hp, critic_in_dim)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_env, num_envs), params)
        return TrainState(**nets, buffer=buffer, env_state=env_state, obs=obs, key=key, step=jnp.zeros((), jnp.int32),
                          hp=hp)

    def critics(self, p, x):
        """``x [n, B, D] -> Q [n, B]``, agent i's critic on ``x[i]``."""
        return jax.vmap(lambda q, x_i: self.critic.apply(q, x_i)[..., 0])(p, x)

    def _shared(self, grads):
        """Parameter sharing: every agent's copy takes the agent-mean gradient."""
        if not self.cfg.share_params:
            return grads
        return jax.tree_util.tree_map(lambda g: jnp.broadcast_to(g.mean(0), g.shape), grads)

    def _step(self, params, opt, grads, lr):
        upd, opt = jax.vmap(self.tx(learning_rate=lr).update)(self._shared(grads), opt, params)
        return jax.tree_util.tree_map(lambda p, u: p + u, params, upd), opt

    def td_target(self, hp, q_next, reward, terminated):
        """``y_i = r_i + gamma (1 - term) Q'_i(s', mu'(o'))`` (eq. 20 read as standard MADDPG, A29)."""
        not_term = 1.0 - terminated.astype(jnp.float32)
        return jax.lax.stop_gradient(hp["reward_scale"] * reward.T + hp["gamma"] * not_term * q_next)

    def critic_update(self, rs, x, y):
        """Eq. 21 for every agent: ``(critic, critic_opt, loss [n])``."""

        def loss(q_params, x_i, y_i):
            return jnp.mean((self.critic.apply(q_params, x_i)[..., 0] - y_i) ** 2)

        c_loss, grads = jax.vmap(jax.value_and_grad(loss))(rs.critic, x, y)
        critic, opt = self._step(rs.critic, rs.critic_opt, grads, rs.hp["lr_critic"])
        return critic, opt, c_loss

    def actor_update(self, rs, critic_p, x, own_slot: slice, obs_own, key):
        """Eq. 22 read as standard MADDPG (A29): agent i maximises its online critic with only its own
        action from the current policy. ``obs_own [n, B, obs_dim]``. Returns ``(actor, actor_opt,
        loss [n], q [n])``."""
        hp, spec = rs.hp, self.spec

        def loss(a_params, q_params, x_i, obs_i, k):
            out = self.actor.apply(a_params, obs_i)
            one_hot, cont = spec.sample(k, out, hp["gumbel_temperature"], 0.0)
            d = spec.heads * spec.n_choices
            reg = hp["logit_reg"] * jnp.mean(out[..., :d] ** 2)
            if out.shape[-1] > d:  # shares exist (hybrid); the mean of an empty slice would be NaN
                reg = reg + hp["share_reg"] * jnp.mean(out[..., d:] ** 2)
            if self.cfg.discrete_actor_loss == "expected":
                q = self.expected_q(q_params, x_i, own_slot, out, jax.lax.stop_gradient(one_hot))
            elif self.cfg.discrete_actor_loss == "search":
                # the choice's one-hot is held fixed in the critic term: the logits learn the choice from the
                # search, and the critic's gradient reaches them only through the chosen shares (`ActionSpec.chosen`)
                hard = jax.lax.stop_gradient(one_hot)
                q = self.critic.apply(q_params, x_i.at[:, own_slot].set(spec.critic_action(hard, cont)))[..., 0]
                reg = reg + hp["search_weight"] * self.search_loss(q_params, x_i, own_slot, out)
            else:
                q = self.critic.apply(q_params, x_i.at[:, own_slot].set(spec.critic_action(one_hot, cont)))[..., 0]
            return -q.mean() + reg, q.mean()

        (a_loss, q_mean), grads = jax.vmap(jax.value_and_grad(loss, has_aux=True))(
            rs.actor, critic_p, x, obs_own, jax.random.split(key, self.n)
        )
        actor, opt = self._step(rs.actor, rs.actor_opt, grads, hp["lr_actor"])
        return actor, opt, a_loss, q_mean

    def search_loss(self, q_params, x_i, own_slot: slice, out):
        """Policy improvement by search: the cross-entropy of each head's logits toward the option
        the critic scores best with the agent's other heads at their current argmax options (one
        coordinate-ascent sweep of the agent's own assignment, the others' actions as in ``x_i``),
        on the first ``search_batch`` rows. The straight-through gradient is a first-order guess
        at one vertex; the search compares every option's value directly."""
        out, x_i = out[:self.cfg.search_batch], jax.lax.stop_gradient(x_i[:self.cfg.search_batch])
        frozen = jax.lax.stop_gradient(out)
        mode, _ = self.spec.deterministic(frozen)
        q_alt = self.option_values(q_params, x_i, own_slot, frozen, mode)
        best = jnp.argmax(jnp.where(self.spec.mask, q_alt, -jnp.inf), -1)  # [b, H]
        logits, _ = self.spec.split(out)
        return -jnp.take_along_axis(jax.nn.log_softmax(logits, -1), best[..., None], -1).mean()

    def expected_q(self, q_params, x_i, own_slot: slice, out, one_hot):
        """``[B]``: mean over heads h of ``sum_c pi_h(c) Q(x_i with head h set to option c)``.

        Option c carries its own shares (per-choice) and the other heads keep ``one_hot``'s options.
        The logits get the gradient of this exact expectation over the discrete options (the
        straight-through Gumbel gradient is a first-order guess at one vertex). The shares get the
        gradient of the mean over options of ``Q(option c)``, as in P-DQN (Xiong et al. 2018): every
        option's shares are trained to be good for that option, however unlikely the policy makes
        it, so an option whose shares were never tuned does not look bad forever (seen on
        dt_inference: unvisited server options kept their initial CPU share and the policy
        collapsed onto local execution). The value returned is the expectation.
        """
        logits, _ = self.spec.split(out)
        q_alt = self.option_values(q_params, x_i, own_slot, out, one_hot)  # [B, H, C]
        expected = (jax.nn.softmax(logits, axis=-1) * jax.lax.stop_gradient(q_alt)).sum(-1).mean(-1)
        every_option = q_alt.mean((-1, -2))  # P-DQN: each option's shares maximise that option's Q
        return expected + every_option - jax.lax.stop_gradient(every_option)

    def option_values(self, q_params, x_i, own_slot: slice, out, one_hot):
        """``Q [B, H, C]`` of ``x_i`` with head h set to option c (carrying that option's shares with
        ``per_choice``) and the other heads kept at ``one_hot``'s options and their shares."""
        spec = self.spec
        _, pre = spec.split(out)
        values = spec.squash(pre)  # [B, H, C, k] (per choice) or [B, H*k]
        heads, choices = spec.heads, spec.n_choices
        cur = spec.chosen(one_hot, values).reshape(one_hot.shape[:-1] + (-1,))  # [B, H, k]
        eye = jnp.eye(heads)[:, None, :, None]  # [alt head, 1, head, 1]
        alt_oh = eye * jnp.eye(choices)[None, :, None, :] + (1 - eye) * one_hot[:, None, None]  # [B,H,C,H,C]
        per_c = values if spec.per_choice else jnp.broadcast_to(cur[:, :, None], cur.shape[:2] + (choices,) + cur.shape[2:])
        alt_cont = eye * per_c[:, :, :, None, :] + (1 - eye) * cur[:, None, None]  # [B, H, C, H, k]
        alt_act = spec.critic_action(alt_oh, alt_cont.reshape(alt_oh.shape[:3] + (-1,)))  # [B, H, C, critic_dim]

        def wide(part):
            return jnp.broadcast_to(part[:, None, None], alt_act.shape[:3] + part.shape[-1:])

        x_alt = jnp.concatenate([wide(x_i[:, :own_slot.start]), alt_act, wide(x_i[:, own_slot.stop:])], -1)
        return self.critic.apply(q_params, x_alt.reshape(-1, x_alt.shape[-1])).reshape(x_alt.shape[:3])

    def learn(self, rs, x, x_next, reward, terminated, own_slot: slice, obs_own, key, x_actor=None):
        """One MADDPG update from assembled critic inputs ``x`` / ``x_next`` ``[n, B, D]``: targets with
        the target critics, the critic step, the actor step on the new critic (on ``x_actor`` where
        given: ``actor_others="current"``), soft target updates. Returns ``(rs, metrics)``."""
        y = self.td_target(rs.hp, self.critics(rs.critic_target, x_next), reward, terminated)
        critic_p, critic_opt, c_loss = self.critic_update(rs, x, y)
        actor_p, actor_opt, a_loss, q = self.actor_update(rs, critic_p, x if x_actor is None else x_actor, own_slot,
                                                          obs_own, key)
        rs = rs.replace(actor=actor_p, critic=critic_p, actor_opt=actor_opt, critic_opt=critic_opt,
                        **self.soft_update_targets(rs, actor_p, critic_p))
        return rs, {"critic_loss": c_loss.mean(), "actor_loss": a_loss.mean(), "q": q.mean()}

    def soft_update_targets(self, rs, actor_p, critic_p):
        return dict(actor_target=soft_update(rs.actor_target, actor_p, rs.hp["tau"]),
                    critic_target=soft_update(rs.critic_target, critic_p, rs.hp["tau"]))

    def exploration_sigma(self, rs, sizes):
        return linear_schedule(rs.hp["noise_start"], rs.hp["noise_end"], self.cfg.noise_fraction,
                               sizes.learn_progress(rs.step))

    def act(self, rs, obs):
        """Deterministic decentralised policy for one env: argmax targets, noiseless shares."""
        one_hot, cont = self.spec.deterministic(self.actors(rs.actor, obs))
        return self.spec.env_action(one_hot, cont)


def make_train(cfg: Config, env, params) -> Trainer:
    _, state0 = jax.eval_shape(env.reset, jax.random.PRNGKey(0), params)
    if cfg.critic_state not in ("global", "none"):
        raise ValueError(f"unknown critic_state {cfg.critic_state!r}; valid: 'global', 'none'")
    use_state = cfg.critic_state == "global"
    s_dim = jax.eval_shape(env.global_state, state0, params).shape[-1] if use_state else 0
    obs_dim = env.observation_space(params).shape[-1]
    core = Core.build(cfg, env, params, critic_layout=(s_dim, s_dim + obs_dim))
    spec, n = core.spec, core.n
    sizes = schedule(cfg, warmup_steps=cfg.warmup_steps)
    capacity = replay_capacity(cfg, sizes)
    E = cfg.num_envs
    order = relative_order(n)
    states = dict(gstate=jax.ShapeDtypeStruct((s_dim,), jnp.float32),
                  next_gstate=jax.ShapeDtypeStruct((s_dim,), jnp.float32)) if use_state else {}
    example = dict(  # replay stores the global states only for a critic that reads them
        obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
        act=jax.ShapeDtypeStruct((n, spec.critic_dim), jnp.float32),
        reward=jax.ShapeDtypeStruct((n,), jnp.float32),
        next_obs=jax.ShapeDtypeStruct((n, obs_dim), jnp.float32),
        terminated=jax.ShapeDtypeStruct((), jnp.bool_),
        **states,
    )
    own_slot = slice(s_dim + obs_dim, s_dim + obs_dim + spec.critic_dim)  # agent i's action in x[i]

    def critic_inputs(gstate, obs, act):
        return joint_critic_inputs(order, gstate, obs, act)

    def env_step(rs_key, env_state, obs, one_hot, cont):
        act = jax.vmap(spec.env_action)(one_hot, cont)
        gstate = jax.vmap(env.global_state, in_axes=(0, None))(env_state, params)
        next_obs, env_state, reward, term, trunc, info, next_g = step_envs(
            env, jax.random.split(rs_key, E), env_state, act, params
        )
        transition = dict(obs=obs, gstate=gstate, act=spec.critic_action(one_hot, cont), reward=reward,
                          next_obs=info["final_observation"], next_gstate=next_g, terminated=term)
        transition = {k: v for k, v in transition.items() if k in example}  # unused states: compiled away
        return next_obs, env_state, transition, env_metrics(reward, info)

    def init(key, hp):
        return core.init_state(key, hp, s_dim + obs_dim + n * spec.critic_dim, env, params, E,
                               replay.init(example, capacity))

    def update(rs: TrainState, key):
        k_batch, k_actor = jax.random.split(key)
        b = replay.sample(rs.buffer, k_batch, cfg.batch_size)
        next_act = spec.critic_action(*spec.deterministic(core.actors(rs.actor_target, b["next_obs"])))
        x_next = critic_inputs(b.get("next_gstate"), b["next_obs"], next_act)
        x = critic_inputs(b.get("gstate"), b["obs"], b["act"])
        x_actor = None
        if cfg.actor_others == "current":
            current = spec.critic_action(*spec.deterministic(core.actors(rs.actor, b["obs"])))
            x_actor = critic_inputs(b.get("gstate"), b["obs"], jax.lax.stop_gradient(current))
        return core.learn(rs, x, x_next, b["reward"], b["terminated"], own_slot, jnp.swapaxes(b["obs"], 0, 1), k_actor,
                          x_actor)

    def iteration(rs: TrainState, i):
        del i  # nothing periodic
        key, k_act, k_rand, k_step, k_upd = jax.random.split(rs.key, 5)
        learning = rs.step >= sizes.warmup_iters  # warm-up: uniformly random actions, no updates
        sigma = core.exploration_sigma(rs, sizes)
        one_hot, cont = spec.sample(k_act, core.actors(rs.actor, rs.obs), rs.hp["gumbel_temperature"], sigma)
        one_hot, cont = select(learning, (one_hot, cont), spec.random_critic_action(k_rand, (E,)))
        obs, env_state, tr, metrics = env_step(k_step, rs.env_state, rs.obs, one_hot, cont)
        rs = rs.replace(buffer=replay.add(rs.buffer, tr), obs=obs, env_state=env_state, key=key)
        rs, losses = gated_updates(learning, update, rs, jax.random.split(k_upd, cfg.updates_per_step))
        metrics.update(losses)
        return rs.replace(step=rs.step + 1), metrics

    return make_trainer(init, iteration, core.act, cfg, hparams(cfg, TRACED), sizes, ReplaySpec(example, capacity))
