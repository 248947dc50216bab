#!/usr/bin/env python
"""Env throughput: JAX (jit of lax.scan over a vmapped step) vs NumPy references, one process.

For each env and num_envs it measures env-steps/s and agent-steps/s of
  * ``jax``           - ``jit(scan(vmap(env.step)))`` with actions from ``env.action_space().sample``;
                        compile time reported apart, ``block_until_ready`` on the result;
  * ``numpy_batched`` - the env's NumPy reference vectorised over envs;
  * ``numpy_loop``    - the env's per-env Python-loop reference (the paper-style gym baseline).
The NumPy loop costs the same per env-step at any batch size, so at large ``num_envs`` it is timed
on the first ``--loop-envs`` envs only (its throughput is per env-step either way).

    python benchmarks/env_throughput.py                       # all envs, default batch sizes
    python benchmarks/env_throughput.py --env dt_inference --num-envs 1 64 4096

``--impl roofline`` adds each env's roofline (`benchmarks/roofline.py`: a fused kernel of only its
dominant arithmetic, no RNG / bookkeeping / observation) and the env step's percentage of it.
``--threads 1 2`` measures everything once per thread count, each in its own subprocess pinned to
that many cores (``os.sched_setaffinity``) with ``OMP/OPENBLAS/MKL_NUM_THREADS`` = threads for
NumPy and XLA's Eigen pool off (``--xla_cpu_multi_thread_eigen=false``; the pinning bounds the
threads). At T > 1 threads the JAX and roofline rows split the env axis over T forced host devices
(``--xla_force_host_platform_device_count=T``, `jaxedge.sharding`), one per core: the way to use a
multi-core CPU (one device with XLA's default CPU threading measured 1.2-1.9x its 1-thread
speed, varying from process to process; 2 devices a steady ~2x). Every row records the CPU time /
wall time it used (``cpu_util``), which checks the limit. Ratios at 1 thread are per core, at all
threads per machine. ``--prng NAME`` steps with another PRNG (`jaxedge.prng.CHOICES`; keys are
made after it is set).

    python benchmarks/env_throughput.py --num-envs 4096 --threads 1 2 --impl jax numpy_batched numpy_loop roofline

Writes benchmarks/results/env_throughput.{json,md,png} (rows already in the JSON are kept, rows for
the same env, impl, num_envs, device, threads and prng are replaced; the JSON also lists each run's
command and load average before and after).

``--devices 1 2 4 8`` instead shards the env axis over that many devices (`jaxedge.sharding`) and
writes the scaling table benchmarks/results/env_throughput_sharding.{json,md}; on CPU force devices
first: ``XLA_FLAGS=--xla_force_host_platform_device_count=8 python benchmarks/env_throughput.py
--devices 1 2 4 8 --env collab_edge --num-envs 4096``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THREADS_VAR = "JAXEDGE_BENCH_THREADS"
if os.environ.get(THREADS_VAR):  # a --threads child: pin before jax / numpy start their thread pools
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:int(os.environ[THREADS_VAR])]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import jaxedge  # noqa: E402
from jaxedge import prng  # noqa: E402
from jaxedge.wrappers import VecEnv  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

# env name -> static sizes used for the benchmark
BENCH_ENVS = {
    "dt_inference": dict(n_users=8, n_servers=6, n_tasks=3),
    "collab_edge": dict(n_servers=10, max_tasks=100, per_task=False),
    "slicing": dict(n_aps=4, max_users=20),
    "v2x": dict(n_vehicles=10, n_servers=3),
    "cloud_edge": dict(n_cells=5, ues_per_cell=6, n_channels=8, cache_slots=16),  # S1 preset, LRU
    "cloud_edge_lfu": dict(n_cells=5, ues_per_cell=6, n_channels=8, cache_slots=16),  # S1, LFU
}
# benchmark row name -> (registered env, Params overrides) for rows that differ from the env's
# default_params (rows not listed: the env of that name with its default_params)
BENCH_VARIANTS = {
    "cloud_edge_lfu": ("cloud_edge", dict(cache_policy=1)),
}


def device_name() -> str:
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return device_name_cpu()  # the host devices a row used are its own field, ``devices``
    return f"{dev.platform} ({dev.device_kind})"


LAST_CPU_UTIL = [0.0]  # process CPU seconds per wall second of the last `time_callable`


def time_callable(fn, min_seconds: float, max_calls: int = 10_000, windows: int = 5):
    """Calls ``fn`` repeatedly for at least ``min_seconds`` in all, split into ``windows`` equal
    windows; returns (calls, seconds) of the fastest window (timeit's rule: on a shared machine the
    minimum is the time least disturbed by other load; every impl is timed alike) and leaves the
    process's CPU time / wall time over that window in ``LAST_CPU_UTIL`` (1.0 = one core busy)."""
    best = None
    for _ in range(windows):
        calls, start, cpu0 = 0, time.perf_counter(), time.process_time()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds / windows or calls >= max_calls // windows:
                break
        if best is None or elapsed / calls < best[1] / best[0]:
            best = (calls, elapsed, (time.process_time() - cpu0) / elapsed)
    LAST_CPU_UTIL[0] = best[2]
    return best[0], best[1]


