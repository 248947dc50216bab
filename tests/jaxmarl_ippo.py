"""An IPPO trainer laid out like JaxMARL's ``baselines/IPPO/ippo_ff_mpe.py`` (FF actor-critic shared by
all agents, ``batchify`` / ``unbatchify`` over agent dicts, ``MPELogWrapper``, ``info`` reshaped to
``NUM_ACTORS``), used by tests to show a jaxedge env trains under JaxMARL code with no glue beyond
``JaxMARLAdapter(jaxedge.make(...), params)``. Not a jaxedge learner: the test's stand-in for user code.
"""

from __future__ import annotations

from typing import NamedTuple

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.linen.initializers import constant, orthogonal
from flax.training.train_state import TrainState
from jaxmarl.wrappers.baselines import MPELogWrapper


class ActorCritic(nn.Module):
    action_dim: int

    @nn.compact
    def __call__(self, x):
        def mlp(h, out, scale):
            for _ in range(2):
                h = nn.tanh(nn.Dense(64, kernel_init=orthogonal(np.sqrt(2)), bias_init=constant(0.0))(h))
            return nn.Dense(out, kernel_init=orthogonal(scale), bias_init=constant(0.0))(h)

        logits = mlp(x, self.action_dim, 0.01)
        value = mlp(x, 1, 1.0)
        return distrax.Categorical(logits=logits), jnp.squeeze(value, -1)


class Transition(NamedTuple):
    done: jax.Array
    action: jax.Array
    value: jax.Array
    reward: jax.Array
    log_prob: jax.Array
    obs: jax.Array
    info: dict


def batchify(x: dict, agents, num_actors):
    return jnp.stack([x[a] for a in agents]).reshape((num_actors, -1))


def unbatchify(x, agents, num_envs, num_agents):
    x = x.reshape((num_agents, num_envs, -1))
    return {a: x[i] for i, a in enumerate(agents)}


