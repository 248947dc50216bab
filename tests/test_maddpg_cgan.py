"""MADDPG-CGAN: config validation, the twin-feature views of the critic input, and learning.

The CLI smoke run exercises every path of the compiled loop (twin, DT pool, FL) in a few seconds of
training; the CLI learning run is marked ``slow`` (about 4 min on 2 cores: ``pytest -m slow``). The GAN
itself is tested in ``test_cgan.py``, the DT pool in ``test_twin_pool.py`` and the FL weights in
``test_federated.py``.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from test_train import SMALL_CFG, TINY, _train_cli

import jaxedge
from algos import maddpg, maddpg_cgan


@pytest.mark.parametrize("field, value, needle", [("fl_mode", "nope", "fl_mode"), ("fl_weight_mode", "nope", "FL weight mode"),
                                                  ("k_sync", 0, "k_sync"), ("pool_period", 0, "pool_period")])
def test_config_rejects_bad_values(field, value, needle):
    with pytest.raises(ValueError, match=needle):
        maddpg_cgan.Config(**{field: value})


def test_config_extends_maddpg():
    names = {f for f in maddpg.Config.__dataclass_fields__}
    assert names < set(maddpg_cgan.Config.__dataclass_fields__)
    assert set(maddpg.TRACED) < set(maddpg_cgan.TRACED)


def test_relative_order_puts_self_first():
    order = maddpg.relative_order(3)
    np.testing.assert_array_equal(order, [[0, 1, 2], [1, 2, 0], [2, 0, 1]])


@pytest.mark.slow  # ~90 s of GAN compile in a subprocess; the twin, pool and FL pieces have fast tests
def test_train_cli_maddpg_cgan_smoke(tmp_path_factory):
    """``--algo maddpg_cgan`` end to end on tiny sizes with the twin on from 48 env steps, a GAN update
    every 2 iterations, an FL round every 5 and the paper's DT-pool share (the default takes none):
    summary, checkpoint and finite GAN metrics."""
    out = tmp_path_factory.mktemp("maddpg_cgan_smoke")
    args = ["--algo", "maddpg_cgan", *TINY, *SMALL_CFG, "--total-steps", "160", "--seeds", "2",
            "--set", "gan_warmup_steps=48", "--set", "gan_batch=16", "--set", "gan_period=2",
            "--set", "fl_period=5", "--set", "syn_buffer_size=256", "--set", "rho_syn=0.25", "--out", str(out)]
    proc = _train_cli(args, tmp_path_factory.mktemp("jax_cache"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algo"] == "maddpg_cgan" and (out / "checkpoint.msgpack").exists()
    assert np.isfinite(summary["final"]["cost"]["mean"])
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert float(rows[-1]["syn_share"]) > 0.0  # the twin's synthetic transitions reach the minibatches
    assert all(np.isfinite(float(r["wasserstein"])) for r in rows)


@pytest.mark.slow
def test_train_cli_maddpg_cgan_learns_and_beats_random(tmp_path_factory):
    """The CLI run of ``--algo maddpg_cgan``: two vmapped seeds on 2 users
    x 2 servers x 2 tasks with the twin, the DT pool (the paper's share 0.25) and FL all active (twin
    from 800 env steps, FL every 25 iterations). Each seed's deterministic policy at least halves random's cost on the
    summary's shared evaluation keys."""
    out = tmp_path_factory.mktemp("maddpg_cgan")
    args = ["--algo", "maddpg_cgan", *TINY, "--total-steps", str(256 + 8 * 400), "--num-envs", "8", "--seeds", "2",
            "--set", "warmup_steps=256", "--set", "chunk_size=200", "--set", "batch_size=64",
            "--set", "gan_warmup_steps=800", "--set", "gan_batch=32", "--set", "fl_period=25",
            "--set", "syn_buffer_size=512", "--set", "rho_syn=0.25", "--eval-envs", "64", "--eval-steps", "20",
            "--quiet", "--no-plot", "--out", str(out)]
    proc = _train_cli(args, tmp_path_factory.mktemp("jax_cache"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algo"] == "maddpg_cgan" and (out / "checkpoint.msgpack").exists()
    rand_cost = summary["baselines"]["random"]["cost"]["mean"]
    costs = [run["cost"]["mean"] for run in summary["final_per_run"]]
    assert len(costs) == 2 and all(c < 0.5 * rand_cost for c in costs), (costs, rand_cost)
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert float(rows[-1]["syn_share"]) > 0.2  # synthetic transitions reach the minibatches
    assert all(np.isfinite(float(r["wasserstein"])) for r in rows)


def test_critic_state_other_than_global_is_refused():
    env = jaxedge.make("dt_inference", n_users=2, n_servers=2, n_tasks=2)
    with pytest.raises(ValueError, match="critic_state must be 'global'"):
        maddpg_cgan.make_train(maddpg_cgan.Config(critic_state="none"), env, env.default_params)
