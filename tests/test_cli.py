"""The one command-line vocabulary (algos/common/cli.py): typed --set values, sweeps, seeds, presets."""

import pytest

from algos import maddpg
from algos.common import cli


def test_set_values_follow_the_field_types():
    cfg = cli.parse_config(maddpg.Config, ["lr_actor=3e-4", "batch_size=64", "actor_hidden=32,16",
                                           "share_init=", "share_params=true", "critic_arch=mlp"])
    assert cfg.lr_actor == 3e-4 and cfg.batch_size == 64 and cfg.actor_hidden == (32, 16)
    assert cfg.share_init == () and cfg.share_params is True and cfg.critic_arch == "mlp"
    assert cli.parse_config(maddpg.Config, ["share_init=none"]).share_init is None
    assert cli.parse_config(maddpg.Config, [], total_steps=800, num_envs=8).total_env_steps == 800


@pytest.mark.parametrize("items, needle", [
    (["batch_size=1.5"], "batch_size expects int"),
    (["lr_actor=fast"], "lr_actor expects float"),
    (["nope=1"], "unknown config key 'nope'"),
    (["lr_actor"], "--set expects KEY=VALUE"),
    (["chunk_size=0"], "chunk_size must be an int >= 1"),
    (["batch_size=0"], "batch_size must be an int >= 1"),
])
def test_bad_set_values_are_usage_errors(items, needle):
    with pytest.raises(cli.UsageError, match=needle):
        cli.parse_config(maddpg.Config, items)


def test_sweeps_seeds_and_the_runs_grid():
    sweep = cli.parse_sweep(["lr_actor=1e-4,1e-3", "tau=0.01"], maddpg.TRACED)
    runs = cli.runs_grid(cli.parse_seeds("2"), sweep)
    assert [(r["seed"], r["lr_actor"]) for r in runs] == [(0, 1e-4), (1, 1e-4), (0, 1e-3), (1, 1e-3)]
    assert cli.parse_seeds("3,5") == [3, 5]
    for bad, needle in ((["lr_actor="], "at least one value"), (["batch_size=1"], "sweepable keys"),
                        (["lr_actor=a"], "expects numbers")):
        with pytest.raises(cli.UsageError, match=needle):
            cli.parse_sweep(bad, maddpg.TRACED)
    for bad in (",", "0", "x"):
        with pytest.raises(cli.UsageError, match="--seeds"):
            cli.parse_seeds(bad)


def test_presets_receive_the_static_sizes():
    env, params = cli.make_env("v2x", ["n_servers=5"], "literal")
    assert params.es_pos.shape == (5, 2)
    with pytest.raises(cli.UsageError, match="choose one of"):
        cli.make_env("v2x", [], "nope")
    with pytest.raises(cli.UsageError, match="--size expects NAME=INT"):
        cli.make_env("v2x", ["n_servers"], None)
