#!/usr/bin/env python
"""Training throughput: env-steps/s, updates/s and compile time for 1, 8 and 64 vmapped seeds, per algo.

    python benchmarks/train_throughput.py                         # every algo, seeds 1 8 64
    python benchmarks/train_throughput.py --algo maddpg --seeds 1 8 --iters 20
    python benchmarks/train_throughput.py --groups               # vmap only, no blocked rows
    python benchmarks/train_throughput.py --env slicing --algo fed_d3qn_gan id3qn_gan fed_d3qn id3qn \
        --seeds 1 4 --groups --out benchmarks/results/train_throughput_slicing   # seed 001's learners

Each algo runs with its default ``Config`` (the defaults of ``scripts/train.py``) on the default
env, except a small replay buffer (``--buffer``; throughput barely depends on it, memory does: 64
seeds x 50k transitions would not fit) and no warm-up (every iteration does its update). One
iteration = one vector env step of ``num_envs`` envs + ``updates_per_step`` gradient updates, for
every seed. The first chunk call (compile + run) is timed apart from the following ones; the
reported rate is the best of ``--repeats`` calls of ``--iters`` iterations after
``block_until_ready``. "vs N single runs" = env-steps/s of the N-seed call / env-steps/s of the
1-seed call, i.e. (time of N single-seed runs back to back) / (time of one N-seed call): >= 1 means
the vmapped call is no slower per seed than N separate runs. The 1-seed rate of that ratio is
measured interleaved with the N-seed calls (one 1-seed chunk before each N-seed chunk, best of
``--repeats`` each), so a change of machine load between cases does not enter the ratio. With
``--groups G`` (default 8) every seed count above G is also timed as one call that ``lax.map``s over blocks of G vmapped seeds
(`algos.common.training.map_runs`, what ``scripts/train.py`` does on a CPU; G = 1: one seed after
the other, no vmap). Results go to
benchmarks/results/train_throughput.{json,md,png}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from algos import ALGOS, supports  # noqa: E402
from algos.common import cli  # noqa: E402
from algos.common.training import map_runs  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def compiled_case(algo, env, params, seeds, iters, buffer, group=None):
    """``(cfg, timed_chunk, init_s, first_s)``: the chunk of ``seeds`` runs compiled and run once;
    ``timed_chunk()`` runs one more chunk and returns its seconds."""
    module = ALGOS[algo]
    cfg = dataclasses.replace(module.Config(), warmup_steps=0, buffer_size=buffer, chunk_size=iters,
                              total_env_steps=10**9)
    train = module.make_train(cfg, env, params)  # a Trainer
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    t0 = time.perf_counter()
    state = {"rs": jax.block_until_ready(jax.jit(jax.vmap(train.init))(keys)), "calls": 0}
    t_init = time.perf_counter() - t0
    chunk = jax.jit(map_runs(train.train_chunk, group, shared_args=1), donate_argnums=0)

    def timed_chunk():
        t0 = time.perf_counter()
        state["rs"], m = chunk(state["rs"], jnp.int32(state["calls"] * iters))
        jax.block_until_ready((state["rs"], m))
        state["calls"] += 1
        return time.perf_counter() - t0

    return cfg, timed_chunk, t_init, timed_chunk()


def bench(algo, env, params, seeds, iters, repeats, buffer, group=None, single=None):
    """One row. With ``single`` (the 1-seed case's ``timed_chunk``), every timed call of this case
    is preceded by a 1-seed call, so both rates are the best of ``repeats`` calls made under the
    same machine load, and ``vs_n_single_runs`` compares them."""
    cfg, timed_chunk, t_init, t_first = compiled_case(algo, env, params, seeds, iters, buffer, group)
    best, best_single = float("inf"), float("inf")
    for _ in range(repeats):
        if single is not None:
            best_single = min(best_single, single())
        best = min(best, timed_chunk())
    env_steps = iters * cfg.num_envs * seeds
    updates = iters * cfg.updates_per_step * seeds
    row = {
        "algo": algo, "seeds": seeds, "group": group if group and group < seeds else seeds, "num_envs": cfg.num_envs, "batch_size": cfg.batch_size,
        "updates_per_step": cfg.updates_per_step, "iters_timed": iters, "repeats": repeats,
        "env_steps_per_s": env_steps / best, "updates_per_s": updates / best,
        "agent_steps_per_s": env_steps * env.num_agents / best,
        "init_s": t_init, "compile_s": max(t_first - best, 0.0), "chunk_s": best, "buffer": buffer,
    }
    if single is not None:
        row["single_env_steps_per_s"] = iters * cfg.num_envs / best_single
        row["vs_n_single_runs"] = row["env_steps_per_s"] / row["single_env_steps_per_s"]
    return row, timed_chunk


def build_parser() -> cli.Parser:
    ap = cli.Parser(prog="train_throughput.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algo", nargs="*", default=sorted(ALGOS), choices=sorted(ALGOS))
    cli.add_env_args(ap)
    ap.add_argument("--seeds", nargs="*", type=int, default=[1, 8, 64])
    ap.add_argument("--iters", type=int, default=10, help="iterations per timed chunk call")
    ap.add_argument("--groups", nargs="*", type=int, default=[8],
                    help="also time every seed count above G as lax.map over blocks of G vmapped seeds "
                         "(8: the CPU default of scripts/train.py; 1: one seed after the other, no vmap)")
    ap.add_argument("--vmap-seeds", nargs="*", type=int, default=None,
                    help="seed counts timed fully vmapped (default: all of --seeds)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--buffer", type=int, default=2_000, help="replay capacity per seed")
    ap.add_argument("--out", type=Path, default=RESULTS / "train_throughput")
    ap.add_argument("--replot", action="store_true", help="only rewrite the .md/.png from the .json")
    return ap


def main(args):
    if args.replot:
        data = json.loads(args.out.with_suffix(".json").read_text())
        rows, meta = data["rows"], data["meta"]
        for r in rows:  # rows without an interleaved 1-seed rate (older files): the 1-seed row's
            base = r.get("single_env_steps_per_s") or next(
                x for x in rows if x["algo"] == r["algo"] and x["seeds"] == 1)["env_steps_per_s"]
            r["vs_n_single_runs"] = r["env_steps_per_s"] / base
        args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        args.algo = sorted({r["algo"] for r in rows})
        write_reports(args, meta, rows)
        return

    env, params = cli.make_env(args.env, args.size, args.preset)
    device = jax.devices()[0]
    meta = {
        "env": args.env, "sizes": {f.name: getattr(env, f.name) for f in dataclasses.fields(env)},
        "device": f"{device.platform}:{getattr(device, 'device_kind', '')}", "cpu_count": os.cpu_count(),
        "loadavg_start": os.getloadavg(), "dtype": "float32", "jax": jax.__version__,
        "machine": platform.processor() or platform.machine(),
        "command": " ".join(["python benchmarks/train_throughput.py"] + list(sys.argv[1:])),
    }
    rows = []
    skipped = [a for a in args.algo if not supports(a, env, params)]
    if skipped:  # e.g. seed 003's per-task schedulers, seed 001's discrete D3QNs
        print(f"skipping {', '.join(skipped)}: not for {args.env}", file=sys.stderr)
    for algo in [a for a in args.algo if a not in skipped]:
        vmapped = [s for s in args.seeds if s != 1 and (args.vmap_seeds is None or s in args.vmap_seeds)]
        cases = [(1, None)] + [(s, None) for s in vmapped] + [(s, g) for s in args.seeds for g in args.groups if g < s]
        single = None
        for seeds, group in cases:
            row, timed_chunk = bench(algo, env, params, seeds, args.iters, args.repeats, args.buffer, group,
                                     None if seeds == 1 else single)
            if seeds == 1:
                single = timed_chunk
                row["vs_n_single_runs"] = 1.0
            rows.append(row)
            print(f"{algo:9s} seeds={seeds:3d} group={row['group']:3d}  {row['env_steps_per_s']:9.0f} env-steps/s  "
                  f"{row['updates_per_s']:8.1f} updates/s  compile {row['compile_s']:5.1f}s  "
                  f"vs {seeds} single runs: {row['vs_n_single_runs']:.2f}", flush=True)
    meta["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    write_reports(args, meta, rows)


def write_reports(args, meta, rows):

    lines = [f"# Training throughput ({args.env}, {meta['device']}, {meta['cpu_count']} CPU cores, float32)", "",
             f"Default Config of each algo, no warm-up, replay {rows[0].get('buffer', 2000)} per seed; load average "
             f"{meta['loadavg_start'][0]:.1f} -> {meta['loadavg_end'][0]:.1f} (shared machine: noisy).", "",
             "`vmapped together` < seeds: one call that `lax.map`s over blocks of that many vmapped seeds "
             "(`algos.common.training.map_runs`, the CPU default of `scripts/train.py --run-group auto`). "
             "`1 seed, interleaved`: the 1-seed rate timed just before each of the row's calls, the "
             "denominator of the last column.", "", f"Command: `{meta.get('command', '?')}`", "",
             "| algo | seeds | vmapped together | num_envs | batch | env-steps/s (all seeds) | updates/s (all seeds) | compile s | 1 seed, interleaved (env-steps/s) | vs N single-seed runs |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        single = f"{r['single_env_steps_per_s']:,.0f}" if "single_env_steps_per_s" in r else ""
        lines.append(f"| {r['algo']} | {r['seeds']} | {r.get('group', r['seeds'])} | {r['num_envs']} | {r['batch_size']} | "
                     f"{r['env_steps_per_s']:,.0f} | {r['updates_per_s']:,.1f} | {r['compile_s']:.1f} | {single} | "
                     f"{r['vs_n_single_runs']:.2f} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for algo in args.algo:
        rs = [r for r in rows if r["algo"] == algo and r.get("group", r["seeds"]) == r["seeds"]]
        line = axes[0].plot([r["seeds"] for r in rs], [r["env_steps_per_s"] for r in rs], "o-", label=f"{algo} (vmap)")[0]
        axes[1].plot([r["seeds"] for r in rs], [r["updates_per_s"] for r in rs], "o-", label=f"{algo} (vmap)")
        grouped = [r for r in rows if r["algo"] == algo and r.get("group", r["seeds"]) < r["seeds"]]
        for ax, key in zip(axes, ("env_steps_per_s", "updates_per_s")):
            if grouped:
                ax.plot([r["seeds"] for r in grouped], [r[key] for r in grouped], "s", mfc="none", ms=9,
                        color=line.get_color(), label=f"{algo} (blocks of {grouped[0]['group']})")
    for ax, name in zip(axes, ("env-steps/s (all seeds)", "updates/s (all seeds)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("vmapped seeds in one call")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"training throughput, {meta['device']}, {meta['cpu_count']} cores")
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=110)
    print(f"wrote {args.out}.{{json,md,png}}")


if __name__ == "__main__":
    raise SystemExit(cli.main(main, build_parser()))
