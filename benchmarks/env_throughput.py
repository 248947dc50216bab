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

Writes benchmarks/results/env_throughput.{json,md,png} (rows from other envs / devices already in
the JSON are kept, rows for the same env, impl, num_envs and device are replaced).

``--devices 1 2 4 8`` instead shards the env axis over that many devices (`jaxedge.sharding`) and
writes the scaling table benchmarks/results/env_throughput_sharding.{json,md}; on CPU force devices
first: ``XLA_FLAGS=--xla_force_host_platform_device_count=8 python benchmarks/env_throughput.py
--devices 1 2 4 8 --env collab_edge --num-envs 4096``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import jaxedge  # noqa: E402
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
        return f"cpu ({platform.processor() or platform.machine()}, {jax.device_count()} device, "\
               f"{__import__('os').cpu_count()} cores)"
    return f"{dev.platform} ({dev.device_kind})"


def time_callable(fn, min_seconds: float, max_calls: int = 10_000):
    """Calls ``fn`` repeatedly for at least ``min_seconds``; returns (calls, seconds)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or calls >= max_calls:
            return calls, elapsed


def bench_jax(env, params, num_envs: int, steps_per_call: int, min_seconds: float):
    space = env.action_space(params)
    vec = VecEnv(env)

    def rollout(key):
        k_reset, k_steps = jax.random.split(key)
        obs, state = vec.reset(jax.random.split(k_reset, num_envs), params)

        def body(state, key):
            k_act, k_step = jax.random.split(key)
            action = jax.vmap(space.sample)(jax.random.split(k_act, num_envs))
            obs, state, reward, *_ = vec.step(jax.random.split(k_step, num_envs), state, action, params)
            return state, reward.sum()

        state, rewards = jax.lax.scan(body, state, jax.random.split(k_steps, steps_per_call))
        return rewards.sum()

    fn = jax.jit(rollout)
    key = jax.random.PRNGKey(0)
    start = time.perf_counter()
    compiled = fn.lower(key).compile()
    compile_s = time.perf_counter() - start
    # Iterating a JAX array compiles an unstack on first use (seconds): do it before timing.
    keys = iter(jax.random.split(jax.random.PRNGKey(1), 10_000))
    compiled(next(keys)).block_until_ready()  # warm-up
    calls, elapsed = time_callable(lambda: compiled(next(keys)).block_until_ready(), min_seconds)
    return calls * steps_per_call * num_envs / elapsed, compile_s


def bench_jax_sharded(env, params, num_envs: int, steps_per_call: int, min_seconds: float, n_devices: int):
    """`bench_jax` with the env axis split over ``n_devices`` (per-env keys in, sharded like the envs)."""
    from jaxedge import sharding

    space = env.action_space(params)
    vec = VecEnv(env)
    mesh = sharding.make_mesh(n_devices)

    def rollout(keys):  # keys: (num_envs, 2), sharded; every env draws from its own key
        obs, state = vec.reset(keys, params)

        def body(state, t):
            ks = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
            k_act, k_step = jax.vmap(jax.random.split, out_axes=1)(ks)
            action = jax.vmap(space.sample)(k_act)
            obs, state, reward, *_ = vec.step(k_step, state, action, params)
            return state, reward.sum()

        state, rewards = jax.lax.scan(body, state, jax.numpy.arange(steps_per_call))
        return rewards.sum()

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
                sps, compile_s = bench_jax_sharded(env, params, num_envs, steps_per_call, min_seconds, n)
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


def run(env_names, num_envs_list, min_seconds, loop_envs, steps_per_call, impls):
    rows = []
    device = device_name()
    for name in env_names:
        env_name, overrides = BENCH_VARIANTS.get(name, (name, {}))
        env = jaxedge.make(env_name, **BENCH_ENVS[name])
        params = env.default_params.replace(**overrides)
        reference = importlib.import_module(f"jaxedge.reference.{env_name}")
        for num_envs in num_envs_list:
            measured = {}
            if "jax" in impls:
                sps, compile_s = bench_jax(env, params, num_envs, steps_per_call, min_seconds)
                measured["jax"] = (sps, compile_s)
            if "numpy_batched" in impls:
                rng = np.random.default_rng(0)
                runner = reference.batched_runner(env, params, num_envs, rng)
                measured["numpy_batched"] = (bench_numpy(runner, min_seconds, num_envs), 0.0)
            if "numpy_loop" in impls:
                rng = np.random.default_rng(0)
                stepped = min(num_envs, loop_envs)
                runner = reference.loop_runner(env, params, stepped, rng)
                measured["numpy_loop"] = (bench_numpy(runner, min_seconds, stepped), 0.0)
            for impl, (sps, compile_s) in measured.items():
                row = dict(env=name, impl=impl, num_envs=num_envs, env_steps_per_s=sps,
                           agent_steps_per_s=sps * env.num_agents, compile_s=compile_s,
                           device=device if impl == "jax" else device_name_cpu(), dtype="float32"
                           if impl == "jax" else "float64", sizes=BENCH_ENVS[name])
                rows.append(row)
                print(f"{name:14s} {impl:14s} envs={num_envs:6d} {sps:14,.0f} env-steps/s"
                      f"  compile {compile_s:6.2f}s", flush=True)
    return rows


def device_name_cpu() -> str:
    return f"cpu ({platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores)"


def merge(old_rows, new_rows):
    keyf = lambda r: (r["env"], r["impl"], r["num_envs"], r["device"])  # noqa: E731
    merged = {keyf(r): r for r in old_rows}
    merged.update({keyf(r): r for r in new_rows})
    return sorted(merged.values(), key=lambda r: (r["env"], r["device"], r["impl"], r["num_envs"]))


def ratios(rows):
    """Per env, device and num_envs: JAX / numpy_loop and JAX / numpy_batched speed-ups."""
    out = []
    by_key = {(r["env"], r["impl"], r["num_envs"]): r for r in rows if r["impl"] != "jax"}
    for r in rows:
        if r["impl"] != "jax":
            continue
        loop = by_key.get((r["env"], "numpy_loop", r["num_envs"]))
        batched = by_key.get((r["env"], "numpy_batched", r["num_envs"]))
        out.append(dict(env=r["env"], device=r["device"], num_envs=r["num_envs"],
                        vs_loop=r["env_steps_per_s"] / loop["env_steps_per_s"] if loop else None,
                        vs_batched=r["env_steps_per_s"] / batched["env_steps_per_s"] if batched else None))
    return out


def write_markdown(rows, path):
    lines = ["# Env throughput", "", "Generated by `python benchmarks/env_throughput.py`. "
             "JAX: float32, `jit(scan(vmap(step)))`; NumPy: float64 references. "
             "Ratios compare rows measured in the same process.", "",
             "| env | impl | device | num_envs | env-steps/s | agent-steps/s | compile s |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['env']} | {r['impl']} | {r['device']} | {r['num_envs']} | "
                     f"{r['env_steps_per_s']:,.0f} | {r['agent_steps_per_s']:,.0f} | {r['compile_s']:.2f} |")
    lines += ["", "| env | device (JAX) | num_envs | JAX / numpy_loop | JAX / numpy_batched |",
              "|---|---|---:|---:|---:|"]
    for q in ratios(rows):
        fmt = lambda x: "—" if x is None else f"{x:,.1f}x"  # noqa: E731
        lines.append(f"| {q['env']} | {q['device']} | {q['num_envs']} | {fmt(q['vs_loop'])} | {fmt(q['vs_batched'])} |")
    path.write_text("\n".join(lines) + "\n")


def write_plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = sorted({r["env"] for r in rows})
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, name in zip(axes[0], envs):
        for impl in ("jax", "numpy_batched", "numpy_loop"):
            for device in sorted({r["device"] for r in rows if r["env"] == name and r["impl"] == impl}):
                pts = sorted((r["num_envs"], r["env_steps_per_s"]) for r in rows
                             if r["env"] == name and r["impl"] == impl and r["device"] == device)
                if pts:
                    label = impl if impl != "jax" else f"jax [{device.split(' (')[0]}]"
                    ax.plot(*zip(*pts), marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parallel envs")
        ax.set_ylabel("env-steps / s")
        ax.set_title(name)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


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
    args = ap.parse_args(argv)
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

    rows = run(args.env, args.num_envs, args.min_seconds, args.loop_envs, args.steps_per_call, args.impl)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "env_throughput.json"
    old = json.loads(json_path.read_text()) if json_path.exists() else []
    rows = merge(old, rows)
    json_path.write_text(json.dumps(rows, indent=2) + "\n")
    write_markdown(rows, args.out / "env_throughput.md")
    write_plot(rows, args.out / "env_throughput.png")
    for q in ratios(rows):
        print(q)


if __name__ == "__main__":
    main()
