"""Rendering of a reproduction: the results JSON, the Markdown report and the PNG figures.

A seed declares its figures as data (`SweepFigure`: metrics against a swept size, one line per algo,
also tabulated in the report; `CurveFigure`: training curves of labelled runs); `write_reports`
recomputes the claims from the results and writes ``<name>.json``, ``<name>.md`` and every figure.
Pure apart from matplotlib (imported when drawing); no JAX.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path
from typing import Mapping

import numpy as np

from algos.common import stats
from benchmarks.reproduce.claims import Results, fmt_stat, measured

VERDICT_RULE = (
    "* Verdicts: *reproduced* = the measured effect has the paper's sign and the 95 % CIs do not overlap; "
    "*contradicted* = the CIs show the opposite; *not reproduced* = otherwise (also when a side is one run, "
    "which has no CI); *not run* = a needed run is missing. Relative effects use interval arithmetic on the two "
    "CIs (so they exclude 0 exactly when the CIs are apart). Sweep-wide claims: reproduced if every point is, "
    "contradicted if any point is.")


@dataclasses.dataclass(frozen=True)
class SweepFigure:
    """Metrics against a swept size, one line per row (algo); ``table_metrics`` are tabulated too."""

    file: str
    heading: str  # Markdown section title
    title: str
    var: str  # column label, e.g. "n_users"
    xlabel: str
    points: tuple  # ((x, {row: run_id}), ...)
    metrics: tuple  # plotted (one panel each)
    table_metrics: tuple
    rows: tuple  # row order
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    units: Mapping[str, str] = dataclasses.field(default_factory=dict)
    styles: Mapping[str, tuple] = dataclasses.field(default_factory=dict)  # row -> (color, marker, linestyle)


@dataclasses.dataclass(frozen=True)
class CurvePanel:
    metrics: tuple  # the first one the run logs is drawn (e.g. ("critic_loss", "q_loss"))
    ylabel: str
    scale: float = 1.0
    after_warmup: bool = False  # drop the warm-up points (no updates: zero losses)
    shade_warmup: bool = False
    reference: tuple | None = None  # (label, y) drawn as a dashed line
    markers: Mapping[str, float] = dataclasses.field(default_factory=dict)  # run label -> x (dotted line)


@dataclasses.dataclass(frozen=True)
class CurveFigure:
    file: str
    title: str
    runs: Mapping[str, str]  # label -> run id
    panels: tuple


# ---- JSON ------------------------------------------------------------------------------------------------
def clean(x):
    """JSON-ready: NumPy scalars to Python, floats to 6 significant digits, non-finite to null."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return float(f"{x:.6g}") if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    return x


