"""Learning tests for the seed-000 baselines dqn_vdn and ddpg_vdn: each beats the random heuristic on
a 2x2x2 dt_inference (calibrated) over 3 vmapped seeds, every seed by the stated margin, on the same
evaluation keys. (maddpg's is in test_train.py, maddpg_cgan's in test_maddpg_cgan.py, ippo's in
test_ippo.py.)"""

import jax
import numpy as np
import pytest

import jaxedge
from algos import ddpg_vdn, dqn_vdn
from algos.common.evaluation import rollout_stats, rollout_stats_runs
from algos.heuristics import make_heuristic

FAST_COMPILE = {"xla_backend_optimization_level": 0}
# Every seed's mean cost below this fraction of random's. DDPG-VDN is the weakest seed-000 baseline
# (the paper's too): at this budget its seeds reach 1.6-3.9 against random's 5.5 (measured), so
# its margin is 0.8; DQN-VDN's is 0.6.
MARGIN = {"dqn_vdn": 0.6, "ddpg_vdn": 0.8}

CONFIGS = {
    "dqn_vdn": dqn_vdn.Config(total_env_steps=256 + 8 * 400, num_envs=8, warmup_steps=256, chunk_size=400,
                              batch_size=64, hidden=(64, 64), target_period=50, eps_fraction=0.5),
    "ddpg_vdn": ddpg_vdn.Config(total_env_steps=256 + 8 * 400, num_envs=8, warmup_steps=256, chunk_size=400,
                                batch_size=64, actor_hidden=(64, 64), critic_hidden=(64, 64)),
}
MODULES = {"dqn_vdn": dqn_vdn, "ddpg_vdn": ddpg_vdn}


# ~19 s each: with -m slow since the default suite reached its 10-minute budget (seed 000's learning is
# measured at real budgets by benchmarks/reproduce; test_learners.py runs both in the default suite).
@pytest.mark.slow
@pytest.mark.parametrize("algo", sorted(CONFIGS))
def test_baseline_beats_random_on_every_seed(algo):
    env = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
    params = env.default_params
    trainer = MODULES[algo].make_train(CONFIGS[algo], env, params)
    out = jax.jit(jax.vmap(trainer), compiler_options=FAST_COMPILE)(jax.random.split(jax.random.PRNGKey(0), 3))
    key = jax.random.PRNGKey(7)
    learned = np.asarray(rollout_stats_runs(env, params, trainer.act, out["train_state"], key, 64, 20)["cost"]).mean(-1)
    random = float(np.mean(rollout_stats(env, params, make_heuristic(env, "random"), key, 64, 20)["cost"]))
    assert np.all(learned < MARGIN[algo] * random), (learned, random)
