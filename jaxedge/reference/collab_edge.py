"""Plain NumPy references for seed 003's `collab_edge` env.

`step_loop` is written the way the paper's gym code would be: one env at a time, explicit Python
loops over tasks and servers, float64 scalars. `step_batched` is the same transition vectorised over
a leading env axis with NumPy. Both take the step's random draws (uniforms, see
`CollabEdge.sample_step`) as inputs so tests can inject exactly the randomness JAX used, handle both
granularities (``per_task``), and return ``obs, state, reward, truncated, metrics`` with the state a
dict of arrays named as in `jaxedge.envs.collab_edge.State`.

Never imported by `jaxedge.envs`.
"""

from __future__ import annotations

import numpy as np

from jaxedge.reference.common import reset_finished

FIELDS = ("queue", "qbef", "bits", "n_tasks", "task", "t", "period", "pos", "tasks_done", "delay_done",
          "wait_done")


def p(params, name):
    return float(np.asarray(getattr(params, name)))


def arr(params, name):
    return np.asarray(getattr(params, name), dtype=np.float64)


def decode_n_tasks(u, params):
    """N = n_min + floor(u (n_max - n_min + 1)) in float32 arithmetic, as the JAX env does."""
    n_min, n_max = int(p(params, "n_min")), int(p(params, "n_max"))
    span = np.float32(n_max - n_min + 1)
    n = n_min + np.floor(np.asarray(u, np.float32) * span).astype(np.int64)
    return np.minimum(n, n_max)


def decode_bits(u, params):
    return p(params, "bits_min") + np.asarray(u, np.float64) * (p(params, "bits_max") - p(params, "bits_min"))


def decode_action(action, n_servers):
    a = np.asarray(action)
    if np.issubdtype(a.dtype, np.floating):
        a = np.where(np.isfinite(a), np.floor(np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)), 0.0)
        a = np.clip(a, 0, n_servers - 1)
    return np.clip(a.astype(np.int64), 0, n_servers - 1)


# ------------------------------------------------------------------------------------------------
# Randomness (NumPy generator) with the same distributions as the JAX env, for the benchmark.
# ------------------------------------------------------------------------------------------------
def sample_step(rng, per_task, max_tasks, batch=()):
    if per_task:
        return {"n_tasks": rng.random(batch), "bits": rng.random(batch)}
    return {"n_tasks": rng.random(batch), "bits": rng.random(batch + (max_tasks,))}


def initial_state(draws, params, n_servers, per_task):
    """Batched or single: works on any leading batch shape."""
    n = decode_n_tasks(draws["n_tasks"], params)
    batch = np.shape(n)
    bits = decode_bits(draws["bits"], params)
    if not per_task:
        bits = np.where(np.arange(bits.shape[-1]) < n[..., None], bits, 0.0)
    zero = np.zeros(batch, np.int64)
    return {
        "queue": np.zeros(batch + (n_servers,)), "qbef": np.zeros(batch + (n_servers,)),
        "bits": bits, "n_tasks": n, "task": zero, "t": zero.copy(), "period": zero.copy(),
        "pos": zero.copy(), "tasks_done": zero.copy(),
        "delay_done": np.zeros(batch), "wait_done": np.zeros(batch),
    }


# ------------------------------------------------------------------------------------------------
# Per-env loop reference
# ------------------------------------------------------------------------------------------------
def observations_loop(state, params, per_task):
    bu, cu = p(params, "bits_unit"), p(params, "cycles_unit")
    rho = arr(params, "density")
    B = len(state["queue"])
    if per_task:
        show_qbef = bool(np.asarray(params.obs_qbef))
        d = float(state["bits"])
        row = [d / bu, rho[int(state["task"])] * d / cu]
        for b in range(B):
            q = state["queue"][b] + (state["qbef"][b] if show_qbef else 0.0)
            row.append(q / cu)
        return np.array([row])
    S = len(state["bits"])
    row = [state["bits"][n] / bu for n in range(S)]
    row += [rho[n] * state["bits"][n] / cu for n in range(S)]
    row += [state["queue"][b] / cu for b in range(B)]
    return np.array([row])