def bench_jax(env, params, num_envs: int, steps_per_call: int, min_seconds: float, n_devices: int = 1):
    """env-steps/s of ``jit(scan(VecEnv.step))`` with the env axis split over ``n_devices`` devices
    (`jaxedge.sharding`; 1 = unsharded), and the compile time. Every env draws its actions and step
    from its own key (per-env keys in, sharded like the envs); the observation stays in the carry."""
    from jaxedge import sharding

    space = env.action_space(params)
    vec = VecEnv(env)
    mesh = sharding.make_mesh(n_devices)

    def rollout(keys):  # keys: (num_envs, 2), sharded; every env draws from its own key
        obs, state = vec.reset(keys, params)

        def body(carry, t):
            state, _ = carry
            ks = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
            k_act, k_step = jax.vmap(jax.random.split, out_axes=1)(ks)
            action = jax.vmap(space.sample)(k_act)
            obs, state, reward, *_ = vec.step(k_step, state, action, params)
            # the observation stays in the carry: it is computed and stored every step, as for a learner
            return (state, obs), reward.sum()

        (state, obs), rewards = jax.lax.scan(body, (state, obs), jax.numpy.arange(steps_per_call))
        return rewards.sum() + obs.reshape(-1)[0]

    fn = jax.jit(rollout)
    batches = [sharding.shard(jax.random.split(jax.random.PRNGKey(i), num_envs), mesh) for i in range(4)]
    start = time.perf_counter()
    compiled = fn.lower(batches[0]).compile()
    compile_s = time.perf_counter() - start
    compiled(batches[0]).block_until_ready()  # warm-up
    it = iter(range(10**9))
    calls, elapsed = time_callable(lambda: compiled(batches[next(it) % 4]).block_until_ready(), min_seconds)
    return calls * steps_per_call * num_envs / elapsed, compile_s


def run_sharded(env_names, num_envs_list, min_seconds, steps_per_call, devices):
    rows = []
    for name in env_names:
        env_name, overrides = BENCH_VARIANTS.get(name, (name, {}))
        env = jaxedge.make(env_name, **BENCH_ENVS[name])
        params = env.default_params.replace(**overrides)
        for num_envs in num_envs_list:
            for n in devices:
                sps, compile_s = bench_jax(env, params, num_envs, steps_per_call, min_seconds, n)
                rows.append(dict(env=name, impl="jax_sharded", devices=n, num_envs=num_envs, env_steps_per_s=sps,
                                 agent_steps_per_s=sps * env.num_agents, compile_s=compile_s,
                                 platform=jax.devices()[0].platform, visible_devices=jax.device_count(),
                                 cpu_cores=__import__("os").cpu_count(), dtype="float32", sizes=BENCH_ENVS[name],
                                 loadavg_1m=__import__("os").getloadavg()[0]))
                print(f"{name:14s} devices={n} envs={num_envs:6d} {sps:14,.0f} env-steps/s  compile {compile_s:6.2f}s",
                      flush=True)
    return rows


