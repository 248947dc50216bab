"""Seed 002's reproduction module: the plan's layout and the computed verdicts of the ordering claim on
hand-made results (pure Python, no training)."""

from __future__ import annotations

from benchmarks import reproduce
from benchmarks.reproduce import Settings, seed_002
from benchmarks.reproduce.claims import Results

REP = reproduce.load("002")
COSTS = {"dt_maddpg": 1.0, "amcs": 2.0, "ddpg": 3.0, "rocs": 4.0, "alcs": 5.0, "greedy": 0.5}


def settings(**grids):
    g = dict(REP.profiles["full"].grids)
    g.update(grids)
    return Settings("full", 100, (0, 1, 2, 3, 4), 4, 10, 0, g, {}, (), REP.sections, REP.algos)


def results(plan, costs, ci=0.1):
    runs = {}
    for job in plan.jobs:
        c = costs[job.algo] * (1.5 if ":m20" in job.id else 1.0)
        final = {"cost": {"mean": c, "ci95": ci, "n": 5}, "delay": {"mean": c, "ci95": ci, "n": 5},
                 "energy": {"mean": c, "ci95": ci, "n": 5}}
        runs[job.id] = {"status": "done", "kind": "heuristic", "final": final}
    return Results({"meta": {}, "plan": plan.layout, "runs": runs})


def test_plan_learners_only_at_the_default_point():
    plan = REP.plan(settings(vehicles=(10, 20), task_size=(50, 150), es_cpu=(5, 25), learner_sweeps=(0,)))
    learners = sorted(j.id for j in plan.jobs if j.algo in ("dt_maddpg", "ddpg"))
    assert learners == ["ddpg@literal:m10", "ddpg@trend:m10", "dt_maddpg@literal:m10", "dt_maddpg@trend:m10"]
    d50 = next(j for j in plan.jobs if j.id == "amcs@trend:m10:D50")
    assert d50.params["task_probs"] == [0.0, 1.0, 0.0, 0.0, 0.0]
    f5 = next(j for j in plan.jobs if j.id == "alcs@literal:m10:F5")
    assert f5.params == {"es_cpu_low": 5e9, "es_cpu_high": 5e9} and f5.preset == "literal"


def test_learners_train_with_the_reproduction_actor_not_the_defaults():
    import algos
    from benchmarks.reproduce import runner

    profile = REP.profiles["full"]
    run = Settings("full", 100, (0,), 4, 10, 0, dict(profile.grids), dict(profile.overrides), (), REP.sections,
                   REP.algos)
    plan = REP.plan(settings(vehicles=(10, 20), task_size=(50, 150), es_cpu=(5, 25), learner_sweeps=(0,)))
    for job in (j for j in plan.jobs if j.algo in ("dt_maddpg", "ddpg")):
        module = algos.ALGOS[job.algo]
        cfg = runner.learner_config(module, job, run)
        for name, stored in seed_002.REPRODUCTION_ACTOR.items():
            assert getattr(cfg, name) == stored  # what the stored runs trained
            assert getattr(module.Config(), name) != stored  # the learners' defaults have moved on


def test_ordering_verdicts_are_computed_point_by_point():
    plan = REP.plan(settings(vehicles=(10, 20), task_size=(50, 150), es_cpu=(5, 25)))
    claims = {c.id: c for c in REP.claims(results(plan, COSTS))}
    assert claims["order-trend-F5"].verdict == "reproduced"
    assert claims["order-literal-vehicles"].verdict == "reproduced"
    assert claims["F9-trend-amcs-cost"].verdict == "reproduced"  # x1.5 at M = 20
    swapped = dict(COSTS, dt_maddpg=2.0, amcs=1.0)
    claims = {c.id: c for c in REP.claims(results(plan, swapped))}
    assert claims["order-trend-F5-dt_maddpg<amcs"].verdict == "contradicted"
    assert claims["order-trend-F5"].verdict == "contradicted"
    assert claims["order-trend-F5-amcs<ddpg"].verdict == "reproduced"
    close = {c.id: c for c in REP.claims(results(plan, COSTS, ci=2.0))}
    assert close["order-trend-F5-dt_maddpg<amcs"].verdict == "not reproduced"  # CIs overlap
    assert close["F7-speed"].verdict == "not run"