def running_mean_increment(total_prev, step_sum, done_prev, tasks, t):
    """t m_t - (t - 1) m_(t-1), m_t = (episode delay so far) / (tasks so far): the metric whose mean over
    an episode's first W steps is the pooled mean per task of those steps (§8.1). Works batched."""
    m_prev = total_prev / np.maximum(done_prev, 1)
    m_now = (total_prev + step_sum) / np.maximum(done_prev + tasks, 1)
    return t * m_now - (t - 1) * m_prev


def _metrics(state, delay_sum, wait_sum, tasks, queue, steps_per_slot):
    t = state["period"] * steps_per_slot + state["pos"] + 1  # steps of this episode so far
    return {"delay": running_mean_increment(state["delay_done"], delay_sum, state["tasks_done"], tasks, t),
            "wait": running_mean_increment(state["wait_done"], wait_sum, state["tasks_done"], tasks, t),
            "delay_step": delay_sum, "tasks": float(tasks),
            "queue": sum(queue) / len(queue), "queue_max": max(queue)}


def step_loop(state, action, draws, params, per_task):
    """One env step, loops everywhere. ``action`` int[1] (per task) or int[1, max_tasks] (per slot)."""
    f, v, rho = arr(params, "freq"), arr(params, "rate"), arr(params, "density")
    B, S_max = len(f), len(rho)
    steps_per_slot = S_max if per_task else 1
    slot_len = p(params, "slot_len")
    a = decode_action(action, B)[0]
    queue = [float(x) for x in state["queue"]]
    qbef = [float(x) for x in state["qbef"]]
    new = {k: np.array(v, copy=True) for k, v in state.items()}

    if per_task:
        valid = int(state["t"]) == int(state["period"])
        task = int(state["task"])
        delay = wait = 0.0
        last = False
        if valid:
            b = int(a)
            d = float(state["bits"])
            g = rho[task] * d
            wait = (queue[b] + qbef[b]) / f[b]  # eq. 4
            delay = d / v[b] + g / f[b] + wait  # eq. 2
            qbef[b] += g  # eq. U2
            last = task + 1 >= int(state["n_tasks"])
        if last:
            for k in range(B):
                queue[k] = max(queue[k] + qbef[k] - f[k] * slot_len, 0.0)  # eq. 5
                qbef[k] = 0.0
            new["n_tasks"] = decode_n_tasks(draws["n_tasks"], params)
            new["t"] = int(state["t"]) + 1
            new["task"] = 0
        elif valid:
            new["task"] = task + 1
        if valid:
            new["bits"] = decode_bits(draws["bits"], params)
            new["tasks_done"] = int(state["tasks_done"]) + 1
            new["delay_done"] = float(state["delay_done"]) + delay
            new["wait_done"] = float(state["wait_done"]) + wait
        tasks, delay_sum, wait_sum = int(valid), delay, wait
    else:
        n_tasks = int(state["n_tasks"])
        before = [0.0] * B
        delay_sum = wait_sum = 0.0
        for n in range(n_tasks):
            b = int(a[n])
            d = float(state["bits"][n])
            g = rho[n] * d
            wait = (queue[b] + before[b]) / f[b]  # eq. 4
            delay_sum += d / v[b] + g / f[b] + wait  # eq. 2
            wait_sum += wait
            before[b] += g  # eq. U2
        for k in range(B):
            queue[k] = max(queue[k] + before[k] - f[k] * slot_len, 0.0)  # eq. 5
        n_next = int(decode_n_tasks(draws["n_tasks"], params))
        bits = decode_bits(draws["bits"], params)
        new["bits"] = np.array([bits[n] if n < n_next else 0.0 for n in range(S_max)])
        new["n_tasks"] = n_next
        new["t"] = int(state["t"]) + 1
        new["tasks_done"] = int(state["tasks_done"]) + n_tasks
        new["delay_done"] = float(state["delay_done"]) + delay_sum
        new["wait_done"] = float(state["wait_done"]) + wait_sum
        tasks, last = n_tasks, True

    pos = int(state["pos"]) + 1
    wrap = pos >= steps_per_slot
    new["pos"] = 0 if wrap else pos
    new["period"] = int(state["period"]) + int(wrap)
    new["queue"] = np.array(queue)
    new["qbef"] = np.array(qbef)
    obs = observations_loop(new, params, per_task)
    if per_task and last and not wrap and bool(np.asarray(params.next_state_queue_quirk)):
        obs[0, 2:] = 0.0  # [C]'s zero-queue s' (A20)
    truncated = new["period"] >= p(params, "n_slots")
    metrics = _metrics(state, delay_sum, wait_sum, tasks, queue, steps_per_slot)
    return obs, new, np.array([-delay_sum]), truncated, metrics


