"""Seed 001 (FedD3QN-GAN, network slicing): jobs, claims and figures (spec §7-§8, §10.6-§10.8).

    python scripts/reproduce.py --seed 001                    # Figs 3-6, 5 seeds, the CPU budget below
    python scripts/reproduce.py --seed 001 --quick --out /tmp/repro

Sections (``--only``): ``default`` (B = 4 APs, U = 20 users: Fig. 3 convergence curves and Fig. 4
satisfaction / delay trade-off), ``users`` (U ∈ {10, 15, 20, 25, 30} at B = 4: Fig. 5) and ``aps``
(B ∈ {3, 4, 5, 6} at U = 20: Fig. 6). Env ``slicing`` (Table 1 + spec §6.3 gap defaults), the full
joint action space (18,496 actions per AP) unless the ``mode`` grid says ``coarse`` (100 actions,
NOT faithful: the quick smoke profile only, and labelled so in the report). Learners
``fed_d3qn_gan`` (the paper's method), ``id3qn_gan``, ``fed_d3qn``, ``id3qn`` (§5.8); reference
policies ``random``, ``equal``, ``proportional``, ``obs_oracle`` and ``oracle`` on every point
(references, never "a baseline": the paper has none).

``--grid sweep_learners=0`` runs Figs 5 / 6 with the reference policies only (their learner claims
then read "not run"): the CPU option of the committed report.

Each claim is stated with its paper value, ours (mean ± Student-t 95 % CI over seeds), the relative
AND absolute difference (A46) and two computed verdicts: the direction (CIs apart) and the paper's
magnitude (the CI-implied interval of the relative difference beyond the claimed percentage). The
report also gives, per learner, the fraction of the equal-split -> oracle (and -> obs_oracle) gap
closed on reward and satisfaction.

The paper trains 1,000 episodes per run (1 env); the ``full`` profile here is the CPU default of
``scripts/train.py`` (``Config.total_env_steps``), and the committed run is smaller still: its exact
sizes are in the report's header and setup.
"""

from __future__ import annotations

from benchmarks.reproduce import Job, Plan, Profile, Reproduction, Settings
from benchmarks.reproduce.claims import (
    Claim, Results, combine, effect_interval, fmt_effect, fmt_stat, scaled, steps_to_fraction, verdict,
)
from benchmarks.reproduce.report import CurveFigure, CurvePanel, SweepFigure

PROPOSED = "fed_d3qn_gan"
LEARNERS = ("fed_d3qn_gan", "id3qn_gan", "fed_d3qn", "id3qn")
BASELINES = ("id3qn_gan", "fed_d3qn", "id3qn")  # the paper's three (§5.8)
REFERENCES = ("random", "equal", "proportional", "obs_oracle", "oracle")
SECTIONS = ("default", "users", "aps")
METRICS = ("reward", "satisfaction", "delay")
UNITS = {"reward": "per slot", "satisfaction": "fraction", "delay": "s"}
LABELS = {"fed_d3qn_gan": "FedD3QN-GAN", "id3qn_gan": "ID3QN-GAN", "fed_d3qn": "FedD3QN", "id3qn": "ID3QN",
          "random": "Random", "equal": "Equal split", "proportional": "Proportional", "obs_oracle": "Obs-oracle",
          "oracle": "Oracle"}
STYLES = {"fed_d3qn_gan": ("C3", "o", "-"), "id3qn_gan": ("C1", "^", "-"), "fed_d3qn": ("C0", "s", "-"),
          "id3qn": ("C2", "v", "-"), "random": ("0.6", "x", ":"), "equal": ("k", "D", "--"),
          "proportional": ("0.4", "+", ":"), "obs_oracle": ("C4", "*", "--"), "oracle": ("C5", "P", "--")}
FRACTION = 0.95  # "converged": 95 % of the way to the final training return

GRIDS = dict(users=(10, 15, 20, 25, 30), aps=(3, 4, 5, 6), default=(4, 20), mode=("full",), sweep_learners=(1,))
PROFILES = {
    "full": Profile(total_steps=48_000, seeds=5, eval_envs=32, eval_steps=100, grids=GRIDS, curve_points=10),
    "quick": Profile(total_steps=400, seeds=2, eval_envs=4, eval_steps=20, fast_compile=True,
                     grids=dict(users=(10, 20), aps=(2, 3), default=(2, 10), mode=("coarse",), sweep_learners=(1,)),
                     overrides=dict(num_envs=2, batch_size=8, warmup_steps=40, buffer_size=1_000, embed=16,
                                    hidden=16, head_hidden=16, disc_hidden=(16,))),
}