def make_train(config, env, random_policy: bool = False):
    """``env`` is any JaxMARL ``MultiAgentEnv`` (here a `JaxMARLAdapter`); returns ``train(rng)``."""
    config = dict(config)
    config["NUM_ACTORS"] = env.num_agents * config["NUM_ENVS"]
    config["NUM_UPDATES"] = config["TOTAL_TIMESTEPS"] // config["NUM_STEPS"] // config["NUM_ENVS"]
    config["MINIBATCH_SIZE"] = config["NUM_ACTORS"] * config["NUM_STEPS"] // config["NUM_MINIBATCHES"]
    env = MPELogWrapper(env)

    def train(rng):
        network = ActorCritic(env.action_space(env.agents[0]).n)
        rng, k = jax.random.split(rng)
        params = network.init(k, jnp.zeros(env.observation_space(env.agents[0]).shape))
        tx = optax.chain(optax.clip_by_global_norm(config["MAX_GRAD_NORM"]), optax.adam(config["LR"], eps=1e-5))
        train_state = TrainState.create(apply_fn=network.apply, params=params, tx=tx)
        rng, k = jax.random.split(rng)
        obsv, env_state = jax.vmap(env.reset)(jax.random.split(k, config["NUM_ENVS"]))

        def update_step(runner_state, _):
            def env_step(runner_state, _):
                train_state, env_state, last_obs, rng = runner_state
                obs_batch = batchify(last_obs, env.agents, config["NUM_ACTORS"])
                rng, k = jax.random.split(rng)
                pi, value = network.apply(train_state.params, obs_batch)
                if random_policy:
                    pi = distrax.Categorical(logits=jnp.zeros_like(pi.logits))
                action = pi.sample(seed=k)
                log_prob = pi.log_prob(action)
                env_act = unbatchify(action, env.agents, config["NUM_ENVS"], env.num_agents)
                rng, k = jax.random.split(rng)
                obsv, env_state, reward, done, info = jax.vmap(env.step)(
                    jax.random.split(k, config["NUM_ENVS"]), env_state, env_act
                )
                info = jax.tree.map(lambda x: x.reshape((config["NUM_ACTORS"])), info)
                transition = Transition(
                    batchify(done, env.agents, config["NUM_ACTORS"]).squeeze(), action, value,
                    batchify(reward, env.agents, config["NUM_ACTORS"]).squeeze(), log_prob, obs_batch, info,
                )
                return (train_state, env_state, obsv, rng), transition

            runner_state, traj = jax.lax.scan(env_step, runner_state, None, config["NUM_STEPS"])
            train_state, env_state, last_obs, rng = runner_state
            _, last_val = network.apply(train_state.params, batchify(last_obs, env.agents, config["NUM_ACTORS"]))

            def gae_step(carry, t):
                gae, next_value = carry
                delta = t.reward + config["GAMMA"] * next_value * (1 - t.done) - t.value
                gae = delta + config["GAMMA"] * config["GAE_LAMBDA"] * (1 - t.done) * gae
                return (gae, t.value), gae

            _, advantages = jax.lax.scan(gae_step, (jnp.zeros_like(last_val), last_val), traj, reverse=True)
            targets = advantages + traj.value

            def update_epoch(update_state, _):
                def update_minibatch(train_state, batch):
                    traj, gae, targets = batch

                    def loss_fn(params):
                        pi, value = network.apply(params, traj.obs)
                        log_prob = pi.log_prob(traj.action)
                        v_clip = traj.value + (value - traj.value).clip(-config["CLIP_EPS"], config["CLIP_EPS"])
                        v_loss = 0.5 * jnp.maximum(jnp.square(value - targets), jnp.square(v_clip - targets)).mean()
                        ratio = jnp.exp(log_prob - traj.log_prob)
                        g = (gae - gae.mean()) / (gae.std() + 1e-8)
                        clipped = jnp.clip(ratio, 1.0 - config["CLIP_EPS"], 1.0 + config["CLIP_EPS"])
                        actor = -jnp.minimum(ratio * g, clipped * g).mean()
                        return actor + config["VF_COEF"] * v_loss - config["ENT_COEF"] * pi.entropy().mean()

                    grads = jax.grad(loss_fn)(train_state.params)
                    if random_policy:
                        return train_state, None
                    return train_state.apply_gradients(grads=grads), None

                train_state, traj, advantages, targets, rng = update_state
                rng, k = jax.random.split(rng)
                batch_size = config["MINIBATCH_SIZE"] * config["NUM_MINIBATCHES"]
                perm = jax.random.permutation(k, batch_size)
                batch = jax.tree.map(lambda x: x.reshape((batch_size,) + x.shape[2:]), (traj, advantages, targets))
                batch = jax.tree.map(lambda x: jnp.take(x, perm, axis=0), batch)
                minibatches = jax.tree.map(
                    lambda x: x.reshape([config["NUM_MINIBATCHES"], -1] + list(x.shape[1:])), batch
                )
                train_state, _ = jax.lax.scan(update_minibatch, train_state, minibatches)
                return (train_state, traj, advantages, targets, rng), None

            update_state = (train_state, traj, advantages, targets, rng)
            update_state, _ = jax.lax.scan(update_epoch, update_state, None, config["UPDATE_EPOCHS"])
            metric = jax.tree.map(lambda x: x.mean(), traj.info)
            # Mean reward per agent-step of this rollout: the learning signal the test compares.
            metric["reward"] = traj.reward.mean()
            return (update_state[0], env_state, last_obs, update_state[-1]), metric

        rng, k = jax.random.split(rng)
        runner_state, metric = jax.lax.scan(update_step, (train_state, env_state, obsv, k), None, config["NUM_UPDATES"])
        return {"runner_state": runner_state, "metrics": metric}

    return train


CONFIG = {
    "LR": 2.5e-3, "NUM_ENVS": 16, "NUM_STEPS": 32, "TOTAL_TIMESTEPS": 16 * 32 * 40, "UPDATE_EPOCHS": 4,
    "NUM_MINIBATCHES": 4, "GAMMA": 0.9, "GAE_LAMBDA": 0.95, "CLIP_EPS": 0.2, "ENT_COEF": 0.01,
    "VF_COEF": 0.5, "MAX_GRAD_NORM": 0.5,
}
