"""Seed 003 (`collab_edge`) heuristics: round robin, least loaded and the paper's greedy "OPT".

Workloads and service delays are the env's own (`workload`, `service_delays`: eqs. 2, 4 and
`physics.queues`); both granularities (per task, per slot) are handled, the slot mode walking the
slot's tasks in FCFS order and adding each choice to Qbef as the env will (eq. U2).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from algos.heuristics.common import Policy
from jaxedge.envs import collab_edge as ce
from jaxedge.physics import queues

ENV_NAME = "collab_edge"


def round_robin(env: ce.CollabEdge) -> Policy:
    """RR (spec §6): task k of the episode goes to ES k mod B; the pointer restarts each episode."""

    def policy(key, obs, state, params):
        shape = (1,) if env.per_task else (1, env.max_tasks)
        offsets = jnp.arange(shape[-1]).reshape(shape)
        return ((state.tasks_done + offsets) % env.n_servers).astype(jnp.int32)

    return policy


def _sequential(env: ce.CollabEdge, score) -> Policy:
    """Per task in arrival order, the ES minimising ``score(state, qbef, bits, cycles, params)[B]``.

    Reads the true backlog Q and this slot's earlier assignments Qbef from the state; in slot mode it
    walks the slot's tasks with a scan, adding each choice to Qbef as the env will (eq. U2).
    """

    def policy(key, obs, state, params):
        if env.per_task:
            cycles = ce.workload(params.density[state.task], state.bits)
            return jnp.argmin(score(state, state.qbef, state.bits, cycles, params))[None].astype(jnp.int32)

        def choose(qbef, task):
            bits, density, valid = task
            cycles = ce.workload(density, bits)
            b = jnp.argmin(score(state, qbef, bits, cycles, params))
            qbef = qbef + jnp.where((jnp.arange(env.n_servers) == b) & valid, cycles, 0.0)
            return qbef, b

        valid = jnp.arange(env.max_tasks) < state.n_tasks
        _, choice = jax.lax.scan(choose, state.qbef, (state.bits, params.density, valid))
        return choice[None].astype(jnp.int32)

    return policy


def least_loaded(env: ce.CollabEdge) -> Policy:
    """Least-loaded: the ES whose backlog (Q + Qbef) takes the least time to clear, (Q + Qbef) / f_b."""
    return _sequential(
        env, lambda state, qbef, bits, cycles, params: queues.fcfs_wait(state.queue, qbef, params.freq)
    )


def greedy_oracle(env: ce.CollabEdge) -> Policy:
    """The paper's "OPT" (spec §6, A11): per task, the ES with the least resulting service delay
    d/v_b + g/f_b + (Q_b + Qbef_b)/f_b given full knowledge of the queues. A greedy, not a bound."""
    return _sequential(
        env, lambda state, qbef, bits, cycles, params: ce.service_delays(bits, cycles, state.queue, qbef, params)
    )


HEURISTICS = {"round_robin": round_robin, "least_loaded": least_loaded, "greedy_oracle": greedy_oracle}
DEFAULT_EVAL = ("random", "round_robin", "least_loaded", "greedy_oracle")
