"""benchmarks/headroom_capture.py on hand-made summaries: the target, the captured fraction and the
computed verdict (nothing is trained)."""

from __future__ import annotations

import json

import pytest

from benchmarks import headroom_capture

EVAL = {"num_envs": 4, "steps": 10, "seed": 1}


def summary(costs, greedy=1.4, bound=1.2, config=None):
    return {"env": "dt_inference", "algo": "maddpg_cgan", "eval": EVAL, "config": config or {"lr": 1},
            "final_per_run": [{"cost": {"mean": c}, "delay": {"mean": 0.2}, "energy": {"mean": 0.1}} for c in costs],
            "baselines": {"greedy": {"cost": {"mean": greedy}, "delay": {"mean": 0.2}, "energy": {"mean": 0.2}}},
            "bound": {"cost": {"mean": bound}}}


@pytest.mark.parametrize("costs, verdict", [
    ([1.25, 1.26, 1.24, 1.25, 1.25], "met with CI"),  # target 1.3, CI upper end ~1.26
    ([1.20, 1.40, 1.22, 1.38, 1.29], "met"),  # mean 1.298 <= 1.3, CI upper end above it
    ([1.31, 1.32, 1.30, 1.33, 1.31], "not met"),
])
def test_verdict_against_half_the_headroom(costs, verdict):
    res = headroom_capture.capture([summary(costs[:2]), summary(costs[2:])])  # seeds from two run dirs
    assert res["target"] == pytest.approx(1.3) and res["cost"]["n"] == 5
    assert res["verdict"] == verdict
    assert res["captured_per_seed"][0] == pytest.approx((1.4 - costs[0]) / 0.2)


def test_runs_must_share_evaluation_and_config(tmp_path):
    with pytest.raises(SystemExit, match="evaluated differently"):
        headroom_capture.capture([summary([1.3]), {**summary([1.3]), "eval": {**EVAL, "seed": 2}}])
    with pytest.raises(SystemExit, match="different configs"):
        headroom_capture.capture([summary([1.3]), summary([1.3], config={"lr": 2})])
    (tmp_path / "summary.json").write_text(json.dumps({**summary([1.3]), "env": "v2x"}))
    with pytest.raises(SystemExit, match="not a dt_inference run"):
        headroom_capture.load(tmp_path)
