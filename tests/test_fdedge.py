"""Seed 003's learners: the vp schedule and reverse chain, the discrete-SAC losses, the slot loop's
feedback memory, replay and padding, and a short learning check (spec §5, §11.3)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxedge
from algos import fdedge
from algos.common import discrete_sac as dsac
from algos.common import replay, task_slots
from algos.common.diffusion import reverse_chain, timestep_embedding, vp_schedule
from jaxedge.envs.collab_edge import Draws

SPEC_I5 = {  # spec §5.2, 1-based i = 1..5
    "betas": [0.19587, 0.45882, 0.63578, 0.75488, 0.83503],
    "alphas_cumprod": [0.804125, 0.435178, 0.158500, 0.038852, 0.006409],
    "posterior_variance": [0.0, 0.15911, 0.42674, 0.66091, 0.80777],
    "coef1": [1.0, 0.72844, 0.49841, 0.31268, 0.16565],
    "coef2": [0.0, 0.25512, 0.40508, 0.43347, 0.39290],
}


def test_vp_schedule_matches_spec_table():
    s = vp_schedule(5, 0.1, 10.0)
    for name, values in SPEC_I5.items():
        np.testing.assert_allclose(s[name], values, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(s["noise_std"][1:], [0.3989, 0.6533, 0.8130, 0.8988], atol=1e-4)
    assert s["noise_std"][0] == pytest.approx(1e-10)  # exp(0.5 log 1e-20): no noise on the last step


def test_posterior_mean_equals_eq13():
    s = vp_schedule(5)
    rng = np.random.default_rng(0)
    x, eps = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    for i in range(5):
        recon = s["sqrt_recip_acp"][i] * x - s["sqrt_recipm1_acp"][i] * eps
        mean = s["coef1"][i] * recon + s["coef2"][i] * x
        eq13 = (x - s["betas"][i] / np.sqrt(1 - s["alphas_cumprod"][i]) * eps) / np.sqrt(s["alphas"][i])
        np.testing.assert_allclose(mean, eq13, rtol=1e-10, atol=1e-10)


def test_zero_denoiser_chain_is_the_closed_form_scaling():
    """eps_hat = 0 and no noise: each step multiplies by 1 / sqrt(lambda_i), so x_0 = x_I / sqrt(lbar_I)."""
    s = vp_schedule(5)
    x_start = jnp.asarray(np.random.default_rng(1).normal(size=(3, 4)), jnp.float32)
    zero = lambda x, emb, st: jnp.zeros_like(x)  # noqa: E731
    x0 = reverse_chain(zero, None, x_start, None, s)
    np.testing.assert_allclose(x0, x_start / np.sqrt(s["alphas_cumprod"][-1]), rtol=1e-5)
    # With noise, the first I - 1 reverse steps add sqrt(beta-tilde) z, the last none.
    noise = jnp.ones((3, 4, 4))
    with_noise = reverse_chain(zero, None, jnp.zeros((3, 4)), noise, s)
    expected = 0.0
    for i in range(4, 0, -1):  # 0-based steps 4..1 inject noise, each later scaled by 1/sqrt(lambda)
        expected = (expected + s["noise_std"][i]) / np.sqrt(s["alphas"][i - 1])
    np.testing.assert_allclose(with_noise, np.full((3, 4), expected), rtol=1e-5)


def test_timestep_embedding_is_sin_cos():
    emb = np.asarray(timestep_embedding(3, 16))
    w = np.exp(-np.arange(8) * np.log(10000.0) / 7)
    np.testing.assert_allclose(emb, np.concatenate([np.sin(3 * w), np.cos(3 * w)]), rtol=1e-6)


def test_discrete_sac_target_and_losses_on_a_hand_case():
    probs = jnp.array([[0.5, 0.5], [1.0, 0.0]])
    q_next = jnp.array([[[1.0, 3.0], [2.0, 0.0]], [[2.0, 1.0], [0.0, 5.0]]])  # [2 critics, K=2, A=2]
    y = dsac.soft_target(jnp.array([-1.0, -2.0]), probs, q_next, 0.9, 0.1)
    h0 = -2 * 0.5 * np.log(0.5 + 1e-8)
    h1 = -(1.0 * np.log(1.0 + 1e-8))
    min_q = np.array([[1.0, 1.0], [0.0, 0.0]])
    expected = np.array([-1 + 0.9 * ((0.5 * 1 + 0.5 * 1) + 0.1 * h0), -2 + 0.9 * (0.0 + 0.1 * h1)])
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    np.testing.assert_allclose(dsac.soft_target(jnp.array([-1.0, -2.0]), probs, q_next, 0.9, 0.1, False),
                               [-1 + 0.9 * 1.0, -2.0], rtol=1e-6)
    q = jnp.array([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 5.0], [1.0, 1.0]]])
    loss = dsac.critic_loss(q, jnp.array([1, 0]), jnp.array([2.0, 2.0]))
    assert float(loss) == pytest.approx(((2 - 2) ** 2 + (3 - 2) ** 2) / 2 + ((5 - 2) ** 2 + (1 - 2) ** 2) / 2)
    a_loss = dsac.actor_loss(probs, q, 0.1)
    qmin = np.minimum(q[0], q[1])
    expected_a = np.mean([-0.1 * h0 - (0.5 * qmin[0, 0] + 0.5 * qmin[0, 1]), -0.1 * h1 - qmin[1, 0]])
    assert float(a_loss) == pytest.approx(expected_a, rel=1e-5)
    # d L / d log alpha = (H - H~) alpha: positive while H > H~ = -1, so alpha falls.
    grad = jax.grad(dsac.alpha_loss)(jnp.log(0.05), probs, -1.0)
    assert float(grad) == pytest.approx(((h0 + 1) + (h1 + 1)) / 2 * 0.05, rel=1e-5)
    assert float(grad) > 0


def test_add_masked_keeps_only_masked_rows_in_order():
    buf = replay.init({"v": jax.ShapeDtypeStruct((), jnp.float32)}, 5)
    buf = replay.add_masked(buf, {"v": jnp.arange(4.0)}, jnp.array([True, False, True, False]))
    assert int(buf.size) == 2 and int(buf.ptr) == 2
    np.testing.assert_array_equal(buf.data["v"][:2], [0.0, 2.0])
    buf = replay.add_masked(buf, {"v": 10 + jnp.arange(4.0)}, jnp.array([True, True, True, True]))
    assert int(buf.size) == 5 and int(buf.ptr) == 1  # wrapped: FIFO evicts the oldest
    np.testing.assert_array_equal(buf.data["v"], [13.0, 2.0, 10.0, 11.0, 12.0])
    rows = replay.sample_distinct(buf, jax.random.PRNGKey(0), 5)["v"]
    assert len(set(np.asarray(rows).tolist())) == 5


def test_skip_padding_equals_stepping_through_the_padding():
    env = jaxedge.make("collab_edge", n_servers=3, max_tasks=6)
    params = env.default_params.replace(n_slots=3)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = state.replace(n_tasks=jnp.int32(2))
    period0 = state.period
    for _ in range(2):  # the slot's two real tasks
        state = env.transition(state, jnp.array([1]), Draws(jnp.float32(0.9), jnp.float32(0.3)), params)[1]
    jumped = task_slots.skip_padding(env, state, params, period0)
    stepped = state
    while int(stepped.period) == int(period0):
        stepped = env.transition(stepped, jnp.array([0]), Draws(jnp.float32(0.1), jnp.float32(0.7)), params)[1]
    for a, b in zip(jax.tree_util.tree_leaves(jumped), jax.tree_util.tree_leaves(stepped)):
        np.testing.assert_allclose(a, b)


FAST = {"xla_backend_optimization_level": 0}  # tiny runs are compile-bound


def tiny_trainer(**overrides):
    env = jaxedge.make("collab_edge", n_servers=3, max_tasks=4)
    params = env.default_params.replace(n_slots=3)
    cfg = dict(total_env_steps=2 * 3 * 4, chunk_size=3, batch_size=4, buffer_size=64, warmup_steps=4)
    cfg.update(overrides)
    return env, params, fdedge.make_train(fdedge.Config(**cfg), env, params)


@pytest.fixture(scope="module")
def two_episodes():
    """FDEdge (feedback on) on a tiny scenario: the state before, after one episode (one chunk of 3
    slots) and after a second; compiled once for the module's tests."""
    env, params, trainer = tiny_trainer()
    chunk = jax.jit(trainer.train_chunk, compiler_options=FAST)
    rs0 = trainer.init(jax.random.PRNGKey(3))
    rs1, m1 = chunk(rs0, jnp.int32(0))
    rs2, m2 = chunk(rs1, jnp.int32(3))
    return jax.device_get((rs0, rs1, rs2, m1, m2))