def write_sharding_markdown(rows, path):
    plat = rows[0]["platform"]
    lines = [
        "# Env throughput, env axis sharded over devices (`--devices`)", "",
        f"Platform `{plat}`, {rows[0]['visible_devices']} visible devices, {rows[0]['cpu_cores']} CPU cores; "
        "`jit(scan(VecEnv.step))` with per-env keys sharded by `jaxedge.sharding` (compile time apart).", "",
    ]
    if plat == "cpu":
        lines += [
            "No GPU was lent to this task: these are *forced* host devices "
            "(`XLA_FLAGS=--xla_force_host_platform_device_count=8`) sharing the same CPU cores, so the table "
            "measures the sharded program's overhead (partitioning, per-device dispatch, the cross-device "
            "reduction) against whatever parallelism the cores allow, not a device speed-up: each forced "
            "device runs on its own host thread, so up to ~2x over 1 device is possible on 2 cores, and "
            "beyond 2 devices the threads only share them. On real accelerators each device steps its own "
            "slice of envs.", "",
        ]
    loads = [r["loadavg_1m"] for r in rows if "loadavg_1m" in r]
    if loads:
        lines += [f"1-minute load average while measuring: {min(loads):.1f}-{max(loads):.1f} on "
                  f"{rows[0]['cpu_cores']} cores (the forced devices' own threads count too; anything else "
                  "running at the same time makes single rows vary by tens of percent).", ""]
    lines += ["| env | num_envs | devices | env-steps/s | vs 1 device | compile s |", "|---|---|---|---|---|---|"]
    base = {(r["env"], r["num_envs"]): r["env_steps_per_s"] for r in rows if r["devices"] == 1}
    for r in rows:
        ref = base.get((r["env"], r["num_envs"]))
        rel = f"{r['env_steps_per_s'] / ref:.2f}x" if ref else "-"
        lines.append(f"| {r['env']} | {r['num_envs']} | {r['devices']} | {r['env_steps_per_s']:,.0f} | {rel} | "
                     f"{r['compile_s']:.2f} |")
    path.write_text("\n".join(lines) + "\n")


def bench_numpy(runner, min_seconds: float, envs_stepped: int):
    runner()  # warm-up
    calls, elapsed = time_callable(runner, min_seconds)
    return calls * envs_stepped / elapsed


def bench_roofline(env_name, env, params, num_envs: int, steps_per_call: int, min_seconds: float,
                   n_devices: int = 1):
    from benchmarks import roofline
    from jaxedge import sharding

    fn, args = roofline.kernel(env_name, env, params, num_envs, steps_per_call)
    args = sharding.shard(args, sharding.make_mesh(n_devices))  # every leaf has the env axis first
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - start
    compiled(*args).block_until_ready()  # warm-up
    calls, elapsed = time_callable(lambda: compiled(*args).block_until_ready(), min_seconds)
    return calls * steps_per_call * num_envs / elapsed, compile_s


def threads_in_use():
    """The thread count this process was limited to by ``--threads`` (None: unlimited, all cores)."""
    value = os.environ.get(THREADS_VAR)
    return int(value) if value else None


def host_devices_in_use():
    """How many devices the JAX rows split the env axis over: at ``--threads T > 1`` one forced host
    device per thread (`run_threads`), else 1."""
    threads = threads_in_use()
    return threads if threads and threads > 1 and jax.devices()[0].platform == "cpu" else 1


def run(env_names, num_envs_list, min_seconds, loop_envs, steps_per_call, impls, prng_choice="threefry2x32"):
    rows = []
    device = device_name()
    threads = threads_in_use()
    n_devices = host_devices_in_use()
    for name in env_names:
        env_name, overrides = BENCH_VARIANTS.get(name, (name, {}))
        env = jaxedge.make(env_name, **BENCH_ENVS[name])
        params = env.default_params.replace(**overrides)
        reference = importlib.import_module(f"jaxedge.reference.{env_name}")
        for num_envs in num_envs_list:
            measured = {}
            if "jax" in impls:
                measured["jax"] = (*bench_jax(env, params, num_envs, steps_per_call, min_seconds, n_devices),
                                   LAST_CPU_UTIL[0])
            if "roofline" in impls:
                measured["roofline"] = (*bench_roofline(env_name, env, params, num_envs, steps_per_call, min_seconds,
                                                        n_devices),
                                        LAST_CPU_UTIL[0])
            if "numpy_batched" in impls:
                rng = np.random.default_rng(0)
                runner = reference.batched_runner(env, params, num_envs, rng)
                measured["numpy_batched"] = (bench_numpy(runner, min_seconds, num_envs), 0.0, LAST_CPU_UTIL[0])
            if "numpy_loop" in impls:
                rng = np.random.default_rng(0)
                stepped = min(num_envs, loop_envs)
                runner = reference.loop_runner(env, params, stepped, rng)
                measured["numpy_loop"] = (bench_numpy(runner, min_seconds, stepped), 0.0, LAST_CPU_UTIL[0])
            for impl, (sps, compile_s, util) in measured.items():
                is_jax = impl in ("jax", "roofline")
                row = dict(env=name, impl=impl, num_envs=num_envs, env_steps_per_s=sps,
                           agent_steps_per_s=sps * env.num_agents, compile_s=compile_s,
                           device=device if is_jax else device_name_cpu(), dtype="float32" if is_jax else "float64",
                           sizes=BENCH_ENVS[name], threads=threads, prng=prng_choice if impl == "jax" else None,
                           devices=n_devices if is_jax else None,
                           cpu_util=util, loadavg_1m=os.getloadavg()[0])
                rows.append(row)
                print(f"{name:14s} {impl:14s} threads={threads} envs={num_envs:6d} {sps:14,.0f} env-steps/s"
                      f"  cpu {util:4.2f}  compile {compile_s:6.2f}s", flush=True)
    return rows