# ------------------------------------------------------------------------------------------------
# Batched NumPy reference (vectorised over a leading env axis E)
# ------------------------------------------------------------------------------------------------
def observations_batched(state, params, per_task):
    bu, cu = p(params, "bits_unit"), p(params, "cycles_unit")
    rho = arr(params, "density")
    if per_task:
        queue = state["queue"] + (state["qbef"] if bool(np.asarray(params.obs_qbef)) else 0.0)
        obs = np.concatenate([(state["bits"] / bu)[:, None], (rho[state["task"]] * state["bits"] / cu)[:, None],
                              queue / cu], axis=-1)
    else:
        obs = np.concatenate([state["bits"] / bu, rho * state["bits"] / cu, state["queue"] / cu], axis=-1)
    return obs[:, None, :]


def step_batched(state, action, draws, params, per_task):
    """The same transition for E envs at once: ``action`` int[E, 1] or int[E, 1, max_tasks]."""
    f, v, rho = arr(params, "freq"), arr(params, "rate"), arr(params, "density")
    B, S_max = len(f), len(rho)
    steps_per_slot = S_max if per_task else 1
    slot_len = p(params, "slot_len")
    a = decode_action(action, B)[:, 0]
    E = a.shape[0]
    rows = np.arange(E)
    new = dict(state)
    queue, qbef = state["queue"], state["qbef"]

    if per_task:
        valid = state["t"] == state["period"]
        d = state["bits"]
        g = rho[state["task"]] * d
        fb, vb = f[a], v[a]
        wait = np.where(valid, (queue[rows, a] + qbef[rows, a]) / fb, 0.0)  # eq. 4
        delay = np.where(valid, d / vb + g / fb + wait, 0.0)  # eq. 2
        qbef = qbef + (np.arange(B) == a[:, None]) * np.where(valid, g, 0.0)[:, None]  # eq. U2
        last = valid & (state["task"] + 1 >= state["n_tasks"])
        queue = np.where(last[:, None], np.maximum(queue + qbef - f * slot_len, 0.0), queue)  # eq. 5
        qbef = np.where(last[:, None], 0.0, qbef)
        new["bits"] = np.where(valid, decode_bits(draws["bits"], params), d)
        new["n_tasks"] = np.where(last, decode_n_tasks(draws["n_tasks"], params), state["n_tasks"])
        new["task"] = np.where(last, 0, state["task"] + valid)
        new["t"] = state["t"] + last
        new["tasks_done"] = state["tasks_done"] + valid
        new["delay_done"] = state["delay_done"] + delay
        new["wait_done"] = state["wait_done"] + wait
        delay_sum, wait_sum, tasks = delay, wait, valid.astype(np.float64)
    else:
        mask = np.arange(S_max) < state["n_tasks"][:, None]  # E,S
        g = rho * state["bits"]
        assign = (a[..., None] == np.arange(B)) & mask[..., None]  # E,S,B
        load = np.where(assign, g[..., None], 0.0)
        before = np.cumsum(load, axis=1) - load  # eq. U2
        before_b = np.take_along_axis(before, a[..., None], axis=2)[..., 0]
        fb, vb = f[a], v[a]
        wait = np.where(mask, (queue[rows[:, None], a] + before_b) / fb, 0.0)  # eq. 4
        delay = np.where(mask, state["bits"] / vb + g / fb + wait, 0.0)  # eq. 2
        queue = np.maximum(queue + load.sum(1) - f * slot_len, 0.0)  # eq. 5
        n_next = decode_n_tasks(draws["n_tasks"], params)
        new["bits"] = np.where(np.arange(S_max) < n_next[:, None], decode_bits(draws["bits"], params), 0.0)
        new["n_tasks"] = n_next
        new["t"] = state["t"] + 1
        new["tasks_done"] = state["tasks_done"] + state["n_tasks"]
        new["delay_done"] = state["delay_done"] + delay.sum(1)
        new["wait_done"] = state["wait_done"] + wait.sum(1)
        delay_sum, wait_sum, tasks = delay.sum(1), wait.sum(1), state["n_tasks"].astype(np.float64)
        last = np.ones(E, bool)

    pos = state["pos"] + 1
    wrap = pos >= steps_per_slot
    new["pos"] = np.where(wrap, 0, pos)
    new["period"] = state["period"] + wrap
    new["queue"], new["qbef"] = queue, qbef
    obs = observations_batched(new, params, per_task)
    if per_task and bool(np.asarray(params.next_state_queue_quirk)):
        obs[:, 0, 2:] = np.where((last & ~wrap)[:, None], 0.0, obs[:, 0, 2:])  # A20
    t = state["period"] * steps_per_slot + state["pos"] + 1
    metrics = {"delay": running_mean_increment(state["delay_done"], delay_sum, state["tasks_done"], tasks, t),
               "wait": running_mean_increment(state["wait_done"], wait_sum, state["tasks_done"], tasks, t),
               "delay_step": delay_sum, "tasks": tasks,
               "queue": queue.mean(-1), "queue_max": queue.max(-1)}
    truncated = new["period"] >= p(params, "n_slots")
    return obs, new, -delay_sum[:, None], truncated, metrics


