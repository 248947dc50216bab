"""What every env's heuristics share: the policy type and the uniform-random baseline."""

from __future__ import annotations

from typing import Callable

Policy = Callable[..., object]
"""``policy(key, obs, state, params) -> action`` for a single env (vmap it for a batch)."""


def random_policy(env) -> Policy:
    """Uniform over the action space."""

    def policy(key, obs, state, params):
        return env.action_space(params).sample(key)

    return policy
