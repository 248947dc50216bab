"""Hardening (issue 25): every failure an adversarial user hit ends with a one-line error naming the
cause, or follows a documented rule; nothing is silently changed.

* Params: bad values (eager: ValueError naming the field, judged in float32; traced: a nonzero
  ``info["param_error"]`` that `jaxedge.env.check_param_error` turns into the same message), and every
  float field at the edge of its float32-safe range gives finite outputs.
* Envs: slicing's delay metrics are clipped like the reward, oversized action tables are refused
  without enumerating them, sub-Hz blocks are refused; collab_edge's shapes and flags; int64 actions clip.
* Checkpoints: one atomic file; truncation, corruption, another run's checkpoint and a missing one are
  one-line `CheckpointError`s, the metadata checked before the state is deserialised.
* Training: non-finite losses / parameters stop the run after the chunk with the checkpoint before it
  kept; metrics.csv is rewritten from the checkpointed history; the grouping is recorded.
* CLI: the listed bad flags end in one line (exit 2).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxedge
from algos.common import checkpoint, cli

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "dt_inference": dict(n_users=2, n_servers=2, n_tasks=2),
    "collab_edge": dict(n_servers=3, max_tasks=4),
    "slicing": dict(n_aps=2, max_users=4),
    "v2x": dict(n_vehicles=3, n_servers=3),
    "cloud_edge": dict(n_cells=2, ues_per_cell=2, n_channels=2, cache_slots=4),
}
ENVS = {name: jaxedge.make(name, **sizes) for name, sizes in SMALL.items()}
HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _float_fields(env):
    """``[(field, positive?)]`` of every float field of the env's Params."""
    import dataclasses

    params = env.default_params
    out = []
    for field in dataclasses.fields(params):
        name = field.name
        if field.metadata.get("pytree_node", True) and np.issubdtype(np.asarray(getattr(params, name)).dtype,
                                                                       np.floating):
            try:
                env.validate_params(params.replace(**{name: np.zeros(np.shape(getattr(params, name)), np.float32)}))
                positive = False
            except ValueError as err:
                positive = f".{name} must be > 0" in str(err)
            out.append((name, positive))
    return out


FIELDS = {name: _float_fields(env) for name, env in ENVS.items()}


def _set(params, name, value):
    return params.replace(**{name: np.full(np.shape(getattr(params, name)), value, np.float32)
                             if np.ndim(getattr(params, name)) else value})


# ---- params: eager ------------------------------------------------------------------------------
@HYP
@given(data=st.data())
def test_bad_params_eager_name_the_field(data):
    """NaN / inf anywhere, <= 0 in a positive field, 1e39 (inf in float32) and 1e30 (overflows the
    physics in float32; issue: 18 fields gave NaN) are refused naming the field."""
    env_name = data.draw(st.sampled_from(sorted(ENVS)))
    env = ENVS[env_name]
    name, positive = data.draw(st.sampled_from(FIELDS[env_name]))
    bad = [float("nan"), float("inf"), -float("inf"), 1e39, 1e30, -1e30] + ([0.0, -1.0] if positive else [])
    value = data.draw(st.sampled_from(bad))
    with pytest.raises(ValueError, match=rf"Params\.{name} must"):
        env.validate_params(_set(env.default_params, name, value))


@pytest.mark.parametrize("env_name, field, value, needle", [
    ("dt_inference", "f_server_max", 10**10, "does not fit int32"),  # was an OverflowError without the field
    ("dt_inference", "noise", [1e-16], "is a list"),  # was a raw TypeError
    ("dt_inference", "noise", "1e-16", "must be a number or an array"),
    ("dt_inference", "kappa_user", 1e39, "must be finite in float32"),  # finite in float64 only
    ("slicing", "bw_unit", 0.3, "bw_unit must be in [1"),  # rounded to 0 Hz: every user starved
    ("slicing", "block_bw", 0.4, "block_bw must be in [1"),
])
def test_bad_param_types_name_the_field(env_name, field, value, needle):
    env = ENVS[env_name]
    with pytest.raises(ValueError, match=rf"Params\.{field}") as err:
        env.reset(jax.random.PRNGKey(0), env.default_params.replace(**{field: value}))
    assert needle in str(err.value)