def test_feedback_memory_read_write_and_replay_contents(two_episodes):
    """Alg. 1 ll. 8-13: x_I = X[t, n] (a stored copy), X[t, n] <- the softmax output, x'_I = X[t, n+1]
    or X[t+1, 0] as read at decision time (the previous visit's value); the replay holds exactly the
    decided tasks (padded steps never enter it); X survives the episode reset."""
    rs0, rs1, rs2, _, _ = two_episodes
    x0, x1 = np.asarray(rs0.memory[0]), np.asarray(rs1.memory[0])  # [T, S, B]
    n0 = int(rs0.env_state.n_tasks[0])
    data, size1 = rs1.buffer.data, int(rs1.buffer.size)
    assert np.all(data["obs"][:size1, 0] > 0)  # every stored row is a real task (d > 0)
    assert np.all(data["obs"][size1:, 0] == 0)  # nothing else was written
    np.testing.assert_allclose(data["x"][:n0], x0[0, :n0], rtol=1e-6)  # copies of the prior values
    for n in range(n0):
        expected = x0[0, n + 1] if n + 1 < n0 else x0[1, 0]
        np.testing.assert_allclose(data["next_x"][n], expected, rtol=1e-6)
    np.testing.assert_allclose(x1[0, :n0].sum(-1), 1.0, rtol=1e-5)  # written: softmax probabilities
    np.testing.assert_array_equal(x1[0, n0:], x0[0, n0:])  # untouched entries keep the N(0, 1) init
    np.testing.assert_array_equal(data["action"][:n0], x1[0, :n0].argmax(-1))  # eq. 9: argmax
    # One chunk = the episode's 3 slots: the env reset, the memory did not; the next episode's first
    # decisions start from what the first episode wrote.
    assert int(rs1.env_state.t[0]) == 0 and int(rs1.env_state.tasks_done[0]) == 0
    n0b = int(rs1.env_state.n_tasks[0])
    np.testing.assert_allclose(rs2.buffer.data["x"][size1:size1 + n0b], x1[0, :n0b], rtol=1e-6)


