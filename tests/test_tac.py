"""TAC / DTAC (seed 004): padded UEs change nothing, identity attention makes the actor per-UE, DTAC
starts as a copy of a TAC run, the actor loss trains the actor only, and (slow) TAC learns."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import algos
import jaxedge
from algos import tac
from algos.common import checkpoint

ENV = jaxedge.make("cloud_edge", n_cells=2, ues_per_cell=3, n_channels=4, cache_slots=2)
PARAMS = ENV.default_params.replace(n_edges=2, ue_min=1, ue_max=2)  # some UE slots are padding
CFG = tac.Config(d_model=8, heads=2, ffn=8, enc_layers=1, dec_layers=1, num_envs=2, total_env_steps=8,
                 chunk_size=2, warmup_steps=2, batch_size=4, buffer_size=16)
MIN_RATIO = float(PARAMS.min_ratio)
# jitted once per network (modules are static): eager flax applies dominate these tests otherwise
FAST = {"xla_backend_optimization_level": 0}
outputs = jax.jit(tac.policy_outputs, static_argnums=(0, 3, 4), compiler_options=FAST)
critic_q = jax.jit(tac.critic_q, static_argnums=0, compiler_options=FAST)
critic_loss = jax.jit(tac.critic_loss, static_argnums=0, compiler_options=FAST)
actor_loss = jax.jit(tac.actor_loss, static_argnums=(0, 1, 6), compiler_options=FAST)
imitation_loss = jax.jit(tac.imitation_loss, static_argnums=(0, 2, 5), compiler_options=FAST)


def observations(seed: int, batch: int = 3):
    obs, state = jax.vmap(ENV.reset, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(seed), batch), PARAMS)
    return obs, np.asarray(state.mask)


@pytest.fixture(scope="module")
def nets():
    actor, critic = tac.networks(CFG, ENV.n_channels)
    dtac_actor, _ = tac.networks(CFG, ENV.n_channels, "identity")
    feats, pos, mask = tac.split_obs(jnp.zeros((1, ENV.num_agents, ENV.obs_dim)))
    actor_p = actor.init(jax.random.PRNGKey(1), feats, pos, mask)
    critic_p = critic.init(jax.random.PRNGKey(2), jnp.zeros((1, ENV.num_agents, 6 + ENV.n_channels + 5)), pos, mask)
    return actor, critic, dtac_actor, actor_p, critic_p


def test_registered_variants():
    assert algos.ALGOS["tac"] is tac
    assert algos.ALGOS["dtac"].Config().transfer == "critic"
    assert algos.ALGOS["tl_transformer"].Config().transfer == "mse"
    assert all(algos.ALGOS[n].make_train is tac.make_train for n in ("dtac", "tl_transformer"))


def test_padded_ues_change_no_output_of_actor_critic_or_loss(nets):
    actor, critic, dtac_actor, actor_p, critic_p = nets
    obs, mask = observations(0)
    assert (~mask).any() and mask.any()
    rng = np.random.default_rng(0)
    junk = np.asarray(obs).copy()
    junk[..., :6] = np.where(mask[..., None], junk[..., :6], rng.normal(size=junk[..., :6].shape) * 5)
    act = jnp.asarray(rng.uniform(size=obs.shape[:-1] + (ENV.n_channels + 5,)), jnp.float32)
    act_junk = jnp.where(mask[..., None], act, 3.0)
    cost = jnp.asarray(rng.uniform(size=obs.shape[:-1] + (2,)), jnp.float32)
    cost_junk = jnp.where(mask[..., None], cost, 99.0)
    m = mask[..., None]
    for net in (actor, dtac_actor):
        a, b = (outputs(net, actor_p, o, MIN_RATIO, tac.Channels(10.0)) for o in (obs, junk))
        np.testing.assert_array_equal(np.where(m, a, 0), np.where(m, b, 0))
    q, q_junk = critic_q(critic, critic_p, obs, act), critic_q(critic, critic_p, junk, act_junk)
    np.testing.assert_array_equal(np.where(m, q, 0), np.where(m, q_junk, 0))
    assert critic_loss(critic, critic_p, obs, act, cost) == critic_loss(critic, critic_p, junk, act_junk, cost_junk)
    for net in (actor, dtac_actor):
        la = actor_loss(net, critic, actor_p, critic_p, obs, 0.01, MIN_RATIO)
        lb = actor_loss(net, critic, actor_p, critic_p, junk, 0.01, MIN_RATIO)
        np.testing.assert_array_equal(la, lb)
    np.testing.assert_array_equal(imitation_loss(dtac_actor, actor_p, actor, actor_p, obs, MIN_RATIO),
                                  imitation_loss(dtac_actor, actor_p, actor, actor_p, junk, MIN_RATIO))


def test_unlearned_channels_are_the_slot_prior_whatever_the_actor(nets):
    actor, _, _, actor_p, _ = nets
    other_p = actor.init(jax.random.PRNGKey(7), *tac.split_obs(jnp.zeros((1, ENV.num_agents, ENV.obs_dim))))
    obs, _ = observations(3)
    n_l, fixed = ENV.n_channels, tac.Channels(10.0, learned=False)
    a, b = (np.asarray(outputs(actor, p, obs, MIN_RATIO, fixed)) for p in (actor_p, other_p))
    np.testing.assert_array_equal(a[..., 3:3 + n_l], b[..., 3:3 + n_l])
    want = jax.nn.softmax(10.0 * tac.slot_channels(ENV.num_agents, 2, n_l))
    np.testing.assert_allclose(a[0, :, 3:3 + n_l], want, rtol=1e-6)
    assert np.abs(a[..., :3] - b[..., :3]).max() > 1e-4  # the offloading head still reads the actor
    learned = np.asarray(outputs(actor, other_p, obs, MIN_RATIO, tac.Channels(10.0)))
    assert np.abs(learned[..., 3:3 + n_l] - b[..., 3:3 + n_l]).max() > 0  # learned: the actor's logits count


def test_identity_attention_makes_each_ue_read_only_its_own_token(nets):
    actor, _, dtac_actor, actor_p, _ = nets
    obs = jnp.asarray(observations(1, 1)[0]).at[0, :, 6].set(1.0)  # every slot real (mask column)
    obs = obs.at[0, :, 7:].set(jnp.asarray(np.repeat(np.eye(2), 3, 0)))
    other = obs.at[0, 1:, :6].add(jnp.arange(1, 6 * (ENV.num_agents - 1) + 1).reshape(-1, 6) * 0.1)  # all but UE 0
    ident = [outputs(dtac_actor, actor_p, o, MIN_RATIO)[0, 0] for o in (obs, other)]
    np.testing.assert_array_equal(ident[0], ident[1])
    soft = [outputs(actor, actor_p, o, MIN_RATIO)[0, 0] for o in (obs, other)]
    assert np.abs(np.asarray(soft[0] - soft[1])).max() > 1e-4  # the same params with softmax attention do read them
    # alone in the scene, a token's softmax attention is the identity: DTAC reproduces TAC's per-token layers
    alone = obs.at[0, 1:, :].set(0.0)
    np.testing.assert_allclose(outputs(dtac_actor, actor_p, alone, MIN_RATIO)[0, 0],
                               outputs(actor, actor_p, alone, MIN_RATIO)[0, 0], rtol=1e-5, atol=1e-6)


def test_actor_loss_gradient_reaches_only_the_actor(nets):
    actor, critic, _, actor_p, critic_p = nets
    obs, _ = observations(2)
    g_actor, g_critic = jax.jit(jax.grad(lambda a, c: tac.actor_loss(actor, critic, a, c, obs, 0.01, MIN_RATIO)[0],
                                         argnums=(0, 1)), compiler_options=FAST)(actor_p, critic_p)
    assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree_util.tree_leaves(g_critic))
    assert sum(float(jnp.abs(g).sum()) for g in jax.tree_util.tree_leaves(g_actor)) > 0.0


@pytest.mark.slow  # 17.6 s at load 6 (env reset + two trainer builds); the alone-token check above stays default
def test_dtac_starts_as_a_copy_of_the_tac_run_of_its_seed(tmp_path):
    trainer = tac.make_train(CFG, ENV, PARAMS)
    keys = jnp.stack([jax.random.PRNGKey(s) for s in (3, 4)])
    state = jax.vmap(trainer.init)(keys)  # eager: compiling init would dominate the test
    meta = {"algo": "tac", "env": "cloud_edge", "sizes": ["n_cells=2", "ues_per_cell=3", "n_channels=4", "cache_slots=2"],
            "preset": None, "config": dataclasses.asdict(CFG), "runs": [{"run": 0, "seed": 3}, {"run": 1, "seed": 4}]}
    checkpoint.save(tmp_path, state, meta)
    run = tac.load_run(tmp_path, ENV, PARAMS)
    assert run.seeds == [3, 4]
    cfg = dataclasses.replace(CFG, transfer="critic", init_from=str(tmp_path))
    dtac_state = tac.make_train(cfg, ENV, PARAMS).init(jax.random.PRNGKey(4))
    want_actor, want_critic = run.params_of(1)
    for got, want in ((dtac_state.actor, want_actor), (dtac_state.critic, want_critic)):
        jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    assert dtac_state.critic_opt is None  # the critic is frozen
    obs, _ = observations(5, 1)
    assert run.act(obs, run=1).discrete.shape == obs.shape[:-1] + (2,)


@pytest.mark.slow
def test_tac_learns_to_beat_random_over_seeds():
    from algos.common.evaluation import evaluate, evaluate_runs
    from algos.heuristics import make_heuristic

    env = jaxedge.make("cloud_edge", n_cells=3, ues_per_cell=4)
    params = env.default_params.replace(n_edges=3, ue_min=2, ue_max=4, episode_len=100)
    cfg = tac.Config(total_env_steps=4_800, num_envs=8, chunk_size=300, buffer_size=4_800, warmup_steps=256)
    trainer = tac.make_train(cfg, env, params)
    rs = jax.jit(jax.vmap(trainer))(jnp.stack([jax.random.PRNGKey(s) for s in range(3)]))
    key = jax.random.PRNGKey(7)
    costs = evaluate_runs(env, params, trainer, rs["train_state"], key, 16, 100)["run_means"]["cost"]
    random_cost = evaluate(env, params, make_heuristic(env, "random"), key, 16, 100)["cost"]["mean"]
    assert np.all(costs < 0.5 * random_cost), (costs, random_cost)