# ---- params: traced -----------------------------------------------------------------------------
def _step_info(env):
    def run(key, params):
        _, state = env.reset(key, params)
        action = env.action_space(params).sample(key)
        return env.step(key, state, action, params)[-1]["param_error"]

    return jax.jit(run)


def test_traced_params_are_flagged_with_the_field():
    """A bad value passed as a jit argument (f_user_max=0) or inside a vmapped sweep (kappa_user=0, or
    1e39 which is inf in float32) sets ``info["param_error"]``, which names the field."""
    from jaxedge.env import check_param_error

    env = ENVS["dt_inference"]
    p = env.default_params
    run = _step_info(env)
    key = jax.random.PRNGKey(0)
    assert int(run(key, p)) == 0
    code = run(key, p.replace(f_user_max=0.0))
    with pytest.raises(ValueError, match="f_user_min must be <= f_user_max"):
        check_param_error(env, code)
    sweep = jax.tree_util.tree_map(lambda x: jnp.stack([jnp.asarray(x)] * 3), p)
    sweep = sweep.replace(kappa_user=jnp.asarray([1e-27, 0.0, 1e-27]), noise=jnp.asarray([1e-16, 1e-16, 1e39]))
    codes = jax.jit(jax.vmap(run, (None, 0)))(key, sweep)
    assert int(codes[0]) == 0 and int(codes[1]) != 0 and int(codes[2]) != 0
    assert "kappa_user must be > 0" in env.param_error_message(int(codes[1]))
    assert "noise must be finite in float32" in env.param_error_message(int(codes[2]))
    with pytest.raises(ValueError, match="kappa_user must be > 0"):
        check_param_error(env, codes)


def _edge_cases(env):
    """Every float field at the low and high end of its float32-safe range (others default; the
    partner of a (low, high) pair moved along when needed), as a list of valid Params."""
    import re

    p0, out = env.default_params, []
    for name, positive in FIELDS[env.name]:
        try:
            env.validate_params(_set(p0, name, 1e37))
            continue
        except ValueError as err:
            m = re.search(rf"\.{name} must be in \[(\S+), (\S+)\]", str(err))
        if not m:
            continue
        for value in (float(m.group(1)), float(m.group(2))):
            p = _set(p0, name, value)
            for _ in range(3):
                try:
                    env.validate_params(p)
                    out.append(p)
                    break
                except ValueError as err:
                    pair = re.search(r"Params\.(\w+) must be <= (\w+)", str(err))
                    if not pair:
                        break
                    other = pair.group(2) if pair.group(1) == name else pair.group(1)
                    p = _set(p, other, value)
    return out


def _all_finite(tree):
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _edges_stay_finite(env_name, steps=12):
    env = ENVS[env_name]
    cases = _edge_cases(env)
    assert len(cases) >= 8
    space = env.action_space(env.default_params)

    def roll(params, key):
        obs, state = env.reset(key, params)

        def body(carry, k):
            state, ok = carry
            obs, state, reward, _, _, info = env.step(k, state, space.sample(k), params)
            return (state, ok & _all_finite((obs, reward, info["metrics"], state))), info["param_error"]

        (_, ok), err = jax.lax.scan(body, (state, _all_finite((obs, state))), jax.random.split(key, steps))
        return ok & jnp.all(err == 0)

    batch = jax.tree_util.tree_map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *cases)
    ok = jax.jit(jax.vmap(jax.vmap(roll, (None, 0)), (0, None)))(batch, jax.random.split(jax.random.PRNGKey(3), 4))
    assert bool(np.all(ok)), [i for i, g in enumerate(np.asarray(ok).all(-1)) if not g]


def test_float_fields_at_their_range_edges_stay_finite():
    _edges_stay_finite("dt_inference")