def test_alpha_falls_and_losses_are_finite(two_episodes):
    _, _, rs2, m1, m2 = two_episodes
    assert float(m2["alpha"]) < 0.05 and float(m2["updates"]) > 0
    assert all(np.isfinite(float(v)) for m in (m1, m2) for v in m.values())
    # The chunk's delay_sum / tasks is the episode's mean delay per task (§8.1).
    assert float(m1["episode_end"]) == pytest.approx(1 / 3)


def run_variant(**variant):
    _, _, trainer = tiny_trainer(**variant)
    out = jax.jit(trainer, compiler_options=FAST)(jax.random.PRNGKey(0))
    m = out["metrics"]
    assert all(np.all(np.isfinite(np.asarray(v))) for v in m.values())
    return out


@pytest.mark.slow
def test_k_tasks_schedule_and_rolling_memory_run_and_update():
    out = run_variant(update_every="K_tasks", memory_index="prev_slot_same_index")
    assert float(np.asarray(out["metrics"]["updates"]).sum()) > 0
    assert out["train_state"].memory.shape[1] == 1  # one rolling row X[n]


@pytest.mark.slow
@pytest.mark.parametrize("variant", [dict(feedback_mode="none"), dict(feedback_mode="noised", stored_value="x0"),
                                     dict(action_select="sample", x_init="ones", eval_noise="none")])
def test_variants_run(variant):
    out = run_variant(**variant)
    if variant.get("feedback_mode") == "none":
        assert out["train_state"].memory is None


@pytest.mark.slow
def test_fdedge_beats_round_robin_over_seeds():
    """A short run (30 episodes of 20 slots) on a small, loaded scenario (B = 5, N_max = 50): the learned
    deterministic policy's mean delay is at least 20 % below round robin's on every seed (measured:
    1.18 / 1.40 / 1.18 s against RR's 1.88 s; greedy oracle ~1 s)."""
    from algos.common.evaluation import evaluate, evaluate_runs
    from algos.heuristics import collab_edge as heur

    env = jaxedge.make("collab_edge", n_servers=5, max_tasks=50)
    params = env.default_params.replace(n_slots=20)
    cfg = fdedge.Config(total_env_steps=30 * 20 * 50, chunk_size=20, warmup_steps=200)
    trainer = fdedge.make_train(cfg, env, params)
    outs = jax.jit(jax.vmap(trainer))(jax.random.split(jax.random.PRNGKey(0), 3))
    key = jax.random.PRNGKey(7)
    steps = int(params.episode_len)
    learned = evaluate_runs(env, params, trainer, outs["train_state"], key, 8, steps)["run_means"]["delay"]
    rr = evaluate(env, params, heur.round_robin(env), key, 8, steps)["delay"]["mean"]
    assert np.all(learned < 0.8 * rr), (learned, rr)
