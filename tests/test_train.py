"""Training stack: the train.py CLI for every algo, learning, vmapped sweeps, exact resume, replay budget.

Sizes are tiny (2 users, 2 servers, 2 tasks) so the module stays well inside the CI budget. Compile
time dominates at these sizes, so the subprocesses share a JAX persistent compilation cache (the
resume test reuses the maddpg smoke test's programs) and everything compiles at XLA optimisation
level 0 (about 2.5x faster to compile, 2x slower to run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization

import jaxedge
from algos import ALGOS, maddpg
from algos.common import checkpoint, replay
from algos.common.evaluation import rollout_stats, rollout_stats_runs
from algos.common.training import map_runs
from algos.heuristics import make_heuristic

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--size", "n_users=2", "--size", "n_servers=2", "--size", "n_tasks=2"]
SMALL_CFG = ["--set", "warmup_steps=40", "--set", "batch_size=32", "--set", "chunk_size=5",
             "--num-envs", "4", "--eval-envs", "8", "--eval-steps", "10", "--quiet", "--no-plot"]


FAST_COMPILE = {"xla_backend_optimization_level": 0}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("jax_cache")


SMOKE_OUT = {}  # algo -> output dir of its smoke run (the resume test reuses maddpg's)


def _train_cli(args, cache):
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_COMPILATION_CACHE_DIR=str(cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", XLA_FLAGS=flags)
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *args], env=env,
                          capture_output=True, text=True, timeout=600)


# One subprocess run of the script itself (its output feeds the resume test); every learner on every
# env through the same code path in-process: test_learners.py; maddpg_cgan's twin run: test_maddpg_cgan.py.
@pytest.mark.parametrize("algo", ["maddpg"])
def test_train_cli_smoke(algo, tmp_path, cache_dir):
    out = tmp_path / algo
    proc = _train_cli(["--algo", algo, *TINY, *SMALL_CFG, "--total-steps", "100", "--seeds", "2",
                       "--out", str(out)], cache_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    SMOKE_OUT[algo] = out
    summary = json.loads((out / "summary.json").read_text())
    for key in ("algo", "env", "env_steps", "wall_s", "final", "baselines"):
        assert key in summary
    assert summary["algo"] == algo and summary["env"] == "dt_inference"
    assert set(summary["baselines"]) == {"random", "greedy", "greedy_paper"}
    bound = summary["bound"]["cost"]["mean"]  # the certified lower bound on any policy's cost
    assert bound <= min(s["cost"]["mean"] for s in [summary["final"], *summary["baselines"].values()])
    assert summary["headroom_vs_greedy"] == pytest.approx(1 - bound / summary["baselines"]["greedy"]["cost"]["mean"])
    for stats in [summary["final"], *summary["baselines"].values()]:
        assert np.isfinite(stats["cost"]["mean"]) and np.isfinite(stats["reward"]["mean"])
    lines = (out / "metrics.csv").read_text().splitlines()
    assert len(lines) == 1 + 2 * 5  # header + 2 runs x 5 chunks
    assert (out / "checkpoint.msgpack").exists()


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--algo", "nope"], f"choose one of {sorted(ALGOS)}"),
        (["--algo", "maddpg", "--env", "nope"], f"choose one of {jaxedge.list_envs()}"),
        (["--algo", "maddpg", "--set", "bogus=1"], "valid keys: actor_arch, actor_hidden"),
        (["--algo", "maddpg", "--set", "lr_actor=fast"], "lr_actor expects float"),
        (["--algo", "maddpg", "--set", "batch_size=1.5"], "batch_size expects int"),
        (["--algo", "maddpg", "--sweep", "batch_size=8,16"], "sweepable keys: lr_actor"),
        (["--algo", "maddpg", "--seeds", "x"], "--seeds expects"),
        (["--algo", "maddpg", "--size", "n_users=0"], "n_users must be a positive int"),
        (["--algo", "maddpg", "--preset", "nope"], "choose one of ['calibrated', 'paper']"),
        (["--algo", "maddpg", "--run-group", "0"], "--run-group expects a positive int"),
    ],
)
def test_train_cli_bad_flags_one_line(flags, needle, capsys, tmp_path):
    from scripts_train import main

    assert main([*flags, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("train.py: error:") and needle in err, err


def test_replay_budget_error(capsys, tmp_path):
    from scripts_train import main

    env = jaxedge.make("dt_inference")
    cfg = maddpg.Config()
    train = maddpg.make_train(cfg, env, env.default_params)
    per = replay.transition_bytes(train.replay.example)
    assert train.replay.bytes(runs=2) == 2 * train.replay.capacity * per
    assert replay.check_memory(1000, train.replay.example, runs=2) == 2000 * per
    with pytest.raises(replay.ReplayMemoryError, match="budget"):
        replay.check_memory(10**6, train.replay.example, runs=8, budget_bytes=2**30)
    rc = main(["--algo", "maddpg", "--total-steps", "100000000", "--set", "buffer_size=10000000",
               "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "replay buffers need" in err and "\n" not in err


def test_unknown_critic_state_is_refused():
    env = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
    with pytest.raises(ValueError, match="valid: 'global', 'none'"):
        maddpg.make_train(maddpg.Config(critic_state="joint"), env, env.default_params)


def test_run_group_auto_runs_the_expected_loss_one_run_at_a_time():
    from scripts_train import run_group

    from algos.common.runner import default_run_group

    assert jax.default_backend() == "cpu"
    assert default_run_group(maddpg.Config()) == 8
    assert default_run_group(maddpg.Config(discrete_actor_loss="expected")) == 1
    assert run_group("auto") == "auto" and run_group("all") is None and run_group("3") == 3


def _tiny_train(**overrides):
    env = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
    kw = dict(total_env_steps=64 + 4 * 20, num_envs=4, warmup_steps=64, chunk_size=10, batch_size=32,
              actor_hidden=(32, 32), critic_hidden=(32, 32))
    kw.update(overrides)
    return env, maddpg.make_train(maddpg.Config(**kw), env, env.default_params)


def test_vmapped_sweep_equals_separate_runs():
    env, train = _tiny_train()
    seeds = jnp.array([0, 1, 0, 1])
    lrs = jnp.array([1e-4, 1e-4, 1e-3, 1e-3], jnp.float32)
    taus = jnp.array([0.01, 0.01, 0.05, 0.05], jnp.float32)
    keys = jax.vmap(jax.random.PRNGKey)(seeds)
    batched = jax.jit(jax.vmap(train), compiler_options=FAST_COMPILE)(keys, {"lr_actor": lrs, "tau": taus})
    single = jax.jit(train, compiler_options=FAST_COMPILE)
    for i in range(4):
        one = single(keys[i], {"lr_actor": lrs[i], "tau": taus[i]})
        got = jax.tree_util.tree_map(lambda x: x[i], batched)
        for a, b in zip(jax.tree_util.tree_leaves(got["train_state"].actor_target),
                        jax.tree_util.tree_leaves(one["train_state"].actor_target)):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(got["metrics"]["cost"], one["metrics"]["cost"], rtol=1e-4)
    # different sweep values really train differently
    kernels = jax.tree_util.tree_leaves(batched["train_state"].actor)
    assert not any(np.allclose(k[0], k[2]) for k in kernels if k.ndim > 2)


@pytest.mark.slow  # two more whole-run compiles (~20 s); the toy in test_chunks_see_the_global_iteration_index keeps the layouts in CI
def test_blocked_and_sequential_runs_equal_the_vmapped_run():
    """Blocks of 2 vmapped runs (train.py's CPU layout for more than 8 runs) and runs one after the
    other (group 1) give the vmapped sweep's result."""
    env, train = _tiny_train()
    keys = jax.vmap(jax.random.PRNGKey)(jnp.array([0, 1, 0, 1]))
    hp = {"lr_actor": jnp.array([1e-4, 1e-4, 1e-3, 1e-3], jnp.float32), "tau": jnp.array([0.01, 0.01, 0.05, 0.05], jnp.float32)}
    batched = jax.jit(jax.vmap(train), compiler_options=FAST_COMPILE)(keys, hp)
    for group in (2, 1):
        blocked = jax.jit(map_runs(train, group), compiler_options=FAST_COMPILE)(keys, hp)
        for a, b in zip(jax.tree_util.tree_leaves(blocked["train_state"].actor_target),
                        jax.tree_util.tree_leaves(batched["train_state"].actor_target)):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_killed_and_resumed_run_matches_uninterrupted(tmp_path, cache_dir):
    # Same flags as the maddpg smoke test, so every program comes from the compilation cache.
    # The uninterrupted run is the maddpg smoke run (same flags) when it ran in this session.
    common = ["--algo", "maddpg", *TINY, *SMALL_CFG, "--total-steps", "100", "--seeds", "2"]
    full = SMOKE_OUT.get("maddpg")
    runs = [] if full is not None else [[*common, "--out", str(tmp_path / "full")]]
    full = full or tmp_path / "full"
    runs += [
        [*common, "--out", str(tmp_path / "part"), "--max-chunks", "2"],  # stops after chunk 2's checkpoint
        [*common, "--out", str(tmp_path / "part"), "--resume"],
    ]
    for args in runs:
        proc = _train_cli(args, cache_dir)
        assert proc.returncode == 0, proc.stderr[-3000:]
        if "--max-chunks" in args:
            assert not (tmp_path / "part" / "summary.json").exists()
            assert json.loads((tmp_path / "part" / "checkpoint.json").read_text())["chunk"] == 2
    full_ckpt = serialization.msgpack_restore(checkpoint.read(full)[1])  # the state part of the one file
    part = serialization.msgpack_restore(checkpoint.read(tmp_path / "part")[1])
    flat_full = jax.tree_util.tree_leaves(full_ckpt)
    flat_part = jax.tree_util.tree_leaves(part)
    assert len(flat_full) == len(flat_part)
    for a, b in zip(flat_full, flat_part):
        np.testing.assert_array_equal(a, b)
    f_sum = json.loads((full / "summary.json").read_text())
    p_sum = json.loads((tmp_path / "part" / "summary.json").read_text())
    assert f_sum["final"] == p_sum["final"]
    assert (tmp_path / "part" / "metrics.csv").read_text() == (full / "metrics.csv").read_text()


@pytest.mark.slow  # ~35 s; the default suite keeps the baselines' learning tests (test_learning.py)
def test_maddpg_beats_random():
    """Seeded, tolerance-based: 3 vmapped seeds, ~1000 updates on a 2x2x2 dt_inference (calibrated)."""
    env = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
    params = env.default_params
    cfg = maddpg.Config(total_env_steps=256 + 8 * 500, num_envs=8, warmup_steps=256, chunk_size=500,
                        batch_size=64, actor_hidden=(64, 64), critic_hidden=(64, 64), lr_actor=1e-3)
    train = maddpg.make_train(cfg, env, params)
    out = jax.jit(jax.vmap(train), compiler_options=FAST_COMPILE)(jax.random.split(jax.random.PRNGKey(0), 3))
    key = jax.random.PRNGKey(7)
    learned = rollout_stats_runs(env, params, train.act, out["train_state"], key, 64, 20)
    random = rollout_stats(env, params, make_heuristic(env, "random"), key, 64, 20)
    cost = np.asarray(learned["cost"]).mean(-1)
    reward = np.asarray(learned["reward"]).mean(-1)
    rand_cost, rand_reward = float(np.mean(random["cost"])), float(np.mean(random["reward"]))
    # Every seed at least halves random's cost and its (negative) reward.
    assert np.all(cost < 0.5 * rand_cost), (cost, rand_cost)
    assert np.all(reward > 0.5 * rand_reward), (reward, rand_reward)


def test_structured_actor_with_expected_loss_trains_runs_one_after_the_other():
    """actor_arch=per_option + critic_arch=per_option + discrete_actor_loss=expected + critic_state=none at batch 256 under
    `map_runs(group=1)` (what train.py picks on a CPU for this loss); under a run vmap this loss segfaulted on
    jaxlib 0.10.2 CPU. Two seeds, a few updates: finite losses, the seeds train differently."""
    env = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
    cfg = maddpg.Config(total_env_steps=4 * 6, num_envs=4, warmup_steps=4, chunk_size=6, batch_size=256,
                        buffer_size=256, actor_hidden=(16,), critic_hidden=(16,), actor_arch="per_option",
                        critic_arch="per_option", discrete_actor_loss="expected", critic_state="none")
    train = maddpg.make_train(cfg, env, env.default_params)
    rs = jax.jit(jax.vmap(train.init))(jax.random.split(jax.random.PRNGKey(0), 2))
    rs, metrics = jax.jit(map_runs(train.train_chunk, 1, shared_args=1), compiler_options=FAST_COMPILE)(rs, jnp.int32(0))
    for name in ("critic_loss", "actor_loss", "q"):
        assert np.all(np.isfinite(metrics[name])) and np.all(metrics[name] != 0), (name, metrics[name])
    kernels = jax.tree_util.tree_leaves(rs.actor)[1]  # [runs, agents, ...]
    assert not np.allclose(kernels[0], kernels[1])


def test_expected_q_matches_brute_force_over_options():
    """MADDPG's exact discrete actor objective equals evaluating the critic on every option of
    every head, one at a time; its share gradient is P-DQN's (every option, unweighted)."""
    env = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
    cfg = maddpg.Config(critic_hidden=(16, 8), discrete_actor_loss="expected", critic_arch="mlp", actor_arch="mlp")
    core = maddpg.Core.build(cfg, env, env.default_params)
    spec = core.spec
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    batch, dim = 5, 40
    own = slice(10, 10 + spec.critic_dim)
    q_params = core.critic.init(k1, jnp.zeros((dim,)))
    x = jax.random.normal(k2, (batch, dim))
    out = jax.random.normal(k3, (batch, spec.n_logits))
    one_hot, _ = spec.sample(k4, out)
    got = core.expected_q(q_params, x, own, out, one_hot)

    logits, pre = spec.split(out)
    shares = spec.squash(pre)  # [B, heads, choices, 2] (per-choice shares)
    probs = jax.nn.softmax(logits, -1)
    want = np.zeros(batch)
    for b in range(batch):
        cur = np.asarray(one_hot[b])
        cur_shares = np.einsum("hc,hck->hk", cur, np.asarray(shares[b]))
        total = 0.0
        for h in range(spec.heads):
            for c in range(spec.n_choices):
                oh, sh = cur.copy(), cur_shares.copy()
                oh[h] = np.eye(spec.n_choices)[c]
                sh[h] = np.asarray(shares[b, h, c])
                act = np.concatenate([oh.reshape(-1), sh.reshape(-1)])
                xb = np.asarray(x[b]).copy()
                xb[own] = act
                total += float(probs[b, h, c]) * float(core.critic.apply(q_params, jnp.asarray(xb))[0])
        want[b] = total / spec.heads
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)

    # Share gradients: d/d(shares of option c) of mean_{h,c} Q(option c), whatever pi(c) is.
    def q_option(shares_hc, b, h, c):
        cur = one_hot[b]
        sh = jnp.einsum("hc,hck->hk", cur, shares[b]).at[h].set(shares_hc)
        act = jnp.concatenate([cur.at[h].set(jnp.eye(spec.n_choices)[c]).reshape(-1), sh.reshape(-1)])
        return core.critic.apply(q_params, x[b].at[own].set(act))[0]

    d_pre = jax.grad(lambda o: core.expected_q(q_params, x, own, o, one_hot).sum())(out)
    _, d_pre = spec.split(d_pre)  # [B, heads, choices, 2]
    d_share = d_pre / (jax.grad(lambda p: spec.squash(p).sum())(pre))  # chain rule through the squash
    chosen = np.asarray(one_hot.argmax(-1))
    for b, h in [(0, 0), (1, 1), (2, 0), (4, 1)]:  # an option not chosen: only its own Q moves its shares
        c = (chosen[b, h] + 1 + b % (spec.n_choices - 1)) % spec.n_choices
        want_g = jax.grad(q_option)(shares[b, h, c], b, h, c) / (spec.heads * spec.n_choices)
        np.testing.assert_allclose(d_share[b, h, c], want_g, rtol=1e-3, atol=1e-6)


