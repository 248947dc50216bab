"""DQN on `collab_edge`: seed 003's DQN baseline as released (``baselines/DQN``, spec §6).

Q-network MLP 128-128 -> B over the state [d, rho d, queue]; Adam lr 1e-3; gamma = 0.95; target
r + gamma max_a Q~(s', a) from a hard-copied target network every 200 updates; MSE loss;
epsilon-greedy acting with a 0.99 probability of the greedy action; one update per slot once the
replay (FIFO 10k, batch 64) holds > 500 transitions. One iteration = one slot of the per-task env
(`algos.common.task_slots`); padded steps never stored. PyTorch's layer initialisation, as the code.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import optax

from algos.common.networks import TorchMLP
from algos.common.task_slots import Agent, SlotRunConfig, adam, check_env, make_slot_trainer
from algos.common.training import Trainer, hparams

TRACED = ("lr", "gamma", "epsilon")
ACTION_SPACES = ("discrete",)
ENVS = ("collab_edge",)


@dataclasses.dataclass(frozen=True)
class Config(SlotRunConfig):
    """The released DQN's constants (spec §6); run sizes from `SlotRunConfig`."""

    hidden: Sequence[int] = (128, 128)
    lr: float = 1e-3
    gamma: float = 0.95
    epsilon: float = 0.01  # probability of a uniformly random action ([C]: greedy with probability 0.99)
    target_period: int = 200  # updates between hard target copies


def make_train(cfg: Config, env, params) -> Trainer:
    check_env(env, params, "dqn")
    B, obs_dim = env.n_servers, env.obs_dim
    net = TorchMLP(tuple(cfg.hidden), B)
    tx = adam(cfg.max_grad_norm)

    def init(key, hp):
        q = net.init(key, jnp.zeros((obs_dim,)))
        return dict(q=q, q_target=q, opt=tx(learning_rate=hp["lr"]).init(q), updates=jnp.zeros((), jnp.int32))

    def draw_noise(key, n):
        k_u, k_a = jax.random.split(key)
        return dict(u=jax.random.uniform(k_u, (n,)), a=jax.random.randint(k_a, (n,), 0, B))

    def decide(ln, obs_row, x_in, noise, hp):
        greedy = jnp.argmax(net.apply(ln["q"], obs_row))
        action = jnp.where(noise["u"] < hp["epsilon"], noise["a"], greedy)
        return action.astype(jnp.int32), None

    def update(ln, b, key, hp):
        del key
        y = b["reward"] + hp["gamma"] * net.apply(ln["q_target"], b["next_obs"]).max(-1)
        y = jax.lax.stop_gradient(y)

        def loss_fn(q):
            q_sa = jnp.take_along_axis(net.apply(q, b["obs"]), b["action"][:, None], -1)[:, 0]
            return ((q_sa - y) ** 2).mean()

        loss, grads = jax.value_and_grad(loss_fn)(ln["q"])
        upd, opt = tx(learning_rate=hp["lr"]).update(grads, ln["opt"], ln["q"])
        q = optax.apply_updates(ln["q"], upd)
        updates = ln["updates"] + 1
        copy = updates % cfg.target_period == 0
        q_target = jax.tree_util.tree_map(lambda t, o: jnp.where(copy, o, t), ln["q_target"], q)
        return dict(q=q, q_target=q_target, opt=opt, updates=updates), {"q_loss": loss}

    def act(ln, obs):
        return jnp.argmax(net.apply(ln["q"], obs), -1).astype(jnp.int32)

    agent = Agent(init=init, draw_noise=draw_noise, decide=decide, update=update, act=act)
    return make_slot_trainer(cfg, env, params, agent, hparams(cfg, TRACED))
