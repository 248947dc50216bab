"""The reproduction framework: one module per seed declares WHAT to run and check; the shared part
runs it, resumes it and renders it.

    python scripts/reproduce.py --seed 000 [--quick] [--resume] ...

A seed module ``benchmarks/reproduce/seed_NNN.py`` defines ``REPRODUCTION = Reproduction(...)``
(registered in `SEEDS`):

* ``profiles``: the run sizes of ``--quick`` and the full run (`Profile`), with the sweep grids the
  CLI's ``--grid NAME=V1,V2`` may replace;
* ``plan(settings) -> Plan``: the jobs (`Job`: one learner or heuristic on one env scenario, all
  seeds of a learner in one job) and a JSON ``layout`` naming which job fills which table cell;
* ``claims(results) -> [Claim]``: the paper's claims with their paper values and computed verdicts
  (`benchmarks.reproduce.claims`, pure, no JAX);
* ``figures(results) -> [SweepFigure | CurveFigure]`` and ``setup`` / ``tables`` (Markdown lines):
  what `benchmarks.reproduce.report` draws and writes.

`benchmarks.reproduce.runner` turns jobs into results on the `algos.common.training.Trainer`:
learners through `algos.common.runner.train_runs` (chunked, checkpointed per job, bit-exact
``--resume``), heuristics through `algos.common.evaluation.evaluate`.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from benchmarks.reproduce.claims import Claim, Results  # noqa: F401 (annotations)

SEEDS = {"000": "benchmarks.reproduce.seed_000", "001": "benchmarks.reproduce.seed_001",
         "002": "benchmarks.reproduce.seed_002", "003": "benchmarks.reproduce.seed_003",
         "004": "benchmarks.reproduce.seed_004"}  # id -> module with REPRODUCTION


@dataclasses.dataclass(frozen=True)
class Job:
    """One unit of work: a learner (all seeds in one chunked, checkpointed call) or a heuristic,
    evaluated on one env scenario. ``id`` is unique in a plan and names the job in the JSON;
    ``variant`` holds Config fields of this job only (e.g. an FL mode)."""

    id: str
    algo: str
    env: str
    sizes: Mapping[str, int]
    preset: str | None = None
    variant: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # env Params fields over the preset
    # (a scenario sweep that keeps the shapes, e.g. seed 002's task size or ES CPU); lists become arrays
    evals: tuple = ()  # extra evaluations of the trained policy (or heuristic) on other scenarios of the same
    # env sizes: ((name, preset or None, {Params field: value}), ...); result id "<job id>|<name>"
    keep_checkpoint: bool = False  # keep the trained state (a later job of the plan starts from it)


@dataclasses.dataclass(frozen=True)
class Profile:
    """Run sizes of one profile (``full`` or ``quick``)."""

    total_steps: int  # env steps per learner run and seed (all parallel envs, warm-up included)
    seeds: int
    eval_envs: int
    eval_steps: int
    grids: Mapping[str, tuple]  # sweep values by name; ``--grid NAME=V1,V2`` replaces one
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # Config fields for every
    # learner that has them (a learner without the field ignores it)
    fast_compile: bool = False  # compile at XLA optimisation level 0 (compile-bound smoke runs)
    curve_points: int = 40  # chunks per learner job = learning-curve points = checkpoints (fewer for
    # learners whose train state is large: seed 001's 5-seed state is ~0.8 GB per checkpoint)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved run-wide settings every job of one invocation shares."""

    profile: str
    total_steps: int
    seeds: tuple
    eval_envs: int
    eval_steps: int
    eval_seed: int
    grids: Mapping[str, tuple]
    overrides: Mapping[str, Any]
    sets: tuple = ()  # ((algo or None, key, value text), ...) from ``--set [ALGO:]KEY=VALUE``
    sections: tuple = ()
    algos: tuple = ()
    curve_points: int = 40  # chunks per learner job (`Profile.curve_points`)
    out: str = ""  # the output directory (a job may read an earlier job's checkpoint under it)


@dataclasses.dataclass(frozen=True)
class Plan:
    jobs: tuple  # of Job, in run order, unique ids
    layout: dict  # JSON-able: sections -> which job id fills which cell (read by claims and figures)


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """What a seed module declares; see the module docstring."""

    seed: str
    title: str
    sections: tuple  # names accepted by ``--only``
    algos: tuple  # default ``--algos`` (learners and heuristics)
    profiles: Mapping[str, Profile]  # must hold "full" and "quick"
    plan: Callable[[Settings], Plan]
    claims: Callable[["Results"], "list[Claim]"]
    figures: Callable[["Results"], list]  # -> [report.SweepFigure | report.CurveFigure]
    setup: Callable[["Results"], list]  # -> Markdown bullet lines on the scenario
    tables: Callable[["Results"], list] = lambda results: []  # -> extra Markdown after the sweep tables
    curve_metrics: tuple = ("reward", "cost")  # training metrics kept in the JSON's curves

    @property
    def name(self) -> str:
        return f"reproduce_{self.seed}"

    def __post_init__(self):
        missing = {"full", "quick"} - set(self.profiles)
        if missing:
            raise ValueError(f"seed {self.seed}: profiles lack {sorted(missing)}")


def load(seed: str) -> Reproduction:
    """The `Reproduction` of a seed id (``"000"``); ValueError for an unknown one."""
    if seed not in SEEDS:
        raise ValueError(f"no reproduction for seed {seed!r}; have {', '.join(sorted(SEEDS))}")
    rep = importlib.import_module(SEEDS[seed]).REPRODUCTION
    if not isinstance(rep, Reproduction):
        raise TypeError(f"{SEEDS[seed]}.REPRODUCTION is not a Reproduction")
    return rep
