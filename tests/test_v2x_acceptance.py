"""benchmarks/v2x_acceptance.py: the verdict against Greedy-DT is computed from the two intervals."""

import pytest

from benchmarks import v2x_acceptance as acc

EVAL = {"num_envs": 128, "steps": 100, "seed": 12345}
GREEDY = {"mean": 0.0097, "ci95": 0.00008, "n": 128}


def summary(costs, config=None, ev=EVAL):
    return {"env": "v2x", "eval": ev, "config": config or {"lr_actor": 0.003}, "seeds": list(range(len(costs))),
            "final_per_run": [{"cost": {"mean": c}} for c in costs], "baselines": {"greedy": {"cost": GREEDY}}}


def test_verdicts():
    apart = acc.compare([summary([0.00950, 0.00951, 0.00949])])
    assert apart["verdict"] == "beats greedy, CIs apart" and apart["above_greedy"] < 0
    assert acc.compare([summary([0.00960, 0.00970, 0.00955])])["verdict"] == "beats greedy on the mean"
    assert acc.compare([summary([0.00990, 0.00985])])["verdict"] == "does not beat greedy"
    assert acc.compare([summary([0.00900])])["verdict"] == "beats greedy on the mean"  # one seed: no CI


def test_refuses_runs_that_cannot_be_pooled():
    with pytest.raises(SystemExit, match="evaluated differently"):
        acc.compare([summary([0.0095]), summary([0.0095], ev={**EVAL, "num_envs": 64})])
    with pytest.raises(SystemExit, match="different configs"):
        acc.compare([summary([0.0095]), summary([0.0095], config={"lr_actor": 0.001})])