# ------------------------------------------------------------------------------------------------
# Benchmark runners: one call = one env step for every env, random actions, auto-reset.
# ------------------------------------------------------------------------------------------------
def _random_action(rng, env, batch=()):
    shape = (1,) if env.per_task else (1, env.max_tasks)
    return rng.integers(0, env.n_servers, size=batch + shape)


def loop_runner(env, params, num_envs, rng):
    """Per-env Python loop (the paper-style gym baseline): returns ``step_all()``."""

    def fresh():
        return initial_state(sample_step(rng, env.per_task, env.max_tasks), params, env.n_servers, env.per_task)

    states = [fresh() for _ in range(num_envs)]

    def step_all():
        for e in range(num_envs):
            action = _random_action(rng, env)
            draws = sample_step(rng, env.per_task, env.max_tasks)
            _, states[e], _, truncated, _ = step_loop(states[e], action, draws, params, env.per_task)
            if truncated:
                states[e] = fresh()

    return step_all


def batched_runner(env, params, num_envs, rng):
    """NumPy vectorised over envs: returns ``step_all()``."""
    batch = (num_envs,)

    def fresh():
        return initial_state(sample_step(rng, env.per_task, env.max_tasks, batch), params, env.n_servers,
                             env.per_task)

    holder = {"state": fresh()}

    def step_all():
        action = _random_action(rng, env, batch)
        draws = sample_step(rng, env.per_task, env.max_tasks, batch)
        _, state, _, truncated, _ = step_batched(holder["state"], action, draws, params, env.per_task)
        state = reset_finished(state, truncated, fresh)
        holder["state"] = state

    return step_all