@pytest.mark.slow
@pytest.mark.parametrize("env_name", ["collab_edge", "slicing", "v2x", "cloud_edge"])
def test_float_fields_at_their_range_edges_stay_finite_every_env(env_name):
    _edges_stay_finite(env_name)


# ---- slicing / collab_edge / actions --------------------------------------------------------------
def test_slicing_delay_metrics_are_clipped_like_the_reward():
    """A zero fading draw gives a user rate 0: its upload / download delay enters the metrics at
    l_cap, as it enters the reward (issue: ~1e27 s in every evaluation)."""
    env = ENVS["slicing"]
    p = env.default_params
    _, state = env.reset(jax.random.PRNGKey(0), p)
    state = state.replace(fade_up=state.fade_up.at[0, 0].set(0.0), fade_down=state.fade_down.at[0, 0].set(0.0))
    action = jnp.zeros((env.n_aps,), jnp.int32)
    info = env.step(jax.random.PRNGKey(1), state, action, p)[-1]
    for name in ("delay_upload", "delay_download", "delay"):
        assert float(info["metrics"][name]) <= float(p.delay_cap) + 1e-9, (name, info["metrics"][name])


def test_slicing_action_tables_are_counted_before_they_are_built():
    """n_slices=8 used to hang in an 18^8 enumeration; it now builds in seconds (a separate process,
    so a hang fails by timeout); 400 x 400 blocks exceed the int32 action index and are refused."""
    code = ("import time, jaxedge; t = time.time(); e = jaxedge.make('slicing', n_slices=8); "
            "assert e.num_actions == 19448 ** 2; print(time.time() - t)")
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with pytest.raises(ValueError, match="int32 action index"):
        jaxedge.make("slicing", n_bw_blocks=400, n_cpu_blocks=400)


def test_collab_edge_refuses_batched_arrays_and_string_flags():
    env = jaxedge.make("collab_edge", n_servers=10, max_tasks=4)
    p = env.default_params
    with pytest.raises(ValueError, match=r"Params\.freq must have shape \(10,\)"):
        env.reset(jax.random.PRNGKey(0), p.replace(freq=jnp.stack([p.freq, p.freq])))
    with pytest.raises(ValueError, match="per_task must be a bool"):
        jaxedge.make("collab_edge", per_task="False")


def test_int64_actions_clip_instead_of_wrapping():
    """NumPy int64 2**32 + 5 is clipped to the last action (the documented rule), not wrapped to 5."""
    env = ENVS["slicing"]
    p = env.default_params
    _, state = env.reset(jax.random.PRNGKey(0), p)
    key = jax.random.PRNGKey(1)
    big = env.step(key, state, np.full((env.n_aps,), 2**32 + 5, np.int64), p)
    last = env.step(key, state, np.full((env.n_aps,), env.num_actions - 1, np.int32), p)
    five = env.step(key, state, np.full((env.n_aps,), 5, np.int32), p)
    np.testing.assert_array_equal(big[2], last[2])
    assert not np.array_equal(np.asarray(big[2]), np.asarray(five[2])) or \
        np.array_equal(np.asarray(last[2]), np.asarray(five[2]))
    np.testing.assert_array_equal(env.step(key, state, np.full((env.n_aps,), -2**40, np.int64), p)[2],
                                  env.step(key, state, np.zeros((env.n_aps,), np.int32), p)[2])


# ---- checkpoints (unit level: a small pytree stands for the runner state) ---------------------------
STATE = {"w": jnp.arange(64, dtype=jnp.float32).reshape(8, 8), "step": jnp.int32(3), "b": jnp.ones(5)}
META = {"algo": "dqn_vdn", "env": "dt_inference", "config": {"lr": 1e-3}, "runs": [{"run": 0, "seed": 0}]}


@pytest.fixture()
def saved(tmp_path):
    checkpoint.save(tmp_path, STATE, {**META, "chunk": 2, "wall_s": 1.0}, rows=[{"chunk": 0, "x": 1.5}])
    return tmp_path