def label(algo: str) -> str:
    return LABELS.get(algo, algo)


# ---- jobs ---------------------------------------------------------------------------------------------
def job_id(algo: str, b: int, u: int, mode: str) -> str:
    return f"{algo}@B{b}U{u}" + ("" if mode == "full" else f"[{mode}]")


def plan(settings: Settings) -> Plan:
    """The sections' points (which job fills which cell) and the ordered unique jobs."""
    g = settings.grids
    if len(g["default"]) != 2 or len(g["mode"]) != 1:
        raise ValueError("grid default takes (B, U) and grid mode one value (full or coarse)")
    mode = str(g["mode"][0])
    b0, u0 = (int(x) for x in g["default"])
    jobs: dict = {}

    def add(algo, b, u):
        rid = job_id(algo, b, u, mode)
        sizes = {"n_aps": b, "max_users": u} | ({} if mode == "full" else {"action_mode": mode})
        jobs.setdefault(rid, Job(rid, algo, "slicing", sizes, None, {}))
        return rid

    chosen = [a for a in LEARNERS + REFERENCES if a in settings.algos]
    # --grid sweep_learners=0: Figs 5 / 6 with the reference policies only (a CPU-budget option)
    in_sweeps = chosen if int(g.get("sweep_learners", (1,))[0]) else [a for a in chosen if a in REFERENCES]
    layout: dict = {"scenario": {"env": "slicing", "mode": mode, "default": [b0, u0]}}
    if "default" in settings.sections:
        layout["default"] = {"n_aps": b0, "n_users": u0, "runs": {a: add(a, b0, u0) for a in chosen}}
    for section, var, values in (("users", "n_users", g["users"]), ("aps", "n_aps", g["aps"])):
        if section in settings.sections:
            points = []
            for v in values:
                b, u = (b0, int(v)) if section == "users" else (int(v), u0)
                points.append({"n_aps": b, "n_users": u, "runs": {a: add(a, b, u) for a in in_sweeps}})
            layout[section] = {"var": var, "points": points}
    return Plan(tuple(jobs.values()), layout)


# ---- measures ---------------------------------------------------------------------------------------
def slots_per_episode(results: Results) -> float:
    return 100.0  # T (Table 1)


def episode_return(results: Results, run_id):
    """The per-episode cumulative reward (A34) of the deterministic policy: reward per slot x T."""
    return scaled(results.final(run_id, "reward"), slots_per_episode(results))


def episodes_stat(results: Results, run_id):
    """Over seeds: training episodes (slots of one env) to FRACTION of the final training return."""
    rec = results.run(run_id)
    if rec is None:
        return None
    per_episode = rec.get("num_envs", 1) * slots_per_episode(results)
    st = results.curve_stat(run_id, "reward", lambda x, y, w: steps_to_fraction(x, y, FRACTION, start=w))
    return scaled(st, 1.0 / per_episode)


def improvement_stat(results: Results, run_id):
    """Over seeds: last minus first post-warm-up chunk of the training reward (per slot)."""
    def measure(x, y, w):
        keep = y[x > w]
        return float(keep[-1] - keep[0]) if len(keep) > 1 else float("nan")
    return results.curve_stat(run_id, "reward", measure)


def _claim(cid, claim, paper, ours, v, reason, effect=None, **stats) -> Claim:
    return Claim(cid, claim, paper, ours, v, reason, effect, {k: s for k, s in stats.items() if s is not None})


def _shift(interval, by):
    return None if interval is None else tuple(x - by for x in interval)


