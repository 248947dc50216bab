"""Observation layouts the structured actors and critics read, derived from an env's named parts.

Convention (`jaxedge.spaces.ObsPart.role`):

* ``role="head"``: a part of shape ``(n_heads, width)`` holds one block of ``width`` features per
  discrete action head (e.g. per task). At most one per env; `head_obs_layout` gives its
  ``(offset, width)``.
* ``role="option"``: a part of shape ``(n_options,)`` holds one column per non-zero discrete option
  (option k >= 1 = server k). `option_obs_offsets` gives their offsets in part order.

Envs without such parts give ``None`` (learners fall back to plain MLPs).
"""

from __future__ import annotations


def head_obs_layout(env) -> tuple[int, int] | None:
    """``(offset, width)`` of the env's per-head observation part, or ``None`` when it has none."""
    heads = [p for p in env.observation_parts if p.role == "head"]
    if not heads:
        return None
    if len(heads) > 1:
        raise ValueError(f"{type(env).__name__} declares {len(heads)} 'head' observation parts; at most one")
    return env.obs_offsets[heads[0].name][0], heads[0].shape[1]


def option_obs_offsets(env) -> tuple[int, ...] | None:
    """Offsets of the env's per-option observation parts (one column per non-zero discrete option), or
    ``None`` when it has none."""
    offsets = env.obs_offsets
    cols = tuple(offsets[p.name][0] for p in env.observation_parts if p.role == "option")
    return cols or None
