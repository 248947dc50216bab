"""Seed 000 (`dt_inference`) heuristics: all-local, three myopic greedies, three decentralised joint rules, a
full-information best response and the exhaustive oracle.

``greedy_paper`` is spec §6.6's full-capacity rule (every option priced at the whole observed
capacity, phi_f = phi_b = 1); ``greedy`` is its cost-aware version (a server task asks for its
closed-form cost-optimal frequency instead); ``greedy_home`` is ``greedy`` restricted to one fixed
"home" server per user (a coordination convention, ours); ``greedy_joint`` prices each user's tasks
jointly, still ignoring the others, ``home_joint`` within ``greedy_home``'s convention and
``gain_joint`` with each user's best-gain server as its home (all ours, decentralised).
``best_response`` (centralised, ours) sees every user's tasks and brackets the optimum from above
at the default sizes, where the oracle cannot run. A certified lower bound on any policy's cost lives
in `algos.heuristics.dt_inference_bound`.

Every delay, energy and cost is the env's own: `task_delay_energy` (eqs. 1-3, U1-U2) and
`normalised_cost` (eq. 8, A8). The closed-form frequency and bandwidth optima (spec §3.2) take
their coefficients from those two functions evaluated at f = 1 Hz and at the even bandwidth split.
"""

from __future__ import annotations

import itertools
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from algos.heuristics.common import Policy
from jaxedge import spaces
from jaxedge.envs import dt_inference as dti
from jaxedge.physics import compute, tasks

ENV_NAME = "dt_inference"


def option_cost(cycles, bits, freq, bandwidth, gain, dist, power, offloaded, f_user, params):
    """The env's eq.-8 cost of one task run at ``freq`` (and sent over ``bandwidth`` if offloaded)."""
    kappa = jnp.where(offloaded, params.kappa_server, params.kappa_user)
    delay, energy, *_ = dti.task_delay_energy(
        cycles, bits, freq, bandwidth, gain, dist, power, kappa, offloaded, params
    )
    return dti.normalised_cost(delay, energy, cycles, f_user, params)


def frequency_coefficients(cycles, f_user, offloaded, params):
    """``(a, e)`` with the eq.-8 cost of computing the task at f equal to a / f + e f^2.

    Compute delay X / f and energy kappa f^2 X make that part of the cost linear in 1/f and f^2, so a
    and e are the env's cost of the compute delay and of the charged compute energy at f = 1 Hz.
    """
    kappa = jnp.where(offloaded, params.kappa_server, params.kappa_user)
    delay, energy, *_ = dti.task_delay_energy(
        cycles, 0.0, 1.0, 1.0, 1.0, params.d_ref, 1.0, kappa, offloaded, params
    )
    time_coef = dti.normalised_cost(delay, 0.0, cycles, f_user, params)
    energy_coef = dti.normalised_cost(0.0, energy, cycles, f_user, params)
    return time_coef, jnp.maximum(energy_coef, 1e-60)  # guard: uncharged server energy gives e = 0


def local(env: dti.DTInference) -> Policy:
    """All-local: every task on its own device, asking for the whole CPU (split evenly by C2)."""

    def policy(key, obs, state, params):
        shape = (env.n_users, env.n_tasks)
        return spaces.HybridAction(jnp.zeros(shape, jnp.int32), jnp.ones(shape + (2,)))

    return policy


def _server_option_costs(info, params, full_capacity=False):
    """Myopic eq.-8 cost of running each task on each server with no contention, and its frequency:
    the closed-form cost-optimal one (spec §3.2) or, with ``full_capacity``, the whole F_k (§6.6).

    Returns ``(cost[N, M], freq[N, M])`` for one agent from its decoded observation.
    """
    cycles, bits = info["cycles"][:, None], info["bits"][:, None]
    f_user, f_server = info["f_user"], info["f_server"][None, :]
    time_coef, energy_coef = frequency_coefficients(cycles, f_user, True, params)
    freq = compute.best_frequency(time_coef, energy_coef, f_server)  # spec §3.2
    freq = jnp.broadcast_to(f_server, freq.shape) if full_capacity else freq
    cost = option_cost(cycles, bits, freq, info["b_server"][None, :], info["gain"][None, :],
                       info["dist"][None, :], info["p_tx"], True, f_user, params)
    return cost, freq