def compare(results, cid, text, paper, metric, new_id, ref_id, sign, kind, magnitude=None, scale=1.0):
    """One claim: ``new`` vs ``ref`` on ``metric``; the verdict on the direction (CIs apart) and,
    with ``magnitude``, on the paper's relative size too (the CI-implied relative interval beyond it)."""
    a, b = scaled(results.final(new_id, metric), scale), scaled(results.final(ref_id, metric), scale)
    rel = effect_interval(a, b, kind)
    diff = effect_interval(a, b, "diff")
    direction = verdict(diff, sign)
    reason = (f"relative {fmt_effect(rel, pct=True)}, absolute {fmt_effect(diff, 4)}; direction: {direction}"
              if rel and diff else "missing runs")
    v = direction
    if magnitude is not None and rel is not None:
        v = verdict(_shift(rel, magnitude), +1)
        reason += f"; magnitude ≥ {100 * magnitude:.0f} %: {v}"
    return _claim(cid, text, paper, f"{fmt_stat(a, 4)} vs {fmt_stat(b, 4)}", v, reason, rel, new=a, ref=b)


# ---- claims -------------------------------------------------------------------------------------------
def fig3(results: Results) -> list[Claim]:
    ids = results.plan.get("default", {}).get("runs", {})
    new = ids.get(PROPOSED)
    rows = []
    for other in BASELINES:
        rows.append(compare(results, f"F3-reward-vs-{other}",
                            f"Fig. 3: {label(PROPOSED)}'s converged cumulative reward ≥ 10 % above {label(other)}",
                            "≥ +10 %", "reward", new, ids.get(other), +1, "gain", 0.10, slots_per_episode(results)))
    for fed, ind in (("fed_d3qn_gan", "id3qn_gan"), ("fed_d3qn", "id3qn")):
        rows.append(compare(results, f"F3-federated-{fed}", f"Fig. 3: federated {label(fed)} above independent "
                            f"{label(ind)} (episode return)", "higher", "reward", ids.get(fed), ids.get(ind), +1,
                            "gain", None, slots_per_episode(results)))
    rows.append(compare(results, "F3-gan-helps", f"Fig. 3: {label(PROPOSED)} above FedD3QN (GAN helps)", "higher",
                        "reward", new, ids.get("fed_d3qn"), +1, "gain", None, slots_per_episode(results)))
    for algo in LEARNERS:
        st = improvement_stat(results, ids.get(algo))
        eff = None if st is None else effect_interval(st, {"mean": 0.0, "exact": True}, "diff")
        sign = +1
        text = f"Fig. 3: {label(algo)} improves during training"
        if algo == "id3qn":
            text, sign = "Fig. 3: ID3QN does not learn (its improvement is below FedD3QN-GAN's)", -1
            eff = effect_interval(st, improvement_stat(results, new), "diff")
        rows.append(_claim(f"F3-learns-{algo}", text, "improves" if sign > 0 else "flat",
                           f"last - first post-warm-up chunk reward/slot {fmt_stat(st, 4)}", verdict(eff, sign),
                           f"difference {fmt_effect(eff, 4)}" if eff else "missing runs", eff, improvement=st))
    ep = episodes_stat(results, new)
    rec = results.run(new)
    budget = rec["env_steps"] / (rec.get("num_envs", 1) * slots_per_episode(results)) if rec else 0.0
    rows.append(_claim("F3-converges-500", f"Fig. 3: {label(PROPOSED)} converges around episode 500",
                       "≈ 500 episodes",
                       f"{FRACTION:.0%} of the final training return after {fmt_stat(ep)} episodes of one env",
                       "not run" if budget < 1000 else verdict(effect_interval(ep, {"mean": 600.0, "exact": True}), -1),
                       f"budget {budget:g} episodes per env (paper 1,000): the episode-500 claim needs the full "
                       "budget" if budget < 1000 else "episodes to 95 % below 600", None, episodes=ep))
    return rows


def fig4(results: Results) -> list[Claim]:
    ids = results.plan.get("default", {}).get("runs", {})
    new, rows = ids.get(PROPOSED), []
    for other in BASELINES:
        rows.append(compare(results, f"F4-sat-vs-{other}", f"Fig. 4: {label(PROPOSED)} higher satisfaction than "
                            f"{label(other)}", "higher", "satisfaction", new, ids.get(other), +1, "gain"))
        rows.append(compare(results, f"F4-delay-vs-{other}", f"Fig. 4: {label(PROPOSED)} lower delay than "
                            f"{label(other)}", "lower", "delay", new, ids.get(other), -1, "reduction"))
    rows.append(_claim("F4-id3qn-worst", "Fig. 4: ID3QN worst (lowest satisfaction of the four)", "worst", "see reason",
                       combine([compare(results, "", "", "", "satisfaction", ids.get("id3qn"), ids.get(o), -1,
                                        "gain").verdict for o in LEARNERS if o != "id3qn"]),
                       "ID3QN below each other learner on satisfaction (CIs apart at every comparison)"))
    rows.append(compare(results, "F4-idgan-delay", "Fig. 4: ID3QN-GAN lower delay than FedD3QN", "lower", "delay",
                        ids.get("id3qn_gan"), ids.get("fed_d3qn"), -1, "reduction"))
    rows.append(compare(results, "F4-idgan-sat", "Fig. 4: ID3QN-GAN much lower satisfaction than FedD3QN", "lower",
                        "satisfaction", ids.get("id3qn_gan"), ids.get("fed_d3qn"), -1, "gain"))
    return rows


