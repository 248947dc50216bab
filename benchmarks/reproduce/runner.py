"""Jobs -> results on the `algos.common.training.Trainer`, with resume.

* A learner job trains every seed through `algos.common.runner.train_runs`: one compiled call per
  chunk, a checkpoint and ``metrics.csv`` after every chunk under ``OUT/<name>_runs/<job>/``, so an
  interrupted job continues bit-exactly with ``resume=True``. Its learning curve is the per-chunk
  metrics rows; its result, the deterministic policy of every seed evaluated by
  `algos.common.evaluation.evaluate_runs` on the same envs and keys as the heuristics.
* A heuristic job is `algos.common.evaluation.evaluate` (Student t over the eval envs); a job whose
  algo is ``"bound"`` evaluates the env's certified lower bound (`algos.heuristics.BOUNDS`) instead.
* `reproduce` runs a plan job after job and rewrites ``OUT/<name>.json`` after each, so a killed
  invocation keeps every finished job; with ``resume=True`` a finished job whose signature (algo,
  env scenario, full Config, seeds, evaluation) matches is kept, and an interrupted one resumes from
  its checkpoint. The checkpoint's state file is deleted once the job's result is in the JSON
  (replay buffers make it large; ``keep_checkpoints`` keeps it, and a later ``resume`` with other
  evaluation settings then re-evaluates without retraining); ``metrics.csv`` stays.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import re
import sys
import time
import traceback
import typing
from pathlib import Path

from benchmarks.reproduce import Job, Plan, Reproduction, Settings, report
from benchmarks.reproduce.claims import counts

BOUND = "bound"  # a job named so evaluates `algos.heuristics.BOUNDS[env]` (a heuristic-like row)
CURVE_POINTS = 40  # chunks per learner job: the points of a learning curve (chunking never changes a result)


class JobSkipped(Exception):
    """A job that cannot run as planned (e.g. a variant field its learner's Config lacks)."""


# ---- configs ------------------------------------------------------------------------------------------
def learner_config(module, job: Job, settings: Settings, env_steps_per_iter: int | None = None):
    """The job's ``Config``: the learner's defaults, the profile's overrides (fields it lacks are
    ignored), ``--set`` items (unscoped ones only where the field exists; scoped ones must exist),
    the job's variant (must exist, else `JobSkipped`), ``total_env_steps`` and a ``chunk_size`` that
    gives about `CURVE_POINTS` chunks."""
    from algos.common import cli

    fields = {f.name for f in dataclasses.fields(module.Config)}
    hints = typing.get_type_hints(module.Config)
    over = {k: v for k, v in settings.overrides.items() if k in fields}
    for algo, key, text in settings.sets:
        if algo is None and key not in fields:
            continue
        if algo not in (None, job.algo):
            continue
        if key not in fields:
            raise cli.UsageError(f"--set {algo}:{key}: {algo}.Config has no field {key!r}")
        over[key] = cli.parse_value(key, text, hints[key])
    lacking = [k for k in job.variant if k not in fields]
    if lacking:
        raise JobSkipped(f"{job.algo}.Config has no field {', '.join(lacking)}")
    over.update(job.variant)
    over["total_env_steps"] = settings.total_steps
    cfg = dataclasses.replace(module.Config(), **over)
    per_iter = env_steps_per_iter or cfg.num_envs
    iters = max(1, math.ceil(cfg.total_env_steps / per_iter))
    points = getattr(settings, "curve_points", CURVE_POINTS)
    return dataclasses.replace(cfg, chunk_size=max(1, math.ceil(iters / points)))


def make_env(job: Job):
    import jaxedge
    import numpy as np

    env = jaxedge.make(job.env, **job.sizes)
    params = env.make_params(job.preset)
    if job.params:
        params = params.replace(**{k: np.asarray(v, np.float32) if isinstance(v, (list, tuple)) else v
                                   for k, v in job.params.items()})
        env.validate_params(params)
    return env, params


def eval_scenarios(job: Job):
    """``[(name, params)]`` of the job's extra evaluations (`Job.evals`): its preset (or the eval's own)
    with its env Params and the eval's on top."""
    out = []
    for name, preset, over in job.evals:
        other = dataclasses.replace(job, preset=preset or job.preset, params={**job.params, **over}, evals=())
        out.append((name, make_env(other)[1]))
    return out


def _scenario(job: Job) -> dict:
    """The job's env scenario for its signature; env Params overrides only when there are any (older
    results stay resumable)."""
    out = {"algo": job.algo, "env": job.env, "sizes": dict(job.sizes), "preset": job.preset}
    if job.params:
        out["params"] = dict(job.params)
    if job.evals:
        out["evals"] = [[name, preset, dict(over)] for name, preset, over in job.evals]
    return out


def training_signature(job: Job, settings: Settings, cfg) -> dict:
    """What a learner's checkpoint must match to be resumed: everything that shapes its training."""
    return {**_scenario(job), "variant": dict(job.variant), "seeds": list(settings.seeds),
            "config": json.loads(json.dumps(dataclasses.asdict(cfg)))}


def signature(job: Job, settings: Settings, cfg=None) -> dict:
    """What a stored result must match to be reused by ``resume``: the training signature (learners)
    plus the evaluation settings."""
    base = training_signature(job, settings, cfg) if cfg is not None else _scenario(job)
    return {**base, "eval": [settings.eval_envs, settings.eval_steps, settings.eval_seed]}


def build_learner(job: Job, settings: Settings):
    """``(env, params, cfg, trainer)`` of a learner job (nothing compiled); `JobSkipped` when its
    Config cannot take the job's variant."""
    import algos

    module = algos.ALGOS[job.algo]
    env, params = make_env(job)
    cfg = learner_config(module, job, settings)
    trainer = algos.make_trainer(job.algo, cfg, env, params)
    if trainer.sizes.env_steps_per_iter != cfg.num_envs:  # on-policy: iterations of several vector steps
        cfg = learner_config(module, job, settings, trainer.sizes.env_steps_per_iter)
        trainer = algos.make_trainer(job.algo, cfg, env, params)
    return env, params, cfg, trainer


def _eval_key(settings: Settings):
    import jax

    return jax.random.PRNGKey(settings.eval_seed)


# ---- one job ------------------------------------------------------------------------------------------
def run_heuristic(job: Job, settings: Settings) -> dict:
    from algos import heuristics
    from algos.common.evaluation import evaluate

    env, params = make_env(job)
    t0, c0 = time.perf_counter(), time.process_time()
    if job.algo == BOUND:  # the env's certified lower bound on any policy's cost, on the same envs and keys
        final = heuristics.BOUNDS[job.env](env, params, _eval_key(settings), settings.eval_envs, settings.eval_steps)
        evals = {}
    else:
        policy = heuristics.make_heuristic(env, job.algo)
        final = evaluate(env, params, policy, _eval_key(settings), settings.eval_envs, settings.eval_steps)
        evals = {name: {"final": evaluate(env, p, policy, _eval_key(settings), settings.eval_envs, settings.eval_steps)}
                 for name, p in eval_scenarios(job)}
    wall = time.perf_counter() - t0
    rec = {"kind": "heuristic", "status": "done", "signature": signature(job, settings), "final": final,
           "wall_s": wall, "eval_s": wall, "cpu_s": {"eval": time.process_time() - c0}}
    return {**rec, "evals": evals} if evals else rec


def checkpoint_dir(out: Path, rep: Reproduction, job: Job) -> Path:
    return Path(out) / f"{rep.name}_runs" / re.sub(r"[^A-Za-z0-9_.=-]+", "_", job.id)


def learning_curve(rows: list[dict], n_runs: int, keep) -> dict:
    """``{"env_steps": [chunks], "metrics": {name: [runs][chunks]}}`` from `train_runs`' rows."""
    chunks = sorted({int(r["chunk"]) for r in rows})
    steps = {int(r["chunk"]): int(r["env_steps"]) for r in rows}
    names = [k for k in keep if rows and k in rows[0]]
    table = {k: [[math.nan] * len(chunks) for _ in range(n_runs)] for k in names}
    col = {c: i for i, c in enumerate(chunks)}
    for r in rows:
        for k in names:
            table[k][int(r["run"])][col[int(r["chunk"])]] = float(r[k])
    return {"env_steps": [steps[c] for c in chunks], "metrics": table}


def run_learner(job: Job, settings: Settings, rep: Reproduction, out: Path, *, resume: bool,
                max_chunks: int | None = None, quiet: bool = True, keep_checkpoints: bool = False) -> dict:
    import jax

    from algos.common import checkpoint, cli
    from algos.common.evaluation import evaluate_runs
    from algos.common.runner import train_runs

    env, params, cfg, trainer = build_learner(job, settings)
    runs = cli.runs_grid(settings.seeds, {})
    if trainer.replay is not None:
        trainer.replay.check(len(runs))
    sig = signature(job, settings, cfg)
    ckpt = checkpoint_dir(out, rep, job)
    t0, c0 = time.perf_counter(), time.process_time()
    kwargs = dict(meta={**training_signature(job, settings, cfg), "runs": runs}, max_chunks=max_chunks, quiet=quiet,
                  label=job.id)  # "runs" as scripts/train.py writes it: a later job may load the run (algos.tac.load_run)
    try:
        result = train_runs(trainer, runs, ckpt, resume=resume and checkpoint.exists(ckpt), **kwargs)
    except checkpoint.CheckpointError as err:
        print(f"{job.id}: {err}; training it afresh", file=sys.stderr, flush=True)
        result = train_runs(trainer, runs, ckpt, resume=False, **kwargs)
    c1 = time.process_time()
    rec = {"kind": "learner", "signature": sig, "config": sig["config"], "n_seeds": len(runs),
           "seeds": list(settings.seeds), "env_steps": int(trainer.sizes.total_env_steps),
           "num_envs": int(cfg.num_envs), "warmup_env_steps": int(trainer.sizes.warmup_env_steps),
           "checkpoint": str(ckpt.relative_to(out)), "init_s": result.init_s, "first_chunk_s": result.first_chunk_s,
           "train_s": result.wall_s, "curve": learning_curve(result.rows, len(runs), rep.curve_metrics)}
    if not result.finished:
        done = len(rec["curve"]["env_steps"])
        return {**rec, "status": "interrupted", "reason": f"stopped after chunk {done}/{trainer.sizes.num_chunks}"}
    t1 = time.perf_counter()
    trained = evaluate_runs(env, params, trainer, result.runner_state, _eval_key(settings),
                            settings.eval_envs, settings.eval_steps)
    jax.block_until_ready(trained["run_means"])
    evals = {}
    for name, p in eval_scenarios(job):
        other = evaluate_runs(env, p, trainer, result.runner_state, _eval_key(settings), settings.eval_envs,
                              settings.eval_steps)
        evals[name] = {"final": other["over_runs"], "per_seed": {k: v.tolist() for k, v in other["run_means"].items()}}
    eval_s = time.perf_counter() - t1
    if not (keep_checkpoints or job.keep_checkpoint):
        (ckpt / checkpoint.STATE_FILE).unlink(missing_ok=True)
    return {**rec, "status": "done", "eval_s": eval_s, "wall_s": result.wall_s + eval_s,
            "cpu_s": {"train": c1 - c0, "eval": time.process_time() - c1},
            "env_steps_per_s": trainer.sizes.total_env_steps * len(runs) / max(result.wall_s, 1e-9),
            "final": trained["over_runs"], "per_seed": {k: v.tolist() for k, v in trained["run_means"].items()},
            **({"evals": evals} if evals else {})}


def run_job(job: Job, settings: Settings, rep: Reproduction, out: Path, **kwargs) -> dict:
    """The job's record; a learner that is not registered, cannot take its variant or fails is
    recorded as such (its claims read "not run") instead of stopping the other jobs."""
    import algos
    from algos import heuristics
    from algos.common.runner import TrainingDiverged

    head = {"algo": job.algo, "env": job.env, "sizes": dict(job.sizes), "variant": dict(job.variant)}
    if job.algo not in algos.ALGOS:
        if job.algo in heuristics.HEURISTICS.get(job.env, {}) or (job.algo == BOUND and job.env in heuristics.BOUNDS):
            return {**head, **run_heuristic(job, settings)}
        return {**head, "kind": "learner", "status": "not run", "reason": f"{job.algo} is not registered in "
                f"algos.ALGOS nor a heuristic of {job.env}"}
    try:
        return {**head, **run_learner(job, settings, rep, out, **kwargs)}
    except JobSkipped as err:
        return {**head, "kind": "learner", "status": "not run", "reason": str(err)}
    except (TrainingDiverged, ValueError, RuntimeError) as err:  # one broken learner must not lose the rest
        traceback.print_exc()
        return {**head, "kind": "learner", "status": "failed", "reason": f"{type(err).__name__}: {err}"[:300]}


# ---- the whole plan -------------------------------------------------------------------------------------
def device_info() -> dict:
    import jax

    dev = jax.devices()[0]
    return {"device": f"{dev.platform} ({getattr(dev, 'device_kind', '')})", "jax": jax.__version__,
            "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}


def _hms(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _summary(rec: dict) -> str:
    if rec.get("status") != "done":
        return rec.get("reason", "")
    f = rec["final"]
    text = " ".join(f"{k} {f[k]['mean']:.3g}" for k in ("delay", "energy", "cost", "reward") if k in f)
    if rec["kind"] == "learner":
        text = f"first chunk {rec['first_chunk_s']:.0f}s train {rec['train_s']:.0f}s eval {rec['eval_s']:.0f}s; " + text
    return text


def reproduce(rep: Reproduction, settings: Settings, out: Path, *, command: str, resume: bool = False,
              max_chunks: int | None = None, quiet: bool = True, keep_checkpoints: bool = False) -> dict:
    """Run ``rep``'s plan for ``settings`` into ``out`` and write the JSON, Markdown and figures."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{rep.name}.json"
    plan: Plan = rep.plan(settings)
    old = report.read_json(json_path).get("runs", {}) if resume and json_path.exists() else {}
    data = {"meta": {"command": command, "seed": rep.seed, "profile": settings.profile,
                     "steps": settings.total_steps, "seeds": list(settings.seeds), "eval_envs": settings.eval_envs,
                     "eval_steps": settings.eval_steps, "eval_seed": settings.eval_seed,
                     "grids": {k: list(v) for k, v in settings.grids.items()}, "overrides": dict(settings.overrides),
                     "sets": [list(s) for s in settings.sets], "sections": list(settings.sections),
                     "algos": list(settings.algos), "loadavg_start": list(os.getloadavg()),
                     "started": time.strftime("%Y-%m-%d %H:%M:%S"), **device_info()},
            "plan": plan.layout, "runs": {}, "claims": []}
    t_start, learner_s, kept = time.perf_counter(), [], 0
    n_learners = sum(1 for j in plan.jobs if not _is_heuristic(j))
    print(f"{rep.name}: {len(plan.jobs)} jobs ({n_learners} learner jobs x {len(settings.seeds)} seeds, "
          f"{settings.total_steps:,} env steps each) -> {out}", file=sys.stderr, flush=True)
    for i, job in enumerate(plan.jobs, 1):
        tag = f"[{i}/{len(plan.jobs)}] {job.id}"
        prev = old.get(job.id)
        if prev and prev.get("status") == "done" and _same_job(prev, job, settings):
            data["runs"][job.id] = prev
            kept += 1
            print(f"{tag}: kept from the previous run (--resume)", file=sys.stderr, flush=True)
            continue
        t0 = time.perf_counter()
        rec = run_job(job, settings, rep, out, resume=resume, max_chunks=max_chunks, quiet=quiet,
                      keep_checkpoints=keep_checkpoints)
        data["runs"][job.id] = rec
        if rec["kind"] == "learner" and rec["status"] == "done":
            learner_s.append(time.perf_counter() - t0)
        left = sum(1 for j in plan.jobs if not _is_heuristic(j) and j.id not in data["runs"])
        eta = left * sum(learner_s) / len(learner_s) if learner_s else math.nan
        elapsed = time.perf_counter() - t_start
        print(f"{tag}: {rec['status']} in {time.perf_counter() - t0:.0f}s; {_summary(rec)} | elapsed {_hms(elapsed)}, "
              f"ETA {_hms(eta)} ({left} learner jobs left)", file=sys.stderr, flush=True)
        data["meta"].update(wall_s=elapsed, resumed_runs=kept)
        report.write_json(data, json_path)  # a kill keeps every finished job
    data["meta"].update(wall_s=time.perf_counter() - t_start, resumed_runs=kept, loadavg_end=list(os.getloadavg()))
    report.write_reports(rep, data, out)
    tally = counts(data["claims"])
    print(f"wrote {json_path}, {rep.name}.md and figures in {_hms(data['meta']['wall_s'])}; verdicts: "
          + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())), file=sys.stderr, flush=True)
    return data


def merge(rep: Reproduction, settings: Settings, out: Path, others) -> dict:
    """Add to ``out``'s results the finished jobs of ``others`` (results JSONs of other invocations) that
    ``rep``'s plan for ``settings`` needs, has not finished, and that match its signature (as
    ``--resume`` checks); record each source command in ``meta["side_runs"]`` and rewrite the reports."""
    json_path = Path(out) / f"{rep.name}.json"
    data = report.read_json(json_path)
    jobs, added = rep.plan(settings).jobs, {}
    for path in others:
        other = report.read_json(path)
        for job in jobs:
            prev = other.get("runs", {}).get(job.id)
            if (data["runs"].get(job.id, {}).get("status") != "done" and prev and prev.get("status") == "done"
                    and _same_job(prev, job, settings)):
                data["runs"][job.id] = prev
                added.setdefault(other["meta"].get("command", str(path)), []).append(job.id)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    data["meta"].setdefault("side_runs", []).extend(
        {"command": command, "jobs": job_ids, "merged": stamp} for command, job_ids in added.items())
    report.write_reports(rep, data, out)
    print(f"merged {sum(map(len, added.values()))} finished job(s) into {json_path}", file=sys.stderr, flush=True)
    return data


def _is_heuristic(job: Job) -> bool:
    import algos

    return job.algo not in algos.ALGOS


# Config fields added after stored results were made whose default is not the behaviour those runs had:
# the value that reproduces it (maddpg_cgan's default actor update changed with issue 26, dt_maddpg's target
# exploration and fade inputs at stop 41).
BEFORE_FIELD = {"actor_others": "replay", "target_temperature_end": 1.0, "log_gain": False}


def _same_job(prev: dict, job: Job, settings: Settings) -> bool:
    """A stored result is reused when it was made with the same signature (for a learner: the same
    full Config, seeds and evaluation; the trainer is built, nothing is compiled)."""
    if _is_heuristic(job):
        return prev.get("signature") == report.clean(signature(job, settings))
    try:
        cfg = build_learner(job, settings)[2]
    except (JobSkipped, ValueError):  # run_job records why
        return False
    return prev.get("signature") == without_fields_added_since(report.clean(signature(job, settings, cfg)), prev, cfg)


def without_fields_added_since(sig: dict, prev: dict, cfg) -> dict:
    """``sig`` without the Config fields that ``prev``'s stored config lacks and whose value is the one
    the stored run had: `BEFORE_FIELD` where listed, else the field's default. A field added to a
    learner after the run, at the behaviour the run had, does not make the run stale (a field at any
    other value still does)."""
    stored = prev.get("signature", {}).get("config", {})
    before = {f.name: report.clean(BEFORE_FIELD.get(f.name, f.default)) for f in dataclasses.fields(cfg)
              if f.name in BEFORE_FIELD or f.default is not dataclasses.MISSING}
    config = {k: v for k, v in sig["config"].items() if k in stored or k not in before or v != before[k]}
    return {**sig, "config": config}
