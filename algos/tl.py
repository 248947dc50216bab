"""TL: conventional transfer learning by behaviour cloning (seed 004 spec §7, eq. 26): the HAPPO
recurrent local actor (`algos.happo.RecurrentActor`, one per UE slot, on the local state (24))
regresses a teacher's actions by MSE.

* **Teacher**: any deterministic policy of the env (``Config.teacher``): a `cloud_edge` heuristic by
  name (``greedy_decollide`` by default, which proves the machinery without a trained model) or
  ``"tac"``, the centralised TAC of a trained run loaded from its checkpoint directory
  (``teacher_from``, restored by `algos.tac.load_run` through `algos.common.checkpoint`; student
  seed s clones TAC seed s where the TAC run has it, else its first run). Its label per UE is
  A* = (p_x, p_l, a, b): the TAC actor's probabilities, or one-hots of a heuristic's (x, l).
* **Data** ("the same labelled data", spec A12): every iteration rolls the TEACHER out for
  ``rollout_len`` rounds in ``num_envs`` envs (its state distribution, what TAC's replay holds, here
  without exploration noise) and labels every present UE; the student's GRU runs along so each
  rollout starts from the student's own memory, restarted at every episode start.
* **Loss (26)**: ``|{A^n} - A*|^2`` summed over the L + 5 components (softmax p_x, softmax p_l and the
  squashed a, b of the student; equal weights [G]), averaged over present UEs and rounds;
  ``update_epochs`` x ``num_minibatches`` Adam steps on whole env sequences per iteration.
* Execution: the student alone, per UE, from its local state (argmax heads, squashed ratios), its GRU
  memory carried (`Trainer.memory`).

Deviations: labels come from teacher rollouts streamed during training instead of TAC's replay
memory; one Adam over the stacked per-slot students (their global-norm clip is shared).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import struct

from algos.common.actions import ActionSpec
from algos.common.training import RunConfig, Trainer, check_positive_ints, env_metrics, hparams, make_optimizer, \
    make_trainer, schedule
from algos.happo import LOCAL_DIM, N_FEATURES, RecurrentActor, apply_agents, local_states, masked_mean, unroll
from algos.ippo import RunningStats, deterministic
from jaxedge.wrappers import VecEnv

TRACED = ("lr",)
ACTION_SPACES = ("hybrid",)
ENVS = ("cloud_edge",)


@dataclasses.dataclass(frozen=True)
class Config(RunConfig):
    total_env_steps: int = 24_000  # CPU: 10 episodes of 600 rounds in each of 4 envs
    num_envs: int = 4
    chunk_size: int = 10
    rollout_len: int = 150
    update_epochs: int = 4
    num_minibatches: int = 1  # of whole env sequences (must divide num_envs)
    lr: float = 1e-3
    max_grad_norm: float = 10.0
    hidden: Sequence[int] = (64,)  # the HAPPO actor (algos.happo.Config)
    gru: int = 64
    activation: str = "relu"
    eps_min: float = 1e-3
    normalize_obs: bool = True
    teacher: str = "greedy_decollide"  # a cloud_edge heuristic, or "tac" (a trained TAC run: teacher_from)
    teacher_from: str = ""  # the TAC run's checkpoint directory (teacher="tac")

    def __post_init__(self):
        super().__post_init__()
        check_positive_ints(self, ("rollout_len", "update_epochs", "num_minibatches", "gru"))
        if self.num_envs % self.num_minibatches:
            raise ValueError(f"Config.num_minibatches ({self.num_minibatches}) must divide num_envs ({self.num_envs})")
        if self.teacher == "tac" and not self.teacher_from:
            raise ValueError("Config.teacher='tac' needs teacher_from (a trained TAC run directory)")


# ---- teachers -------------------------------------------------------------------------------------
@struct.dataclass
class Teacher:
    """A deterministic teacher: ``label(tparams, key, obs, state) -> (probs [n, heads, n_choices],
    cont [n, cont_dim])`` for one env. ``tparams`` (a pytree, e.g. TAC's actor) rides in the runner
    state; with ``keys`` it is stacked over the teacher's runs and each student run takes the one whose
    PRNG key (seed) it shares, else the first; ``label`` is static."""

    tparams: object
    label: Callable = struct.field(pytree_node=False)
    keys: object = None  # [runs, 2] the teacher runs' PRNG keys

    def pick(self, key):
        if self.keys is None:
            return self.tparams
        match = jnp.all(self.keys == key, -1)
        i = jnp.where(match.any(), jnp.argmax(match), 0)
        return jax.tree_util.tree_map(lambda x: x[i], self.tparams)


def action_labels(spec: ActionSpec, action):
    """A deterministic env action -> labels: one-hot of every discrete head, the continuous values."""
    return jax.nn.one_hot(action.discrete, spec.n_choices), action.continuous.reshape(spec.n_agents, spec.cont_dim)


def policy_teacher(spec: ActionSpec, policy, params) -> Teacher:
    """Any ``policy(key, obs, state, params) -> action`` (e.g. a heuristic) as a one-hot teacher."""
    return Teacher(None, lambda tp, key, obs, state: action_labels(spec, policy(key, obs, state, params)))


def tac_teacher(spec: ActionSpec, cfg: Config, env, params) -> Teacher:
    """The centralised TAC of a trained run (its checkpoint in ``cfg.teacher_from``) as teacher, its
    labels the actor's (p_x, p_l, a, b)."""
    from algos import tac  # imported lazily: TL works without it

    run = tac.load_run(Path(cfg.teacher_from), env, params)
    n_l = env.n_channels
    pad = lambda p: jnp.pad(p, ((0, 0), (0, spec.n_choices - p.shape[-1])))  # noqa: E731

    def label(tp, key, obs, state):
        out = tac.policy_outputs(run.actor, tp, obs, run.min_ratio, tac.Channels.of(run.config))  # [N, L + 5]
        return jnp.stack([pad(out[:, :3]), pad(out[:, 3:3 + n_l])], -2), out[:, 3 + n_l:]

    keys = jnp.stack([jax.random.PRNGKey(s) for s in run.seeds])
    return Teacher(run.state.actor, label, keys)


def make_teacher(spec: ActionSpec, cfg: Config, env, params) -> Teacher:
    if cfg.teacher == "tac":
        return tac_teacher(spec, cfg, env, params)
    from algos import heuristics

    return policy_teacher(spec, heuristics.make_heuristic(env, cfg.teacher), params)


# ---- the loss (26) ----------------------------------------------------------------------------------
def student_labels(spec: ActionSpec, out):
    """The student's A^n in the label layout: softmax of every (masked) head, squashed continuous."""
    logits, pre = spec.split(out)
    return jax.nn.softmax(logits, -1), spec.squash(pre)


def bc_loss(spec: ActionSpec, out, probs, cont, mask):
    """(26): squared error summed over the L + 5 components, mean over the present UEs (``mask``)."""
    s_probs, s_cont = student_labels(spec, out)
    err = ((s_probs - probs) ** 2).sum((-1, -2)) + ((s_cont - cont) ** 2).sum(-1)
    return masked_mean(err, mask)


# ---- the trainer ------------------------------------------------------------------------------------
@struct.dataclass
class TrainState:
    student: dict  # stacked on the agent axis
    opt: object
    env_state: object
    obs: jax.Array
    h: jax.Array  # [E, n, gru] the student's memory
    first: jax.Array  # [E]
    obs_stats: RunningStats
    teacher: object  # Teacher.tparams
    key: jax.Array
    hp: dict


def make_train(cfg: Config, env, params) -> Trainer:
    spec = ActionSpec.from_env(env, params, cfg.eps_min)
    n, K, E, T = env.num_agents, env.n_cells, cfg.num_envs, cfg.rollout_len
    student = RecurrentActor(tuple(cfg.hidden), cfg.gru, spec.n_logits, cfg.activation)
    teacher = make_teacher(spec, cfg, env, params)
    sizes = schedule(cfg, env_steps_per_iter=E * T)
    tx = make_optimizer(cfg.max_grad_norm)
    venv = VecEnv(env)
    mb = E // cfg.num_minibatches

    def local(obs_stats, obs):
        return local_states(obs, K, obs_stats if cfg.normalize_obs else None)

    def init(key, hp):
        k_s, k_env, key = jax.random.split(key, 3)
        p = jax.vmap(lambda k: student.init(k, jnp.zeros((cfg.gru,)), jnp.zeros((LOCAL_DIM,))))(jax.random.split(k_s, n))
        obs, env_state = venv.reset(jax.random.split(k_env, E), params)
        return TrainState(student=p, opt=tx(learning_rate=hp["lr"]).init(p), env_state=env_state, obs=obs,
                          h=jnp.zeros((E, n, cfg.gru)), first=jnp.ones((E,), bool),
                          obs_stats=RunningStats.create((N_FEATURES,)), teacher=teacher.pick(key), key=key, hp=hp)

    def env_step(carry, key):
        s_p, tp, obs_stats, env_state, raw, h, first = carry
        k_act, k_step = jax.random.split(key)
        x, mask = local(obs_stats, raw)
        h_new, _ = apply_agents(student, s_p, jnp.where(first[:, None, None], 0.0, h), x)
        keys = jax.random.split(k_act, E)
        probs, cont = jax.vmap(teacher.label, in_axes=(None, 0, 0, 0))(tp, keys, raw, env_state)
        idx = jnp.argmax(probs, -1)  # the teacher acts (deterministically)
        action = jax.vmap(spec.env_action_from_indices)(idx, cont)
        next_obs, env_state, reward, term, trunc, info = venv.step(jax.random.split(k_step, E), env_state, action,
                                                                   params)
        done = jnp.logical_or(term, trunc)
        tr = dict(x=x, raw=raw[..., :N_FEATURES], first=first, mask=mask, probs=probs, cont=cont)
        return (s_p, tp, obs_stats, env_state, next_obs, h_new, done), (tr, env_metrics(reward, info))

    def loss_fn(p, data, h0, envs):
        sel = lambda a: a[:, envs]  # noqa: E731
        out = jax.vmap(lambda pa, h, xs: unroll(student, pa, h, xs, sel(data["first"]))[1],
                       in_axes=(0, 1, 2), out_axes=2)(p, h0[envs], sel(data["x"]))
        return bc_loss(spec, out, sel(data["probs"]), sel(data["cont"]), sel(data["mask"]))

    def iteration(rs: TrainState, i):
        key, k_roll, k_upd = jax.random.split(rs.key, 3)
        (_, _, _, env_state, obs, h, first), (tr, metrics) = jax.lax.scan(
            env_step, (rs.student, rs.teacher, rs.obs_stats, rs.env_state, rs.obs, rs.h, rs.first),
            jax.random.split(k_roll, T))

        def minibatch(carry, envs):
            p, o = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, tr, rs.h, envs)
            upd, o = tx(learning_rate=rs.hp["lr"]).update(grads, o, p)
            return (jax.tree_util.tree_map(lambda a, u: a + u, p, upd), o), loss

        def epoch(carry, key):
            return jax.lax.scan(minibatch, carry, jax.random.permutation(key, E).reshape(cfg.num_minibatches, mb))

        (p, opt), losses = jax.lax.scan(epoch, (rs.student, rs.opt), jax.random.split(k_upd, cfg.update_epochs))
        metrics = jax.tree_util.tree_map(lambda v: v.mean(), metrics)
        metrics.update(bc_loss=losses[0, 0], bc_loss_last=losses[-1, -1])
        obs_stats = rs.obs_stats.update(tr["raw"]) if cfg.normalize_obs else rs.obs_stats
        return rs.replace(student=p, opt=opt, env_state=env_state, obs=obs, h=h, first=first, obs_stats=obs_stats,
                          key=key), metrics

    def memory(rs: TrainState):
        return jnp.zeros((n, cfg.gru))

    def act(rs: TrainState, obs, h):
        """The student alone, per UE from its local state (argmax heads, squashed ratios)."""
        h, out = apply_agents(student, rs.student, h, local(rs.obs_stats, obs)[0])
        idx, cont = deterministic(spec, out)
        return spec.env_action_from_indices(idx, cont), h

    return make_trainer(init, iteration, act, cfg, hparams(cfg, TRACED), sizes, memory=memory)
