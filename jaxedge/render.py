"""Matplotlib drawings of one env state: ``env.render(state, params, action=None) -> Figure``.

Each drawer shows what the physics has: positions where the env has them (v2x vehicles and ESs,
slicing users at their AP distance, cloud_edge UEs around their edge), otherwise a schematic
layout (dt_inference users and servers, collab_edge's scheduler and ESs); links (channel gain or
distance), queue / CPU / battery / cache fill as bars, and — when ``action`` is given — the chosen
targets (thick coloured links or arrows). Rendering runs on the host (NumPy), outside ``jit``.

`animate(env, params, policy, key, steps, path)` writes a GIF of one episode (PillowWriter).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:  # noqa: BLE001 - an interactive session keeps its backend
            pass
    import matplotlib.pyplot as plt

    return plt


def _np(tree):
    return jax.tree.map(np.asarray, tree)


def _bars(ax, labels, fill, title, color="tab:blue"):
    fill = np.clip(np.asarray(fill, float), 0.0, 1.0)
    ax.barh(np.arange(len(fill)), fill, color=color)
    ax.barh(np.arange(len(fill)), 1.0 - fill, left=fill, color="0.9")
    ax.set_yticks(np.arange(len(fill)), labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=8)
    ax.tick_params(axis="x", labelsize=7)


def _ring(n, r=1.0, phase=0.0):
    ang = phase + 2 * np.pi * np.arange(n) / max(n, 1)
    return np.stack([r * np.cos(ang), r * np.sin(ang)], -1)


TARGET_COLORS = ["tab:gray", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
                 "tab:olive", "tab:cyan", "tab:blue"]


def draw_dt_inference(env, state, params, action, fig):
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    u, m = env.n_users, env.n_servers
    users = np.stack([np.zeros(u), np.linspace(1, 0, u)], -1)
    servers = np.stack([np.ones(m), np.linspace(0.9, 0.1, m) if m > 1 else [0.5]], -1)
    gain = np.log10(np.maximum(state.gain, 1e-30))
    g = (gain - gain.min()) / max(np.ptp(gain), 1e-9)
    for i in range(u):
        for j in range(m):
            ax.plot(*zip(users[i], servers[j]), color="0.8", lw=0.3 + 1.5 * g[i, j], zorder=1)
    if action is not None:
        tgt = np.asarray(action.discrete)  # (U, T): 0 local, j = server j
        for i in range(u):
            for k, j in enumerate(tgt[i]):
                if j > 0:
                    ax.annotate("", servers[j - 1], users[i] + [0.02 * k, 0],
                                arrowprops=dict(arrowstyle="->", color=TARGET_COLORS[(k + 1) % 10], lw=1.5))
    ax.scatter(*users.T, s=80, c="tab:blue", zorder=2, label="users")
    ax.scatter(*servers.T, s=160, marker="s", c="tab:red", zorder=2, label="servers")
    for i in range(u):
        ax.text(users[i, 0] - 0.05, users[i, 1], f"U{i}", ha="right", va="center", fontsize=7)
    for j in range(m):
        ax.text(servers[j, 0] + 0.05, servers[j, 1], f"S{j + 1}", va="center", fontsize=7)
    ax.set_xlim(-0.25, 1.25)
    ax.axis("off")
    ax.legend(loc="lower center", fontsize=7, ncol=2)
    ax.set_title("links: log channel gain; arrows: offload targets per task", fontsize=8)
    _bars(bx, [f"U{i}" for i in range(u)], state.battery / np.maximum(state.battery_init, 1e-12), "battery left")


def draw_slicing(env, state, params, action, fig):
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    b, n_u = state.dist.shape
    radius = float(np.max(params.radius))
    aps = _ring(b, 2.5 * radius) if b > 1 else np.zeros((1, 2))
    live = np.arange(n_u) < int(params.n_users)
    colors = np.array(TARGET_COLORS[1:])[state.slice % 9]
    for k in range(b):
        ang = 2 * np.pi * (np.arange(n_u) * 0.618034 % 1.0)
        pts = aps[k] + state.dist[k, :, None] * np.stack([np.cos(ang), np.sin(ang)], -1)
        ax.add_patch(_plt().Circle(aps[k], radius, fill=False, ls="--", color="0.7"))
        for p in pts[live]:
            ax.plot(*zip(aps[k], p), color="0.85", lw=0.5, zorder=1)
        ax.scatter(*pts[live].T, s=20, c=colors[k][live], zorder=2)
        ax.scatter(*aps[k], s=150, marker="^", c="k", zorder=3)
        ax.text(*(aps[k] + [0, radius * 1.1]), f"AP{k}", ha="center", fontsize=7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("users coloured by slice, at their AP distance", fontsize=8)
    if action is not None:
        f_b, f_c = (np.asarray(x) for x in env.decode_action(jnp.asarray(action)))
        share = f_b / np.maximum(f_b.sum(-1, keepdims=True), 1)
        labels = [f"AP{k} s{i}" for k in range(b) for i in range(env.n_slices)]
        _bars(bx, labels, share.reshape(-1), "bandwidth share (action)", color="tab:green")
    else:
        counts = np.stack([(state.slice[k][live] == i).sum() for k in range(b) for i in range(env.n_slices)])
        _bars(bx, [f"AP{k} s{i}" for k in range(b) for i in range(env.n_slices)], counts / max(live.sum(), 1),
              "users per slice")


def draw_v2x(env, state, params, action, fig):
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    es = np.asarray(params.es_pos)
    area, radius = float(np.max(params.area)), float(np.max(params.radius))
    for j, p in enumerate(es):
        ax.add_patch(_plt().Circle(p, radius, fill=False, ls="--", color="0.7"))
        ax.text(p[0], p[1] + 0.04 * area, f"ES{j + 1}", ha="center", fontsize=7)
    ax.scatter(*es.T, s=160, marker="s", c="tab:red", zorder=3)
    ax.quiver(*state.pos.T, *state.heading.T, color="tab:blue", scale=25, width=0.004, zorder=3)
    ax.scatter(*state.pos.T, s=30, c="tab:blue", zorder=4)
    if action is not None:
        tgt = np.asarray(action.discrete)
        for i, j in enumerate(tgt):
            if j > 0:
                ax.plot(*zip(state.pos[i], es[j - 1]), color=TARGET_COLORS[j % 10], lw=1.5, zorder=2)
    ax.set_xlim(0, area)
    ax.set_ylim(0, area)
    ax.set_aspect("equal")
    ax.set_title("vehicles (arrows: heading); lines: offload targets", fontsize=8)
    fill = np.concatenate([state.cpu / np.maximum(state.cpu.max(), 1e-9), state.bw / np.maximum(state.bw.max(), 1e-9)])
    n = len(state.cpu)
    _bars(bx, [f"ES{j + 1} cpu" for j in range(n)] + [f"ES{j + 1} bw" for j in range(n)], fill, "twin: free CPU / bandwidth")


def draw_collab_edge(env, state, params, action, fig):
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 2]})
    b = env.n_servers
    servers = np.stack([np.ones(b), np.linspace(1, 0, b) if b > 1 else [0.5]], -1)
    ax.scatter([0], [0.5], s=300, marker="h", c="k")
    ax.text(0, 0.58, "scheduler", ha="center", fontsize=7)
    for j in range(b):
        ax.plot(*zip((0, 0.5), servers[j]), color="0.85", lw=0.5)
        ax.text(servers[j, 0] + 0.05, servers[j, 1], f"ES{j} {params.freq[j] / 1e9:.0f} GHz", va="center", fontsize=7)
    ax.scatter(*servers.T, s=120, marker="s", c="tab:red", zorder=3)
    if action is not None:
        tgt = np.atleast_1d(np.asarray(env.decode_action(jnp.asarray(action)))).reshape(-1)
        n = 1 if env.per_task else int(state.n_tasks)
        for j in tgt[:n]:
            ax.annotate("", servers[j], (0.05, 0.5), arrowprops=dict(arrowstyle="->", color="tab:orange", lw=1.5))
    ax.set_xlim(-0.2, 1.6)
    ax.axis("off")
    ax.set_title(f"slot {int(state.t)}, task {int(state.task)}/{int(state.n_tasks)}; arrow: chosen ES", fontsize=8)
    work = (state.queue + state.qbef) / np.maximum(np.asarray(params.freq) * float(params.slot_len), 1e-9)
    _bars(bx, [f"ES{j}" for j in range(b)], work / max(1.0, float(work.max())), "queue (slots of work, scaled)")


def draw_cloud_edge(env, state, params, action, fig):
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    k = env.n_cells
    edges = _ring(k, 3.0) if k > 1 else np.zeros((1, 2))
    cell = env.cell_of()
    j = np.arange(env.num_agents) % env.ues_per_cell
    ues = edges[cell] + _ring(env.ues_per_cell, 1.0)[j]
    live = np.asarray(state.mask, bool)
    ax.scatter([0], [0] if k > 1 else [2.5], s=250, marker="*", c="tab:purple", zorder=3)
    ax.text(0, (0 if k > 1 else 2.5) + 0.35, "cloud", ha="center", fontsize=7)
    for c in range(k):
        ax.plot(*zip(edges[c], (0, 0) if k > 1 else (0, 2.5)), color="0.8", ls=":", zorder=1)
        ax.text(*(edges[c] + [0, 1.35]), f"edge {c}", ha="center", fontsize=7)
    ax.scatter(*edges.T, s=150, marker="s", c="tab:red", zorder=3)
    color = np.where(live, "tab:blue", "0.85")
    if action is not None:
        x = np.asarray(action.discrete)[:, 0]
        color = np.where(live, np.array(["tab:blue", "tab:orange", "tab:purple"])[np.clip(x, 0, 2)], "0.85")
        for i in np.where(live & (x > 0))[0]:
            ax.plot(*zip(ues[i], edges[cell[i]]), color=color[i], lw=1.2, zorder=2)
    ax.scatter(*ues.T, s=25, c=list(color), zorder=4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("UEs (grey: padding); blue local, orange edge, purple cloud", fontsize=8)
    fill = (np.asarray(state.cache.data)[:, 0, :] >= 0).mean(-1)
    _bars(bx, [f"edge {c}" for c in range(k)], fill, "cache slots used")


DRAWERS = {"dt_inference": draw_dt_inference, "slicing": draw_slicing, "v2x": draw_v2x,
           "collab_edge": draw_collab_edge, "cloud_edge": draw_cloud_edge}


def render(env, state, params, action=None, fig=None):
    """Draw ``state`` (and ``action``'s targets) of one env into a matplotlib Figure."""
    drawer = DRAWERS.get(env.name)
    if drawer is None:
        raise NotImplementedError(f"no renderer for env {env.name!r}; renderers exist for {sorted(DRAWERS)}")
    if np.ndim(getattr(state, "t", 0)) != 0:
        raise ValueError("render takes one env's state, not a batch: index it first (state[i])")
    plt = _plt()
    fig = plt.figure(figsize=(8, 4)) if fig is None else fig
    fig.clf()
    drawer(env, _np(state), _np(params), None if action is None else _np(action), fig)
    fig.suptitle(f"{env.name}  t={int(np.asarray(state.t))}", fontsize=9)
    return fig


def figure_to_rgb(fig) -> np.ndarray:
    """uint8[H, W, 3] pixels of a drawn figure (for Gymnasium's ``rgb_array`` render mode)."""
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    _plt().close(fig)
    return rgb


def animate(env, params, policy, key, steps: int, path, fps: int = 4) -> int:
    """Write a GIF of ``steps`` steps of ``policy(key, obs, state, params)`` on one env; returns frames."""
    from matplotlib.animation import PillowWriter

    plt = _plt()
    k_reset, key = jax.random.split(key)
    obs, state = env.reset(k_reset, params)
    step, act = jax.jit(env.step), jax.jit(policy)
    fig = plt.figure(figsize=(8, 4))
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), dpi=60):
        for t in range(steps):
            k_act, k_step = jax.random.split(jax.random.fold_in(key, t))
            action = act(k_act, obs, state, params)
            render(env, state, params, action, fig)
            writer.grab_frame()
            obs, state, *_ = step(k_step, state, action, params)
    plt.close(fig)
    return steps