def device_name_cpu() -> str:
    return f"cpu ({platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores)"


def _key(r):
    return (r["env"], r["impl"], r["num_envs"], r["device"], r.get("threads"), r.get("prng"))


def merge(old_rows, new_rows):
    merged = {_key(r): r for r in old_rows}
    merged.update({_key(r): r for r in new_rows})
    return sorted(merged.values(), key=lambda r: (r["env"], r["num_envs"], str(r.get("threads")), r["impl"],
                                                  str(r.get("prng")), r["device"]))


def ratios(rows):
    """Per env, num_envs, thread count and PRNG: JAX / numpy_loop, JAX / numpy_batched and JAX / roofline
    (only rows measured at the same thread count; NumPy and roofline rows carry no PRNG)."""
    out = []
    other = {(r["env"], r["impl"], r["num_envs"], r.get("threads")): r for r in rows if r["impl"] != "jax"}
    for r in rows:
        if r["impl"] != "jax":
            continue
        get = lambda impl: other.get((r["env"], impl, r["num_envs"], r.get("threads")))  # noqa: E731
        loop, batched, roof = get("numpy_loop"), get("numpy_batched"), get("roofline")
        sps = r["env_steps_per_s"]
        out.append(dict(env=r["env"], device=r["device"], num_envs=r["num_envs"], threads=r.get("threads"),
                        prng=r.get("prng") or "threefry2x32", jax=sps,
                        jax_per_core=sps / r["threads"] if r.get("threads") else None,
                        vs_loop=sps / loop["env_steps_per_s"] if loop else None,
                        vs_batched=sps / batched["env_steps_per_s"] if batched else None,
                        pct_roofline=100.0 * sps / roof["env_steps_per_s"] if roof else None,
                        roofline=roof["env_steps_per_s"] if roof else None,
                        cpu_util=r.get("cpu_util")))
    return out