def test_chunks_see_the_global_iteration_index():
    """Periodic work keyed on ``iteration(rs, i)`` fires on the same global iterations however the
    run is chunked, through `train`, the CLI's `map_runs` path and in blocks (chunk 3 < period 7
    used to restart the count every chunk, so the work never fired)."""
    from algos.common.training import RunConfig, make_trainer, schedule

    def iteration(rs, i):
        fired = (i % 7 == 6).astype(jnp.int32)
        return {"count": rs["count"] + fired, "step": rs["step"] + 1, "ok": rs["ok"] & (i == rs["step"])}, {}

    def init(key, hp):
        return {"count": jnp.zeros((), jnp.int32), "step": jnp.zeros((), jnp.int32), "ok": jnp.ones((), bool)}

    for chunk in (3, 21):
        cfg = RunConfig(total_env_steps=21, num_envs=1, chunk_size=chunk)
        train = make_trainer(init, iteration, None, cfg, {}, schedule(cfg))
        out = jax.jit(train)(jax.random.PRNGKey(0))["train_state"]
        assert int(out["count"]) == 3 and bool(out["ok"]), chunk
        for group in (None, 2):
            rs = jax.vmap(train.init)(jax.random.split(jax.random.PRNGKey(0), 4))
            chunk_fn = jax.jit(map_runs(train.train_chunk, group, shared_args=1))
            for c in range(train.sizes.num_chunks):
                rs, _ = chunk_fn(rs, jnp.int32(c * train.sizes.iters_per_chunk))
            np.testing.assert_array_equal(rs["count"], 3)
            assert bool(rs["ok"].all())


def test_gap_closed_is_the_per_run_fraction_from_equal_to_the_oracle():
    from scripts_train import gap_closed

    low = {"reward": {"mean": 1.0}, "satisfaction": {"mean": 0.5}}
    high = {"reward": {"mean": 2.0}, "satisfaction": {"mean": 0.5}}  # no satisfaction gap: left out
    out = gap_closed({"reward": np.array([1.5, 1.25, 1.0]), "satisfaction": np.array([0.7, 0.8, 0.9])}, low, high)
    assert set(out) == {"reward"}
    assert out["reward"]["mean"] == pytest.approx(0.25) and out["reward"]["n"] == 3 and out["reward"]["ci95"] > 0