def _load(out, template=STATE, expect=META):
    return checkpoint.load(out, jax.eval_shape(lambda: template), expect=expect)


def test_checkpoint_roundtrip_is_one_file_with_history(saved):
    state, meta = _load(saved)
    assert meta["chunk"] == 2 and meta["rows"] == [{"chunk": 0, "x": 1.5}]
    for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(STATE)):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in saved.iterdir()) == [checkpoint.META_FILE, checkpoint.STATE_FILE]


def _one_line(err):
    text = str(err.value)
    assert "\n" not in text and str(text).startswith(("the checkpoint", "no checkpoint", "/")), text
    return text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 0.999))
def test_truncated_checkpoints_are_one_line_errors(saved, cut):
    data = (saved / checkpoint.STATE_FILE).read_bytes()
    out = saved / "t"
    out.mkdir(exist_ok=True)
    (out / checkpoint.STATE_FILE).write_bytes(data[:int(cut * len(data))])
    with pytest.raises(checkpoint.CheckpointError) as err:
        _load(out)
    assert any(w in _one_line(err) for w in ("truncated", "not a jaxedge checkpoint", "corrupt"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets=st.lists(st.integers(0, 10**6), min_size=1, max_size=7))
def test_corrupted_checkpoints_are_one_line_errors(saved, offsets):
    """64-byte runs overwritten with 0xff (issue: loaded, NaN losses, a normal summary)."""
    data = bytearray((saved / checkpoint.STATE_FILE).read_bytes())
    for off in offsets:
        off %= len(data)
        data[off:off + 64] = b"\xff" * len(data[off:off + 64])
    out = saved / "c"
    out.mkdir(exist_ok=True)
    (out / checkpoint.STATE_FILE).write_bytes(bytes(data))
    with pytest.raises(checkpoint.CheckpointError) as err:
        _load(out)
    _one_line(err)


def test_missing_and_foreign_checkpoints(saved, tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint to resume") as err:
        _load(tmp_path / "empty")
    _one_line(err)
    # another algo's checkpoint: refused by its metadata before the (different) state is deserialised
    other = {"q": jnp.zeros(3)}
    with pytest.raises(checkpoint.CheckpointError, match="different algo") as err:
        _load(saved, template=other, expect={**META, "algo": "maddpg"})
    _one_line(err)
    # same metadata, other state structure: one line, not flax's multi-line traceback
    with pytest.raises(checkpoint.CheckpointError, match="does not fit") as err:
        _load(saved, template=other)
    _one_line(err)
    # the older two-file format (msgpack + json) is refused, not half-read
    old = tmp_path / "old"
    old.mkdir()
    from flax import serialization
    (old / checkpoint.STATE_FILE).write_bytes(serialization.to_bytes(STATE))
    (old / checkpoint.META_FILE).write_text(json.dumps(META))
    with pytest.raises(checkpoint.CheckpointError, match="not a jaxedge checkpoint"):
        _load(old)


def test_a_kill_mid_write_keeps_the_previous_checkpoint(saved):
    """The new checkpoint goes to a temporary file renamed into place: a kill before the rename (a
    leftover .tmp, an older checkpoint.json) leaves the previous checkpoint whole and consistent."""
    (saved / (checkpoint.STATE_FILE + ".tmp")).write_bytes(b"JAXEDGE-CHECKPOINT-2\npartial")
    (saved / checkpoint.META_FILE).write_text(json.dumps({**META, "chunk": 1}))  # informational only
    _, meta = _load(saved)
    assert meta["chunk"] == 2


# ---- training -------------------------------------------------------------------------------------
TINY = ["--algo", "dqn_vdn", "--env", "collab_edge", "--size", "n_servers=2", "--size", "max_tasks=2",
        "--set", "hidden=8", "--set", "warmup_steps=8", "--set", "batch_size=4", "--set", "chunk_size=2",
        "--num-envs", "2", "--total-steps", "24", "--eval-envs", "2", "--eval-steps", "4", "--quiet", "--no-plot"]


def _train(argv):
    from scripts_train import main

    return main(argv)


@pytest.fixture(scope="module")
def partial_run(tmp_path_factory):
    """A tiny run stopped after 2 of 6 chunks (its checkpoint is copied by the tests below)."""
    out = tmp_path_factory.mktemp("rel") / "part"
    assert _train([*TINY, "--out", str(out), "--max-chunks", "2"]) == 0
    return out


def _err_line(capsys, prog="train.py"):
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(err) == 1, err
    return err[0]


def test_resume_without_a_checkpoint_is_one_line(tmp_path, capsys):
    """--resume with no checkpoint in --out is an error, not a silent fresh start."""
    assert _train([*TINY, "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "no checkpoint to resume" in _err_line(capsys)


@pytest.mark.slow
def test_resume_errors_are_one_line(partial_run, tmp_path, capsys):
    """Through train.py: a truncated, empty or 0xff-overwritten checkpoint, another algo's, and the same
    run with another grouping each end with one line (the unit tests above cover the reader)."""
    for name, mutate, needle in [
        ("trunc", lambda b: b[: len(b) // 2], "truncated"),
        ("empty", lambda b: b"", "not a jaxedge checkpoint"),
        ("ff", lambda b: b[:-600] + b"\xff" * 448 + b[-152:], "corrupt"),
    ]:
        out = tmp_path / name
        shutil.copytree(partial_run, out)
        path = out / checkpoint.STATE_FILE
        path.write_bytes(mutate(path.read_bytes()))
        assert _train([*TINY, "--out", str(out), "--resume"]) == 2
        assert needle in _err_line(capsys)
    out = tmp_path / "other"
    shutil.copytree(partial_run, out)
    other = ["--algo", "maddpg", *TINY[2:8], "--total-steps", "24", "--num-envs", "2", "--quiet", "--no-plot"]
    assert _train([*other, "--out", str(out), "--resume"]) == 2
    assert "different algo" in _err_line(capsys)
    # another grouping (a seed's bits depend on it, README "Reliability"): refused on resume
    out = tmp_path / "group"
    shutil.copytree(partial_run, out)
    assert _train([*TINY, "--out", str(out), "--resume", "--run-group", "all"]) == 2
    assert "different grouping" in _err_line(capsys)


@pytest.mark.slow
def test_resume_rewrites_metrics_csv_from_the_checkpoint(partial_run, tmp_path):
    """A kill between the checkpoint and metrics.csv (simulated: the csv lost its last chunk's rows, or
    is gone) cannot lose or double rows: --resume rewrites it from the checkpointed history."""
    full = tmp_path / "full"
    assert _train([*TINY, "--out", str(full)]) == 0
    summary = json.loads((full / "summary.json").read_text())
    assert summary["grouping"]["runs_in_call"] == 1 and "layout" in summary["grouping"]
    out = tmp_path / "part"
    shutil.copytree(partial_run, out)
    csv = out / "metrics.csv"
    csv.write_text("\n".join(csv.read_text().splitlines()[:-1]) + "\n")  # the last chunk's row lost
    assert _train([*TINY, "--out", str(out), "--resume"]) == 0
    assert csv.read_text() == (full / "metrics.csv").read_text()
    assert json.loads((out / "summary.json").read_text())["final"] == summary["final"]


def _tiny_trainer():
    import algos

    env = jaxedge.make("collab_edge", n_servers=2, max_tasks=2)
    cfg = cli.parse_config(algos.ALGOS["dqn_vdn"].Config, ["hidden=8", "warmup_steps=8", "batch_size=4",
                                                           "chunk_size=2"], 24, 2)
    return algos.make_trainer("dqn_vdn", cfg, env, env.default_params)


def test_non_finite_training_stops_after_the_chunk(tmp_path):
    """A loss that turns NaN in chunk 2 stops the run after that chunk with one line naming the metric
    and the chunk, keeping the checkpoint of the 2 chunks before it (and writing no summary)."""
    import dataclasses

    from algos.common.runner import TrainingDiverged, train_runs

    trainer = _tiny_trainer()

    def chunk(rs, start):
        rs, metrics = trainer.train_chunk(rs, start)
        return rs, {**metrics, "q_loss": jnp.where(start >= 2 * trainer.sizes.iters_per_chunk, jnp.nan,
                                                   metrics["q_loss"])}

    runs = [{"run": 0, "seed": 0, "label": ""}]
    with pytest.raises(TrainingDiverged) as err:
        train_runs(dataclasses.replace(trainer, train_chunk=chunk), runs, tmp_path / "a", meta={}, quiet=True)
    assert str(err.value) == (f"training stopped: run(s) [0] gave non-finite q_loss in chunk 2; the checkpoint "
                              f"in {tmp_path / 'a'} keeps the 2 chunk(s) before it")
    meta = json.loads((tmp_path / "a" / checkpoint.META_FILE).read_text())
    assert meta["chunk"] == 2
    # the grouping a seed's bits depend on is part of the run's identity (README "Reliability")
    assert meta["grouping"]["runs_in_call"] == 1 and meta["grouping"]["layout"] == "one run at a time (no vmap)"


@pytest.mark.slow
def test_nan_learning_rate_is_caught_in_the_train_state(tmp_path):
    """lr = NaN (traced, so it bypasses the CLI's check; issue: a normal summary.json) leaves the
    losses finite but the optimiser state NaN: caught at chunk 0, no checkpoint, no summary."""
    from algos.common.runner import TrainingDiverged, train_runs

    trainer = _tiny_trainer()
    runs = [{"run": 0, "seed": 0, "label": "lr=nan", "lr": float("nan")}]
    with pytest.raises(TrainingDiverged, match=r"NaN in the train state .* in chunk 0; .* was not written"):
        train_runs(trainer, runs, tmp_path, meta={}, sweep_keys=["lr"], quiet=True)
    assert not checkpoint.exists(tmp_path) and not (tmp_path / "summary.json").exists()


# ---- CLI --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flags, needle", [
    (["--set", "lr=nan"], "lr expects float (finite)"),  # was: trained on, a normal summary.json
    (["--sweep", "lr=1e-3,nan"], "expects numbers (finite)"),
    (["--sweep", "lr="], "needs at least one value"),
    (["--sweep", "lr=,,"], "needs at least one value"),
    (["--seeds", ","], "--seeds expects"),
    (["--eval-envs", "0"], "--eval-envs must be >= 1"),
    (["--eval-steps", "0"], "--eval-steps must be >= 1"),
    (["--set", "chunk_size=0"], "chunk_size must be"),
    (["--set", "levels="], "levels must be a non-empty list"),
])
def test_train_cli_flags_are_refused_in_one_line(flags, needle, tmp_path, capsys):
    assert _train([*TINY, *flags, "--out", str(tmp_path / "o")]) == 2
    assert needle in _err_line(capsys)


def test_outputs_under_a_file_are_refused_in_one_line(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        assert _train([*TINY, "--out", str(out)]) == 2
        assert "is a file, not a directory" in _err_line(capsys)
    import importlib.util

    for script, argv in [("reproduce", ["--seed", "000", "--quick", "--out", str(afile / "sub")]),
                         ("reproduce", ["--seed", "000", "--quick", "--out", str(afile)]),
                         ("evaluate", ["--env", "dt_inference", "--json", str(afile / "x.json")])]:
        spec = importlib.util.spec_from_file_location(f"_{script}", ROOT / "scripts" / f"{script}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        assert mod.main(argv) == 2
        assert "is a file, not a directory" in _err_line(capsys, f"{script}.py")


def test_bad_replay_budget_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JAXEDGE_REPLAY_BUDGET_GB", "abc")
    assert _train([*TINY, "--out", str(tmp_path / "o")]) == 2
    assert "JAXEDGE_REPLAY_BUDGET_GB must be a positive number" in _err_line(capsys)