def write_markdown(rows, path, runs=()):
    fmt = lambda x, spec=",.1f", suffix="x": "—" if x is None else f"{x:{spec}}{suffix}"  # noqa: E731
    lines = ["# Env throughput", "",
             "Generated by `python benchmarks/env_throughput.py` (commands below). JAX: float32, "
             "`jit(scan(VecEnv.step))` with actions from `action_space.sample` and the observation kept "
             "in the scan carry; NumPy: float64 references (`jaxedge/reference/`), batched over envs or "
             "one env at a time. Roofline: `benchmarks/roofline.py`, a fused kernel of only the env's "
             "dominant arithmetic (rates, delays, energies, queue / battery / cache / mobility updates) at "
             "the same sizes, no RNG, no bookkeeping, no observation. Ratios compare rows measured in the "
             "same process at the same thread count: `threads = 1` is per core (everything pinned to one "
             "core), the largest count per machine. At 2 threads the JAX and roofline rows split the envs over "
             "2 host devices, one per core (`jaxedge.sharding`, `--xla_force_host_platform_device_count=2`: "
             "the `devices` field of the JSON rows); one device with XLA's default CPU threading "
             "scaled 1.2-1.9x, varying from process to process. `cpu` = process CPU time / wall time while "
             "timing (1.00 = one core busy), which checks the thread limit. Every row (JAX, NumPy, roofline "
             "alike) is the fastest of 5 equal timing windows over `--min-seconds` (timeit's rule: on this "
             "shared 2-core machine the minimum is the least disturbed).", ""]
    for run in runs:
        lines.append(f"* `{run['command']}` — {run.get('started', '?')}, load average (1, 5, 15 min) before "
                     f"{run.get('load_before')}, after {run.get('load_after')}")
    if runs:
        lines.append("")
    qs = ratios(rows)
    lines += ["## Ratios", "",
              "| env | num_envs | threads | PRNG | JAX env-steps/s | per core | cpu | JAX / numpy_loop | "
              "JAX / numpy_batched | roofline env-steps/s | % of roofline |",
              "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for q in sorted(qs, key=lambda q: (q["num_envs"], q["env"], str(q["threads"]), q["prng"])):
        lines.append(f"| {q['env']} | {q['num_envs']} | {q['threads'] or 'all'} | {q['prng']} | {q['jax']:,.0f} | "
                     f"{fmt(q['jax_per_core'], ',.0f', '')} | {fmt(q['cpu_util'], '.2f', '')} | "
                     f"{fmt(q['vs_loop'])} | {fmt(q['vs_batched'])} | {fmt(q['roofline'], ',.0f', '')} | "
                     f"{fmt(q['pct_roofline'], '.1f', ' %')} |")
    lines += ["", "## All rows", "",
              "| env | impl | threads | PRNG | num_envs | env-steps/s | agent-steps/s | cpu | compile s | load 1m |",
              "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['env']} | {r['impl']} | {r.get('threads') or 'all'} | {r.get('prng') or ''} | "
                     f"{r['num_envs']} | {r['env_steps_per_s']:,.0f} | {r['agent_steps_per_s']:,.0f} | "
                     f"{fmt(r.get('cpu_util'), '.2f', '')} | {r['compile_s']:.2f} | {fmt(r.get('loadavg_1m'), '.1f', '')} |")
    devices = sorted({r["device"] for r in rows})
    lines += ["", "Devices: " + "; ".join(f"`{d}`" for d in devices)]
    path.write_text("\n".join(lines) + "\n")


def write_plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    qs = [q for q in ratios(rows) if q["vs_batched"] is not None]
    envs = sorted({q["env"] for q in qs})
    labels = sorted({(str(q["threads"] or "all"), q["prng"], q["num_envs"]) for q in qs})
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    width = 0.8 / max(len(labels), 1)
    for i, label in enumerate(labels):
        pick = {q["env"]: q for q in qs if (str(q["threads"] or "all"), q["prng"], q["num_envs"]) == label}
        xs = [e + (i - len(labels) / 2) * width for e in range(len(envs))]
        text = f"{label[0]} thr, {label[1]}, {label[2]} envs"
        axes[0].bar(xs, [pick[e]["vs_batched"] if e in pick else 0 for e in envs], width, label=text)
        axes[1].bar(xs, [pick[e]["pct_roofline"] or 0 if e in pick else 0 for e in envs], width, label=text)
    axes[0].axhline(5.0, color="k", ls="--", lw=1)
    axes[0].set_ylabel("JAX / batched NumPy (same threads)")
    axes[1].set_ylabel("% of the env's roofline")
    for ax in axes:
        ax.set_xticks(range(len(envs)))
        ax.set_xticklabels(envs, rotation=20, fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_threads(args, argv):
    """``--threads``: one child process per thread count (pinned, XLA and BLAS pools limited); returns rows."""
    rows = []
    forward, skip = [], False
    for a in argv:  # drop --threads and its values, keep everything else
        if a == "--threads":
            skip = True
            continue
        if skip and a.lstrip("-").isdigit():
            continue
        skip = False
        forward.append(a)
    for t in args.threads:
        env = dict(os.environ, **{THREADS_VAR: str(t), "OMP_NUM_THREADS": str(t), "OPENBLAS_NUM_THREADS": str(t),
                                  "MKL_NUM_THREADS": str(t)})
        # Eigen pool off; at t > 1, t host devices, each stepping its own slice of the envs
        # (`jaxedge.sharding`): measured faster and far steadier on 2 cores than one device with XLA's
        # default CPU threading (cloud_edge 184k vs 115-175k env-steps/s).
        # (Not "intra_op_parallelism_threads=1": that is no XLA flag, and XLA stops parsing at it.)
        flags = env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
        if t > 1:
            flags += f" --xla_force_host_platform_device_count={t}"
        env["XLA_FLAGS"] = flags.strip()
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, __file__, *forward, "--rows-out", f"{tmp}/rows.json"]
            subprocess.run(cmd, env=env, check=True)
            rows += json.loads(Path(f"{tmp}/rows.json").read_text())
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", nargs="*", default=list(BENCH_ENVS), help=f"envs among {list(BENCH_ENVS)}")
    ap.add_argument("--num-envs", nargs="*", type=int, default=[1, 64, 1024, 4096, 16384])
    ap.add_argument("--impl", nargs="*", default=["jax", "numpy_batched", "numpy_loop"])
    ap.add_argument("--min-seconds", type=float, default=2.0, help="timing window per measurement")
    ap.add_argument("--loop-envs", type=int, default=256, help="envs the per-env loop steps per call")
    ap.add_argument("--steps-per-call", type=int, default=100, help="scan length of one JAX call")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--devices", nargs="*", type=int, default=None,
                    help="shard the env axis over each of these device counts (JAX only; scaling table)")
    ap.add_argument("--threads", nargs="*", type=int, default=None,
                    help="measure once per thread count, each in a subprocess pinned to that many cores")
    ap.add_argument("--prng", default=os.environ.get("JAXEDGE_PRNG") or "threefry2x32", choices=prng.CHOICES,
                    help="PRNG of the JAX rows (jaxedge.prng; default threefry2x32)")
    ap.add_argument("--rows-out", type=Path, default=None, help=argparse.SUPPRESS)  # --threads child
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    prng.configure(args.prng)
    unknown = [e for e in args.env if e not in BENCH_ENVS]
    if unknown:
        ap.error(f"unknown env(s) {unknown}; choose from {list(BENCH_ENVS)}")
    if args.devices is not None:
        bad = [n for n in args.devices if not 1 <= n <= jax.device_count()]
        if bad or not args.devices:
            ap.error(f"--devices must list counts in 1..{jax.device_count()} (visible devices), got {args.devices}; "
                     "on CPU set XLA_FLAGS=--xla_force_host_platform_device_count=N")
        bad = [m for m in args.num_envs for n in args.devices if m % n]
        if bad:
            ap.error(f"--num-envs {bad} must be multiples of every --devices count")
        rows = run_sharded(args.env, args.num_envs, args.min_seconds, args.steps_per_call, args.devices)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "env_throughput_sharding.json").write_text(json.dumps(rows, indent=2) + "\n")
        write_sharding_markdown(rows, args.out / "env_throughput_sharding.md")
        return

    if args.threads:
        bad = [m for m in args.num_envs for t in args.threads if t > 1 and m % t]
        if bad:
            ap.error(f"--num-envs {bad} must be multiples of every --threads count > 1 (the envs are split "
                     "over one host device per thread)")
    if args.rows_out is not None:  # --threads child: measure, hand the rows back
        rows = run(args.env, args.num_envs, args.min_seconds, args.loop_envs, args.steps_per_call, args.impl, args.prng)
        args.rows_out.write_text(json.dumps(rows))
        return
    run_info = dict(command="python benchmarks/env_throughput.py " + " ".join(argv),
                    started=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    load_before=[round(x, 2) for x in os.getloadavg()])
    if args.threads:
        rows = run_threads(args, argv)
    else:
        rows = run(args.env, args.num_envs, args.min_seconds, args.loop_envs, args.steps_per_call, args.impl, args.prng)
    run_info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "env_throughput.json"
    old = json.loads(json_path.read_text()) if json_path.exists() else {}
    if isinstance(old, list):  # the format before per-thread rows: unpinned, pre-optimisation rows are dropped
        old = {}
    rows = merge(old.get("rows", []), rows)
    runs = old.get("runs", []) + [run_info]
    json_path.write_text(json.dumps({"runs": runs, "rows": rows}, indent=2) + "\n")
    write_markdown(rows, args.out / "env_throughput.md", runs)
    write_plot(rows, args.out / "env_throughput.png")
    for q in ratios(rows):
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in q.items()})


if __name__ == "__main__":
    main()
