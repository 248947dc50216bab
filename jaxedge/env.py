"""The multi-agent environment contract shared by every jaxedge env.

An env is a frozen, hashable dataclass that holds only *static* configuration (anything that fixes an
array shape). Everything numeric lives in a `Params` pytree passed to every call, so sweeps over
scenario parameters are a `vmap`, not a recompile.

    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

* Agents are the leading array axis: ``obs: float32[n_agents, obs_dim]``, ``reward: float32[n_agents]``.
* ``terminated`` / ``truncated`` are per-env scalar booleans (all agents share an episode).
* `step` auto-resets: when the episode ends, the returned ``obs``/``state`` are those of a fresh
  episode; the last observation and state of the finished one are ``info["final_observation"]``
  and ``info["final_state"]`` (e.g. for a critic's ``global_state`` at a time-limit end).
* ``info["metrics"]`` holds the physical quantities of the step (delay, energy, cost, ...).

* The observation is declared once as ordered named parts (`observation_parts`, `spaces.ObsPart`):
  ``obs_dim``, `flatten_observation` (used by each env's ``observations``) and the generic
  `decode_observation` (flat rows -> ``{part name: array}``) derive from it.

Subclasses implement `reset_env`, `step_env`, `observation_space`, `action_space`,
`observation_parts`, `default_params`, `num_agents`, `global_state` and may extend
`validate_params`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
from typing import Any, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from jaxedge import prng, spaces


def _is_concrete(tree) -> bool:
    return not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(tree))


# ---- parameter checks: eager (raise) and traced (an error code in ``info["param_error"]``) -----------
INT32_MAX = 2**31 - 1
WINDOW = 1e6  # a float field must lie within WINDOW^-1 .. WINDOW times its default's magnitude
_COLLECT: contextvars.ContextVar = contextvars.ContextVar("jaxedge_param_checks", default=None)


def _field_kind(params, name: str) -> str:
    """``"bool"``, ``"int"`` or ``"float"``: the kind of a field's class default (else its value)."""
    ref = _reference(type(params)).get(name, getattr(params, name))
    dtype = np.dtype(getattr(ref, "dtype", None) or np.asarray(ref).dtype)
    return "bool" if dtype == bool else "int" if np.issubdtype(dtype, np.integer) else "float"