def sweep_claims(results: Results, section: str, metric: str, sign: int, kind: str, magnitude: float, fig: int,
                 paper: str) -> list[Claim]:
    sec = results.plan.get(section, {})
    points, var = sec.get("points", []), sec.get("var", section)
    rows = []
    for other in BASELINES:
        per = [compare(results, "", "", "", metric, p["runs"].get(PROPOSED), p["runs"].get(other), sign, kind,
                       magnitude) for p in points]
        dirs = [compare(results, "", "", "", metric, p["runs"].get(PROPOSED), p["runs"].get(other), sign, kind)
                for p in points]
        detail = "; ".join(f"{var}={p[var]}: {c.reason}" for p, c in zip(points, per))
        rows.append(_claim(f"F{fig}-{metric}-vs-{other}", f"Fig. {fig}: {label(PROPOSED)} {metric} "
                           f"{'higher' if sign > 0 else 'lower'} than {label(other)} at every {var}, by {paper}",
                           paper, f"direction {combine([d.verdict for d in dirs])} "
                           f"({sum(d.verdict == 'reproduced' for d in dirs)}/{len(points)} points)",
                           combine([c.verdict for c in per]), detail or "section not run"))
    return rows


def fig5(results: Results) -> list[Claim]:
    rows = sweep_claims(results, "users", "satisfaction", +1, "gain", 0.08, 5, "≥ 8 %")
    points = results.plan.get("users", {}).get("points", [])
    if points:
        lo, hi = points[0], points[-1]
        for algo in LEARNERS:
            c = compare(results, f"F5-falls-{algo}", f"Fig. 5: {label(algo)} satisfaction falls from U={lo['n_users']} "
                        f"to U={hi['n_users']}", "falls", "satisfaction", hi["runs"].get(algo), lo["runs"].get(algo),
                        -1, "gain")
            rows.append(c)
    return rows


def fig6(results: Results) -> list[Claim]:
    return sweep_claims(results, "aps", "delay", -1, "reduction", 0.28, 6, "≥ 28 %")


def claims(results: Results) -> list[Claim]:
    return fig3(results) + fig4(results) + fig5(results) + fig6(results)


# ---- report ---------------------------------------------------------------------------------------------
def gap_closed(results: Results, runs: dict, metric: str, top: str):
    """Fraction of the equal-split -> ``top`` gap a run closes on ``metric``: (x - equal) / (top - equal)."""
    eq, best = results.final(runs.get("equal"), metric), results.final(runs.get(top), metric)
    out = {}
    for algo in LEARNERS:
        x = results.final(runs.get(algo), metric)
        if x and eq and best and best["mean"] != eq["mean"]:
            out[algo] = (x["mean"] - eq["mean"]) / (best["mean"] - eq["mean"])
    return out