def write_json(data: dict, path: Path) -> None:
    """Atomically; lists of numbers on one line (curves would otherwise take a line per number)."""
    text = json.dumps(clean(data), indent=1)
    text = re.sub(r"\[\s+([-+0-9.eE,\s]|null)+?\s*\]",
                  lambda m: "[" + ",".join(v.strip() for v in m.group(0)[1:-1].split(",")) + "]", text)
    tmp = Path(path).with_suffix(".json.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


# ---- figures ---------------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_sweep(results: Results, fig_spec: SweepFigure, path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, len(fig_spec.metrics), figsize=(5 * len(fig_spec.metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], fig_spec.metrics):
        values = []
        for row in fig_spec.rows:
            pts = [(x, results.final(ids.get(row), metric)) for x, ids in fig_spec.points]
            pts = [(x, s) for x, s in pts if measured(s)]
            if not pts:
                continue
            color, marker, ls = fig_spec.styles.get(row, (None, "o", "-"))
            ys = [s["mean"] for _, s in pts]
            err = [s.get("ci95") or 0.0 for _, s in pts]  # one run: no bar
            ax.errorbar([x for x, _ in pts], ys, yerr=err, color=color, marker=marker, ls=ls, capsize=3,
                        label=fig_spec.labels.get(row, row))
            values += ys
        if values and min(values) > 0 and max(values) / min(values) > 20:
            ax.set_yscale("log")
        ax.set_xticks([x for x, _ in fig_spec.points])
        ax.set_xlabel(fig_spec.xlabel)
        ax.set_ylabel(f"{metric} ({fig_spec.units.get(metric, '')})")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(f"{fig_spec.title}; mean ± 95 % CI")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(results: Results, fig_spec: CurveFigure, path: Path) -> None:
    """Training curves (exploring policy): mean and Student-t 95 % band over seeds (`stats.band`)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(fig_spec.panels), figsize=(5 * len(fig_spec.panels), 3.8), squeeze=False)
    drawn = False
    for ax, panel in zip(axes[0], fig_spec.panels):
        for i, (label, rid) in enumerate(fig_spec.runs.items()):
            key = results.first_metric(rid, panel.metrics)
            c = results.curve(rid, key) if key else None
            if c is None:
                continue
            x, ys, warm = c
            if panel.after_warmup:
                x, ys = x[x > warm], ys[:, x > warm]
            if panel.shade_warmup and warm > 0 and i == 0:
                ax.axvspan(0, warm, color="0.9", label="random warm-up")
            mean, lo, hi = np.array([stats.band(ys[:, j] * panel.scale) for j in range(ys.shape[1])]).reshape(-1, 3).T
            ax.plot(x, mean, color=f"C{i}", label=label)
            if len(ys) > 1:
                ax.fill_between(x, lo, hi, color=f"C{i}", alpha=0.2)
            if label in panel.markers and math.isfinite(panel.markers[label]):
                ax.axvline(panel.markers[label], color=f"C{i}", ls=":", lw=1)
            drawn = True
        if panel.reference is not None and panel.reference[1] is not None:
            ax.axhline(panel.reference[1], color="k", ls="--", lw=1, label=panel.reference[0])
        ax.set_xlabel("env steps per seed")
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if not drawn:
        for ax in axes[0]:
            ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, fontsize=14)
    fig.suptitle(f"{fig_spec.title}; mean and 95 % CI over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- Markdown --------------------------------------------------------------------------------------------
def _esc(text) -> str:
    return str(text).replace("|", "\\|")  # a "|" inside a cell would split it


def sweep_table(results: Results, fig_spec: SweepFigure, metric: str) -> list[str]:
    rows = [r for r in fig_spec.rows if any(r in ids for _, ids in fig_spec.points)]
    lines = [f"| {metric} ({fig_spec.units.get(metric, '')}) | "
             + " | ".join(f"{fig_spec.var}={x}" for x, _ in fig_spec.points) + " |",
             "|---|" + "---:|" * len(fig_spec.points)]
    for row in rows:
        cells = [fmt_stat(results.final(ids.get(row), metric), 4) if results.run(ids.get(row))
                 else results.status(ids.get(row)) for _, ids in fig_spec.points]
        lines.append(f"| {fig_spec.labels.get(row, row)} | " + " | ".join(cells) + " |")
    return lines


def _side_runs(meta: dict) -> list[str]:
    """Jobs finished by other invocations with the same settings and merged into this JSON (``meta["side_runs"]``:
    each a ``command`` and its ``jobs``), e.g. two single-core processes on disjoint sections."""
    side = meta.get("side_runs", [])
    if not side:
        return []
    lines = ["Jobs merged (`--merge`) from other invocations with the same budget, seeds and evaluation:", ""]
    lines += [f"* `{s['command']}` (merged {s.get('merged', '?')}): {', '.join(s['jobs'])}" for s in side]
    return lines + [""]


def _header(rep, results: Results) -> list[str]:
    meta, runs = results.meta, results.runs
    load_end = meta.get("loadavg_end", [math.nan])[0]
    seeds = meta.get("seeds", [])
    seeds = seeds if isinstance(seeds, list) else list(range(seeds))  # JSON of the former reproduce_000.py: a count
    return [
        f"# {rep.title}", "",
        f"Command: `{meta.get('command', '')}`  ",
        f"Machine: {meta.get('machine')}, {meta.get('cpu_count')} CPU cores, JAX {meta.get('jax')} on "
        f"{meta.get('device')}; load average {meta.get('loadavg_start', [math.nan])[0]:.1f} at start, {load_end:.1f} "
        "at end (shared machine: timings are noisy).  ",
        f"Wall time: {meta.get('wall_s', math.nan) / 60:.1f} min for this invocation; "
        f"{sum(r.get('wall_s', 0) for r in runs.values()) / 60:.1f} min summed over all stored runs "
        f"({meta.get('resumed_runs', 0)} taken from a previous invocation by --resume).", "",
        *_side_runs(meta),
        "## Setup", "",
        f"* Budget: **{meta.get('steps', 0):,} env steps per learner run** and seed (all parallel envs, warm-up "
        f"included); {len(seeds)} seeds {seeds} per learner, trained together chunk by chunk with a checkpoint "
        "after every chunk" + (" — QUICK smoke settings, not a result" if meta.get("profile") == "quick" else "")
        + (f"; fewer than 5 seeds: verdicts are indicative only" if len(seeds) < 5 else "") + ".",
        "* Learners use their `Config` defaults otherwise"
        + (f", with {json.dumps(meta['overrides'])}" if meta.get("overrides") else "")
        + ("; `--set` " + ", ".join(f"{a + ':' if a else ''}{k}={v}" for a, k, v in meta["sets"])
           if meta.get("sets") else "")
        + ".",
        f"* Evaluation: deterministic policies (argmax / noiseless), {meta.get('eval_envs')} envs × "
        f"{meta.get('eval_steps')} steps on the same keys (seed {meta.get('eval_seed')}) for every algo and "
        "heuristic of a scenario. Mean ± 95 % CI: Student t over seeds (learners), over eval envs (heuristics); "
        "one run has no CI.",
    ]


def write_markdown(rep, results: Results, path: Path) -> None:
    lines = _header(rep, results) + list(rep.setup(results)) + [VERDICT_RULE, "", "## Claims", ""]
    lines += ["| # | claim | paper | ours | verdict | reason (computed) |", "|---|---|---|---|---|---|"]
    for c in results.data.get("claims", []):
        lines.append(f"| {c['id']} | {_esc(c['claim'])} | {_esc(c['paper'])} | {_esc(c['ours'])} | "
                     f"**{c['verdict']}** | {_esc(c['reason'])} |")
    for fig in rep.figures(results):
        if isinstance(fig, SweepFigure) and fig.points:
            lines += ["", f"## {fig.heading} (`{fig.file}`)", ""]
            for metric in fig.table_metrics:
                lines += sweep_table(results, fig, metric) + [""]
    lines += list(rep.tables(results))
    lines += ["", "## Run times", "", "Wall seconds; process CPU seconds (all threads) in brackets: on a loaded "
              "machine wall > CPU. First chunk: compile included.", "",
              "| run | status | env steps × seeds | init s | first chunk s | train s | eval s |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for rid, rec in results.runs.items():
        if rec.get("kind") != "learner":
            continue
        if rec.get("status") != "done":
            lines.append(f"| {rid} | {rec.get('status')}: {_esc(rec.get('reason', ''))} | | | | | |")
            continue
        cpu = rec.get("cpu_s", {})
        cell = lambda k: f"{rec[k + '_s']:.1f}" + (f" ({cpu[k]:.1f})" if k in cpu else "")  # noqa: E731
        lines.append(f"| {rid} | done | {rec['env_steps']:,} × {rec['n_seeds']} | {rec.get('init_s', math.nan):.1f} | "
                     f"{rec.get('first_chunk_s', math.nan):.1f} | {cell('train')} | {cell('eval')} |")
    Path(path).write_text("\n".join(lines) + "\n")


def write_reports(rep, data: dict, out: Path) -> list[Path]:
    """Recompute the claims of ``data``, then write the JSON, the Markdown report and the figures;
    returns the paths written."""
    out = Path(out)
    results = Results(data)
    data["claims"] = [c.to_json() for c in rep.claims(results)]
    written = [out / f"{rep.name}.json", out / f"{rep.name}.md"]
    write_json(data, written[0])
    write_markdown(rep, results, written[1])
    for fig in rep.figures(results):
        if isinstance(fig, SweepFigure):
            if not fig.points:
                continue
            plot_sweep(results, fig, out / fig.file)
        else:
            plot_curves(results, fig, out / fig.file)
        written.append(out / fig.file)
    return written