def greedy(env: dti.DTInference, full_capacity: bool = False, home_only: bool = False) -> Policy:
    """Myopic greedy from the agent's own observation (spec §6.6, made cost-aware).

    Each agent walks through its tasks in order. Keeping a task local costs its eq.-8 cost with the
    CPU split evenly over the tasks kept local so far; sending it to server k costs the eq.-8 cost
    at that server's full bandwidth and the task's cost-optimal frequency (closed form, spec §3.2),
    ignoring every other agent. It takes the cheapest option and asks for phi_f = 1 locally (the
    even split) or phi_f = f*/F_k on a server, and phi_b = 1; the env's proportional projection
    then exposes the congestion the greedy ignored. ``full_capacity=True`` is `greedy_paper`;
    ``home_only=True`` is `greedy_home` (user i may offload only to server i mod M).
    """
    if not env.obs_include_channel:
        raise ValueError("dt_greedy needs obs_include_channel=True (it computes rates)")

    def agent(obs_i, user, params):
        info = env.physical_observation(obs_i, params)
        srv_cost, srv_freq = _server_option_costs(info, params, full_capacity)
        if home_only:
            srv_cost = jnp.where(jnp.arange(env.n_servers) == user % env.n_servers, srv_cost, jnp.inf)
        best_srv = jnp.argmin(srv_cost, axis=1)
        targets, phi_f = [], []
        n_local = jnp.zeros((), jnp.float32)
        for j in range(env.n_tasks):
            share = n_local + 1.0  # this task and the n_local before it split F_i evenly
            local_cost = option_cost(info["cycles"][j], info["bits"][j], info["f_user"] / share, 1.0, 1.0,
                                     params.d_ref, info["p_tx"], False, info["f_user"], params)
            go = srv_cost[j, best_srv[j]] < local_cost
            targets.append(jnp.where(go, best_srv[j] + 1, 0))
            phi_f.append(jnp.where(go, srv_freq[j, best_srv[j]] / info["f_server"][best_srv[j]], 1.0))
            n_local = n_local + jnp.where(go, 0.0, 1.0)
        phi = jnp.stack([jnp.stack(phi_f), jnp.ones(env.n_tasks)], axis=-1)
        return jnp.stack(targets).astype(jnp.int32), phi

    def policy(key, obs, state, params):
        target, phi = jax.vmap(agent, in_axes=(0, 0, None))(obs, jnp.arange(env.n_users), params)
        return spaces.HybridAction(target, phi)

    return policy


def greedy_home(env: dti.DTInference) -> Policy:
    """`greedy` with one fixed server per user, server i mod M (ours): a decentralised convention that
    spreads the offloaded tasks over the servers instead of piling them on the one every user finds
    cheapest. It measures what a static coordination, learnable by per-agent actors, is worth."""
    return greedy(env, home_only=True)


def greedy_paper(env: dti.DTInference) -> Policy:
    """Spec §6.6's greedy literally: each option priced assuming the whole observed capacity (f = F_k
    on a server, F_i split evenly over the tasks kept local so far, b = B_k); it asks for phi_f =
    phi_b = 1 and the env's proportional projection exposes the congestion."""
    return greedy(env, full_capacity=True)


def own_assignments(env: dti.DTInference, choices, rule: str, max_options: int = 50_000) -> jax.Array:
    """``int32[len(choices)^N, N]``: every assignment of one user's N tasks to ``choices``, which ``rule``
    scores one by one with the env (so their number is capped at ``max_options``)."""
    choices = tuple(choices)
    options = len(choices) ** env.n_tasks
    if options > max_options:
        raise ValueError(f"{rule} scores {len(choices)}^n_tasks = {options} options per user; limit {max_options}")
    return jnp.asarray(list(itertools.product(choices, repeat=env.n_tasks)), jnp.int32)


# a user's home server (0-based) under a decentralised convention: server i mod M (`greedy_home`'s), or
# its best channel this step (its own observation: a rule a server-equivariant actor can represent)
HOMES = {"index": lambda env, state, user: user % env.n_servers,
         "gain": lambda env, state, user: jnp.argmax(state.gain[user])}