def figures(results: Results) -> list:
    out = []
    for section, fig, metrics in (("users", "Fig. 5", ("satisfaction", "delay")),
                                  ("aps", "Fig. 6", ("delay", "satisfaction"))):
        sec = results.plan.get(section, {})
        if not sec.get("points"):
            continue
        var = sec["var"]
        out.append(SweepFigure(
            file=f"reproduce_001_{section}.png", heading=f"{fig}: sweep over {var}", title=f"{fig} ({var})", var=var,
            xlabel=var, points=tuple((p[var], p["runs"]) for p in sec["points"]), metrics=metrics,
            table_metrics=METRICS, rows=LEARNERS + REFERENCES, labels=LABELS, units=UNITS, styles=STYLES))
    runs = results.plan.get("default", {}).get("runs", {})
    if runs:
        eq = episode_return(results, runs.get("equal"))
        out.append(CurveFigure("reproduce_001_convergence.png", "Fig. 3: training reward (exploring policy)",
                               {label(a): runs[a] for a in LEARNERS if a in runs}, (
                                   CurvePanel(("reward",), "cumulative reward per episode (T = 100)", scale=100.0,
                                              shade_warmup=True, reference=("Equal split (eval)",
                                                                            eq["mean"] if eq else None)),
                                   CurvePanel(("satisfaction",), "satisfaction (training)", shade_warmup=True))))
        out.append(SweepFigure(
            file="reproduce_001_tradeoff.png", heading="Fig. 4: satisfaction and delay at the defaults",
            title="Fig. 4 (B, U defaults)", var="n_users", xlabel="users per AP",
            points=((results.plan["default"]["n_users"], runs),), metrics=("satisfaction", "delay"),
            table_metrics=METRICS, rows=LEARNERS + REFERENCES, labels=LABELS, units=UNITS, styles=STYLES))
    return out


def setup(results: Results) -> list[str]:
    sc, g = results.plan.get("scenario", {}), results.meta.get("grids", {})
    mode = sc.get("mode", "full")
    return [
        f"* Env `slicing` (Table 1, spec §6.3 gap defaults), action mode **{mode}**"
        + (" (18,496 joint actions per AP, faithful)" if mode == "full" else
           " — NOT FAITHFUL: 100 coarse actions, a smoke setting") + f"; defaults (B, U) = {sc.get('default')}; "
        f"Fig. 5 U ∈ {g.get('users')}, Fig. 6 B ∈ {g.get('aps')}; "
        f"sections {', '.join(results.meta.get('sections', []))}.",
        "* REDUCED CPU SIZES: the paper trains 1,000 episodes of one env per run; here every learner run has the "
        f"budget above ({results.meta.get('steps', 0):,} env steps = {results.meta.get('steps', 0) // 800:g} "
        "slots-of-8-envs episodes at the learner's default 8 envs per slot unless `--set num_envs` says otherwise), "
        "so Fig. 3's episode axis is not the paper's.",
        "* `reward` is eq. R per slot (global, the same for every AP); the episode return is reward × 100; "
        "`delay` is L (s, clipped at 10 ms, A9); `satisfaction` is φ. Claims give the relative and the absolute "
        "difference (A46).",
    ] + [f"* REDUCED GRID: Fig. {fig} runs {name} ∈ {list(g[name])}, a subset of the paper's {list(GRIDS[name])}."
         for fig, name in ((5, "users"), (6, "aps"))
         if name in g and name in results.meta.get("sections", []) and list(g[name]) != list(GRIDS[name])
         ] + [f"* Jobs merged from a parallel invocation (same settings, its own output directory): `{c}`"
         for c in results.meta.get("merged_from", [])]


def tables(results: Results) -> list[str]:
    runs = results.plan.get("default", {}).get("runs", {})
    if not runs:
        return []
    lines = ["", "## Gap closed at the defaults", "",
             "Fraction of the gap from the equal split to the reference that each learner's deterministic policy "
             "closes: (learner - equal) / (reference - equal); 1 = as good as the reference, < 0 = worse than "
             "equal.", "", "| learner | reward → obs_oracle | satisfaction → obs_oracle | reward → oracle | "
             "satisfaction → oracle | episodes to 95 % |", "|---|---:|---:|---:|---:|---:|"]
    cols = [gap_closed(results, runs, m, t) for t in ("obs_oracle", "oracle") for m in ("reward", "satisfaction")]
    for algo in LEARNERS:
        cells = [f"{c[algo]:.2f}" if algo in c else "—" for c in cols]
        episodes = fmt_stat(episodes_stat(results, runs.get(algo)))
        lines.append(f"| {label(algo)} | " + " | ".join(cells) + f" | {episodes} |")
    return lines


REPRODUCTION = Reproduction(
    seed="001", title="Seed 001 reproduction (FedD3QN-GAN, spec §7-§8)", sections=SECTIONS,
    algos=LEARNERS + REFERENCES, profiles=PROFILES, plan=plan, claims=claims, figures=figures, setup=setup,
    tables=tables, curve_metrics=("reward", "satisfaction", "delay", "td_loss", "d_loss", "g_adv", "epsilon"))