@functools.lru_cache(maxsize=None)
def _reference_cached(cls) -> dict:
    out = {}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            out[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            with jax.ensure_compile_time_eval():  # the first call may come from inside a trace
                out[field.name] = np.asarray(field.default_factory())
    return out


def _reference(cls) -> dict:
    """``{field: class default}`` of a ``Params`` class (fields without a default are absent)."""
    return _reference_cached(cls)


def _numeric_fields(params):
    return [f.name for f in dataclasses.fields(params) if f.metadata.get("pytree_node", True)]


def check_types(params) -> None:
    """Raise ``ValueError`` naming a field that the env cannot compute with: a list / tuple / string /
    None, a complex value, or an integer outside int32 (jax computes in int32 and float32)."""
    if not _is_concrete(params):
        return
    cls = type(params).__name__
    for name in _numeric_fields(params):
        value = getattr(params, name)
        if isinstance(value, (list, tuple)):
            raise ValueError(f"{cls}.{name} is a {type(value).__name__}; pass a number or an array "
                             f"(e.g. jnp.asarray({value!r}))")
        if isinstance(value, (bool, int, float, np.number, np.bool_, np.ndarray, jax.Array)):
            arr = np.asarray(value)
        else:
            raise ValueError(f"{cls}.{name} must be a number or an array, got {type(value).__name__} {value!r}")
        if not (arr.dtype == bool or np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise ValueError(f"{cls}.{name} must be a real number or array, got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.integer) and arr.size and (arr.max() > INT32_MAX or arr.min() < -INT32_MAX - 1):
            hint = f"; pass it as a float ({float(arr.max()):.3g})" if _field_kind(params, name) == "float" else ""
            raise ValueError(f"{cls}.{name} = {value!r} does not fit int32, the env's integer dtype{hint}")


def _as32(params, name, xp):
    """A field in the dtype the env computes in: float32 (ints and bools as their float32 value)."""
    return xp.asarray(getattr(params, name)).astype(np.float32) if xp is jnp else \
        np.asarray(getattr(params, name), np.float64).astype(np.float32)


def check_value(params, name: str, text: str, ok) -> None:
    """One check of field ``name``: ``ok(xp)`` -> bool array (``xp`` is ``np`` or ``jnp``).

    Concrete params: raise ``ValueError("Params.<name> <text>, got <value>")`` when any entry fails.
    Traced params: skipped, unless `param_error` is collecting the checks as a traced error code.
    """
    cls = type(params).__name__
    sink = _COLLECT.get()
    if sink is not None:
        sink.append((f"{cls}.{name} {text}", jnp.all(ok(jnp))))
        return
    if not _is_concrete(params):
        return
    with np.errstate(all="ignore"):
        good = bool(np.all(ok(np)))
    if not good:
        raise ValueError(f"{cls}.{name} {text}, got {np.asarray(getattr(params, name))}")


def _window(params, name: str, positive: bool, limits: dict):
    """``(lo, hi)`` allowed for a field, or None: the explicit ``limits`` entry, else for a float field
    with a default of magnitude m: |x| <= m WINDOW (and x >= m / WINDOW when it must be > 0); with a
    zero default |x| <= WINDOW."""
    if name in limits:
        return limits[name]
    if _field_kind(params, name) != "float" or name not in _reference(type(params)):
        return None
    m = float(np.max(np.abs(np.asarray(_reference(type(params))[name], np.float64)), initial=0.0))
    if m == 0:
        return (-WINDOW, WINDOW)
    return (m / WINDOW if positive else -m * WINDOW, m * WINDOW)


def check_params(
    params,
    *,
    positive: Iterable[str] = (),
    nonnegative: Iterable[str] = (),
    unit_interval: Iterable[str] = (),
    limits: dict | None = None,
) -> None:
    """Raise ``ValueError`` naming the first field that the env cannot compute with or that is out of
    its domain, judged in float32, the dtype the env computes in:

    * `check_types`: a number or array, integers within int32;
    * every field finite in float32 (1e39 is not);
    * the named groups: > 0, >= 0, in [0, 1];
    * every float field within its float32-safe range: ``limits[field] = (lo, hi)`` where given (None:
      unbounded), else within `WINDOW` (1e6) times its default's magnitude (see `_window`), so the
      physics cannot overflow float32.

    Traced params are skipped here; `MultiAgentEnv.param_error` evaluates the same checks traced.
    """
    check_types(params)
    positive, nonnegative, unit_interval = set(positive), set(nonnegative), set(unit_interval)
    limits = dict(limits or {})
    names = _numeric_fields(params)
    for name in names:
        check_value(params, name, "must be finite in float32", lambda xp, n=name: xp.isfinite(_as32(params, n, xp)))
    for name in names:
        if name in positive:
            check_value(params, name, "must be > 0", lambda xp, n=name: _as32(params, n, xp) > 0)
        if name in nonnegative:
            check_value(params, name, "must be >= 0", lambda xp, n=name: _as32(params, n, xp) >= 0)
        if name in unit_interval:
            check_value(params, name, "must be in [0, 1]",
                        lambda xp, n=name: (_as32(params, n, xp) >= 0) & (_as32(params, n, xp) <= 1))
    for name in names:
        window = _window(params, name, name in positive, limits)
        if window is None:
            continue
        lo, hi = window
        check_value(params, name, f"must be in [{lo:g}, {hi:g}] (its float32-safe range)",
                    lambda xp, n=name, lo=lo, hi=hi: (_as32(params, n, xp) >= lo) & (_as32(params, n, xp) <= hi))


def check_range_pair(params, low: str, high: str) -> None:
    """Raise if a ``(low, high)`` pair of params fields is inverted (traced: see `check_value`)."""
    check_value(params, low, f"must be <= {high} ({np.asarray(getattr(params, high)) if _is_concrete(params) else '?'})",
                lambda xp: _as32(params, low, xp) <= _as32(params, high, xp))


def param_checks(validate, params) -> list:
    """``[(message, ok)]`` of every check ``validate(params)`` makes, as traced booleans."""
    token = _COLLECT.set([])
    try:
        validate(params)
        return _COLLECT.get()
    finally:
        _COLLECT.reset(token)


def check_param_error(env, code, params=None) -> None:
    """Raise ``ValueError`` naming the field of the first nonzero ``info["param_error"]`` code (host side;
    ``code`` may carry batch axes, e.g. of a vmapped sweep over params)."""
    codes = np.asarray(jax.device_get(code)).reshape(-1)
    bad = codes[codes != 0]
    if bad.size:
        raise ValueError(f"{env.param_error_message(int(bad[0]), params)} (traced params: info['param_error'] = "
                         f"{int(bad[0])} in {int(bad.size)} of {codes.size} entries)")


def check_sizes(env, **sizes: int) -> None:
    """Raise ``ValueError`` for a zero or negative static size."""
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{type(env).__name__}.{name} must be a positive int, got {value!r}")


def check_action_shapes(space: spaces.Space, action: Any) -> None:
    """Raise ``ValueError`` when an action's array shapes do not match its space (trace time)."""
    expected = jax.eval_shape(space.sample, jax.random.PRNGKey(0))
    exp_leaves, exp_tree = jax.tree_util.tree_flatten(expected)
    try:
        leaves = exp_tree.flatten_up_to(action)
    except (ValueError, TypeError) as err:
        raise ValueError(f"action structure does not match {space}: {err}") from None
    for got, exp in zip(leaves, exp_leaves):
        got_shape = tuple(getattr(got, "shape", np.shape(got)))
        if got_shape != exp.shape:
            raise ValueError(
                f"action shape {got_shape} does not match {exp.shape} required by {space}"
            )


def coerce_action(action):
    """Integer actions given as NumPy / Python values are clipped to the int32 range before jax sees
    them (jax would wrap an int64 2**32 + 5 to 5, or raise on a Python int beyond int32); each env
    then clips them to its valid range by its documented rule."""
    def leaf(x):
        if isinstance(x, bool) or not isinstance(x, (int, np.integer, np.ndarray)):
            return x
        if isinstance(x, int) and abs(x) >= 2**63:
            return np.float32(x)  # beyond int64: a float, which the env's float rule clips
        arr = np.asarray(x)
        if arr.dtype.kind == "u" and arr.dtype.itemsize >= 4:
            return np.minimum(arr, INT32_MAX).astype(np.int32)
        if arr.dtype.kind == "i" and arr.dtype.itemsize > 4:
            return np.clip(arr, -INT32_MAX - 1, INT32_MAX).astype(np.int32)
        return x

    return jax.tree_util.tree_map(leaf, action)


class MultiAgentEnv:
    """Base class: auto-reset `step`, `reset`, and the hooks subclasses fill in."""

    name: str = "base"
    presets: tuple = ()  # names of the ``Params`` preset classmethods this env offers (`make_params`)

    # ---- to implement -------------------------------------------------------------------------
    @property
    def num_agents(self) -> int:
        raise NotImplementedError

    @property
    def default_params(self):
        raise NotImplementedError

    def reset_env(self, key, params):
        raise NotImplementedError

    def step_env(self, key, state, action, params):
        """One transition without auto-reset: ``obs, state, reward, terminated, truncated, info``."""
        raise NotImplementedError

    def observation_space(self, params) -> spaces.Space:
        raise NotImplementedError

    def action_space(self, params) -> spaces.Space:
        raise NotImplementedError

    def global_state(self, state, params) -> jax.Array:
        """Centralised-critic input for one env: a flat ``float32`` vector."""
        raise NotImplementedError

    @property
    def observation_parts(self) -> tuple[spaces.ObsPart, ...]:
        """Each agent's observation as ordered named parts (static: sizes fix them); the flat
        ``obs_dim``, `decode_observation` and `flatten_observation` all derive from it."""
        raise NotImplementedError

    def preset_params(self, name: str):
        """``Params`` of preset ``name`` at this env's static sizes. Envs whose presets depend on a
        static size (per-server arrays, capped counts) override this to pass them."""
        return getattr(type(self.default_params), name)()

    def make_params(self, preset: str | None = None):
        """The ``Params`` of a named preset (``None``: `default_params`), sized for this env."""
        if preset is None:
            return self.default_params
        if preset not in self.presets:
            raise ValueError(f"unknown preset {preset!r} for {self.name}; choose one of {list(self.presets)}")
        return self.preset_params(preset)

    def validate_params(self, params) -> None:
        """Raise ``ValueError`` naming the offending field; no-op for traced params (`param_error`)."""
        check_params(params)

    def param_error(self, params) -> jax.Array:
        """``int32`` 0 when ``params`` pass every check of `validate_params`, else 1 + the index of the
        first failing one (`param_error_message`): the jit / vmap-safe form of the eager checks, which
        `step` returns as ``info["param_error"]``."""
        if _is_concrete(params):
            return jnp.zeros((), jnp.int32)
        checks = param_checks(self.validate_params, params)
        if not checks:
            return jnp.zeros((), jnp.int32)
        ok = jnp.stack([c for _, c in checks])
        return jnp.where(jnp.all(ok), 0, jnp.argmin(ok) + 1).astype(jnp.int32)

    def param_error_message(self, code: int, params=None) -> str:
        """The check behind a nonzero `param_error` code, e.g. ``"Params.kappa_user must be > 0"``."""
        params = self.default_params if params is None else params
        messages = []
        jax.eval_shape(lambda p: messages.extend(m for m, _ in param_checks(self.validate_params, p)), params)
        return messages[code - 1] if 0 < code <= len(messages) else f"unknown param_error code {code}"

    # ---- provided ------------------------------------------------------------------------------
    @property
    def obs_dim(self) -> int:
        """Length of one agent's flat observation (the sum of the parts' sizes)."""
        return spaces.obs_size(self.observation_parts)

    @property
    def obs_offsets(self) -> dict:
        """``{part name: (offset, size)}`` in the flat observation."""
        return spaces.part_offsets(self.observation_parts)

    def flatten_observation(self, values, lead=None) -> jax.Array:
        """``{part name: array}`` -> ``float32[*lead, obs_dim]`` in part order; ``lead`` defaults to
        ``(num_agents,)`` and each value is broadcast to ``lead + part.shape``."""
        lead = (self.num_agents,) if lead is None else lead
        return spaces.flatten_parts(self.observation_parts, values, lead)

    def decode_observation(self, obs: jax.Array) -> dict:
        """Flat observation rows ``[..., obs_dim]`` -> ``{part name: [..., *part.shape]}`` (the
        scaled values the agent sees; `flatten_observation` inverts it)."""
        return spaces.unflatten_parts(self.observation_parts, obs)

    def render(self, state, params=None, action=None, fig=None):
        """A matplotlib Figure of one env's ``state`` (and ``action``'s targets): `jaxedge.render`."""
        from jaxedge import render

        return render.render(self, state, self.default_params if params is None else params, action, fig)

    def reset(self, key: jax.Array, params=None):
        params = self.default_params if params is None else params
        self.validate_params(params)
        return self.reset_env(key, params)

    def step(self, key: jax.Array, state, action, params=None):
        params = self.default_params if params is None else params
        self.validate_params(params)
        action = coerce_action(action)
        check_action_shapes(self.action_space(params), action)
        key_step, key_reset = prng.split(key)
        obs_st, state_st, reward, terminated, truncated, info = self.step_env(
            key_step, state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        obs_re, state_re = self.reset_env(key_reset, params)
        state = jax.tree_util.tree_map(lambda r, s: jnp.where(done, r, s), state_re, state_st)
        obs = jnp.where(done, obs_re, obs_st)
        info = dict(info)
        info["param_error"] = self.param_error(params)
        info["final_observation"] = obs_st
        info["final_state"] = state_st
        return obs, state, reward, terminated, truncated, info