def greedy_joint(env: dti.DTInference, home: str | None = None) -> Policy:
    """Decentralised (ours): each user picks the targets of all its tasks jointly: of the (M+1)^N
    assignments, the one with the least own eq.-12 cost when no other user offloads (`request_shares`),
    so the contention of its OWN tasks for a server and its battery is priced, which `greedy` ignores.
    With a ``home`` rule (`HOMES`), only local or the home server (2^N): `home_joint` (``"index"``),
    `gain_joint` (``"gain"``). A user reads only its own data (its observation; tested)."""
    assignments = own_assignments(env, (0, 1) if home else range(env.n_servers + 1), "dt_greedy_joint")
    if home not in (None, *HOMES):
        raise ValueError(f"unknown home rule {home!r}; valid: {', '.join(HOMES)}")

    def policy(key, obs, state, params):
        def pick(user):
            own = assignments * (HOMES[home](env, state, user) + 1) if home else assignments
            alone = jnp.zeros((len(own), env.n_users, env.n_tasks), jnp.int32).at[:, user].set(own)
            costs = jax.vmap(lambda target: user_costs(env, state, target, params)[user])(alone)
            return own[jnp.argmin(costs)]

        target = jax.vmap(pick)(jnp.arange(env.n_users))
        return spaces.HybridAction(target, request_shares(env, state, target, params))

    return policy


def home_joint(env: dti.DTInference) -> Policy:
    """`greedy_joint` within `greedy_home`'s convention (ours): user i offloads only to server i mod M and
    chooses which of its tasks to send there jointly."""
    return greedy_joint(env, home="index")


def allocation(env: dti.DTInference, state, target, params):
    """Cost-optimal shares for fixed targets: KKT frequencies per node (exact, spec §3.2), sqrt bandwidth
    split (exact when the SNR does not depend on b, the total-noise presets; else at an even split)."""
    u, n, m = env.n_users, env.n_tasks, env.n_servers
    cycles, bits = tasks.medmnist_cycles_and_bits(state.task_type, params.cycles_per_flop, params.image_side)
    f_user = jnp.broadcast_to(state.f_user[:, None], (u, n))
    time_coef, local_e = frequency_coefficients(cycles, f_user, False, params)
    _, server_e = frequency_coefficients(cycles, f_user, True, params)

    local_f = jax.vmap(lambda cap, a, e, mk: compute.kkt_frequencies(a, e, cap, mk))(state.f_user, time_coef,
                                                                                     local_e, target == 0)

    def server_freqs(k, capacity):
        mask = (target == k).ravel()
        return compute.kkt_frequencies(time_coef.ravel(), server_e.ravel(), capacity, mask).reshape(u, n)

    servers = jnp.arange(1, m + 1)
    server_f = jax.vmap(server_freqs)(servers, state.f_server)
    freq = jnp.where(target == 0, local_f, server_f.sum(0))
    phi_f = jnp.where(target == 0, freq / state.f_user[:, None], freq / jnp.take(state.f_server, jnp.maximum(target - 1, 0)))

    def server_bw(k, capacity):
        # Uplink cost is w_j / b_j: w_j = b x (eq.-8 cost of the upload at b), at the even split b.
        mask = target == k
        even = capacity / jnp.maximum(mask.sum(), 1)
        _, _, t_tr, e_tr, _ = dti.task_delay_energy(cycles, bits, 1.0, even, state.gain[:, k - 1][:, None],
                                                    state.dist[:, k - 1][:, None], state.p_tx[:, None],
                                                    params.kappa_server, True, params)
        weights = even * dti.normalised_cost(t_tr, e_tr, cycles, f_user, params)
        return compute.sqrt_bandwidth_split(weights.ravel(), capacity, mask.ravel()).reshape(u, n)

    bw = jax.vmap(server_bw)(servers, state.b_server).sum(0)
    phi_b = jnp.where(target == 0, 1.0, bw / jnp.take(state.b_server, jnp.maximum(target - 1, 0)))
    return jnp.stack([phi_f, phi_b], axis=-1)


def request_shares(env: dti.DTInference, state, target, params):
    """`greedy`'s requests for ``target`` from the true state: on a server phi_f = f* / F_k (the closed-form
    cost-optimal frequency, spec §3.2), locally phi_f = 1 (the even split); phi_b = 1."""
    cycles, _ = tasks.medmnist_cycles_and_bits(state.task_type, params.cycles_per_flop, params.image_side)
    time_coef, energy_coef = frequency_coefficients(cycles, state.f_user[:, None], True, params)
    capacity = jnp.take(state.f_server, jnp.maximum(target - 1, 0))
    phi_f = jnp.where(target > 0, compute.best_frequency(time_coef, energy_coef, capacity) / capacity, 1.0)
    return jnp.stack([phi_f, jnp.ones_like(phi_f)], axis=-1)


def _step_rewards(env: dti.DTInference, state, target, shares, params):
    """Every user's eq.-12 reward of one step with the given action (no fading draw: the step's state)."""
    draws = dti.StepDraws(task_type=state.task_type, fading=jnp.ones_like(state.gain),
                          twin_eps=jnp.zeros((4, env.n_users, env.n_tasks)))
    return env.transition(state, spaces.HybridAction(target, shares), draws, params)[2]


def user_costs(env: dti.DTInference, state, target, params):
    """Every user's own eq.-12 cost of one step with ``target`` and `request_shares` (what a user in
    `best_response` minimises)."""
    return -_step_rewards(env, state, target, request_shares(env, state, target, params), params)


def best_response(env: dti.DTInference, rounds: int = 2, max_options: int = 50_000) -> Policy:
    """Centralised, full information (ours): from `greedy`'s targets, each user in turn replaces the
    targets of all its tasks by the joint choice ((M+1)^N options) that minimises its OWN eq.-12 cost
    given every other user's current targets, shares by `request_shares`; ``rounds`` passes. An
    achievable cost priced by the env, so bound <= optimum <= best_response: it brackets the
    optimum from above at sizes the oracle cannot enumerate. At a fixed point no user lowers its own
    cost by changing its targets alone (a pure Nash equilibrium of the users' own costs)."""
    own_options = own_assignments(env, range(env.n_servers + 1), "dt_best_response", max_options)
    start = greedy(env)

    def policy(key, obs, state, params):
        def own_cost(target, user):
            return user_costs(env, state, target, params)[user]

        def respond(target, user):
            candidates = jnp.broadcast_to(target, (len(own_options),) + target.shape).at[:, user, :].set(own_options)
            costs = jax.vmap(own_cost, in_axes=(0, None))(candidates, user)
            best = jnp.argmin(costs)
            better = costs[best] < own_cost(target, user) * (1.0 - 1e-6)
            return jnp.where(better, candidates[best], target), None

        target = start(key, obs, state, params).discrete
        for _ in range(rounds):
            target = jax.lax.scan(respond, target, jnp.arange(env.n_users))[0]
        return spaces.HybridAction(target, request_shares(env, state, target, params))

    return policy


def oracle(env: dti.DTInference, max_assignments: int = 200_000) -> Policy:
    """Per-step exhaustive oracle for tiny instances (spec §6.6): every joint target assignment,
    each with its cost-optimal allocation, scored by the env's own transition; returns the best."""
    count = (env.n_servers + 1) ** (env.n_users * env.n_tasks)
    if count > max_assignments:
        raise ValueError(f"dt_oracle enumerates (n_servers+1)^(n_users*n_tasks) = {count} assignments; "
                         f"limit {max_assignments}: use a tiny instance")
    grid = np.array(list(itertools.product(range(env.n_servers + 1), repeat=env.n_users * env.n_tasks)))
    all_targets = jnp.asarray(grid.reshape(-1, env.n_users, env.n_tasks), jnp.int32)

    def policy(key, obs, state, params):
        def score(target):
            shares = allocation(env, state, target, params)
            return _step_rewards(env, state, target, shares, params).sum(), shares

        totals, shares = jax.lax.map(score, all_targets, batch_size=256)
        best = jnp.argmax(totals)
        return spaces.HybridAction(all_targets[best], shares[best])

    return policy


HEURISTICS = {"local": local, "greedy": greedy, "greedy_paper": greedy_paper, "greedy_home": greedy_home,
              "greedy_joint": greedy_joint, "home_joint": home_joint, "gain_joint": partial(greedy_joint, home="gain"),
              "best_response": best_response, "oracle": oracle}
DEFAULT_EVAL = ("random", "local", "greedy", "greedy_paper")
