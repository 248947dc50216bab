"""The one command-line vocabulary of jaxedge, shared by scripts/train.py, scripts/evaluate.py and
every benchmark: ``--env``, ``--size NAME=INT``, ``--preset``, ``--set KEY=VALUE``,
``--sweep KEY=V1,V2``, ``--seeds``. Bad input raises `UsageError` with a one-line message; `main`
prints it as ``PROG: error: ...`` and exits 2 (no traceback, no usage dump).
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import itertools
import math
import sys
import types
import typing
from typing import Callable, Sequence

import jaxedge


class UsageError(Exception):
    """A bad command line: reported as one line."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are `UsageError` (one line, no usage dump)."""

    def error(self, message):
        raise UsageError(message)


def main(run: Callable, parser: argparse.ArgumentParser, argv=None) -> int:
    """Parse ``argv`` and call ``run(args)``; a `UsageError` (or a ``ValueError`` from a Config /
    env check) becomes one line on stderr and exit status 2."""
    prog = parser.prog
    try:
        run(parser.parse_args(argv))
    except UsageError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    return 0


# ---- env ------------------------------------------------------------------------------------------
def add_env_args(ap: argparse.ArgumentParser, default_env: str | None = "dt_inference") -> None:
    ap.add_argument("--env", default=default_env, help=f"one of {jaxedge.list_envs()}")
    ap.add_argument("--size", action="append", default=[], metavar="NAME=INT",
                    help="static env size, e.g. --size n_users=4 or --size action_mode=coarse (repeatable)")
    ap.add_argument("--preset", default=None, help="Params preset of the env (e.g. calibrated, paper); "
                                                   "sized by the --size values")


def parse_sizes(items: Sequence[str]) -> dict:
    """``{name: value}`` of ``--size NAME=VALUE`` items: ints, or words for the env's static modes
    (e.g. ``--size action_mode=coarse``); the env checks each against its field."""
    sizes = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UsageError(f"--size expects NAME=INT (or NAME=WORD for a mode), got {item!r}")
        try:
            sizes[name] = int(value)
        except ValueError:
            sizes[name] = {"true": True, "false": False}.get(value.lower(), value)
    return sizes


def make_env(name: str, size_items: Sequence[str] = (), preset: str | None = None):
    """``(env, params)`` from the env flags; the preset receives the env's static sizes."""
    if name not in jaxedge.list_envs():
        raise UsageError(f"unknown env {name!r}; choose one of {jaxedge.list_envs()}")
    try:
        env = jaxedge.make(name, **parse_sizes(size_items))
        return env, env.make_params(preset)
    except ValueError as err:
        raise UsageError(str(err)) from None


# ---- learner config -------------------------------------------------------------------------------
def add_config_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="Config field (repeatable); lists as comma lists (64,64), empty for ()")
    ap.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                    help="traced hyperparameter values, a grid over every --sweep (repeatable)")
    ap.add_argument("--seeds", default="1", help="number of seeds N (runs seeds 0..N-1) or a comma list")
    ap.add_argument("--total-steps", type=int, default=None, help="env steps per run (all parallel envs)")
    ap.add_argument("--num-envs", type=int, default=None, help="parallel envs per run")


def _scalar(kind, text: str):
    if kind is bool:
        if text.lower() in ("1", "true", "yes"):
            return True
        if text.lower() in ("0", "false", "no"):
            return False
        raise ValueError
    if kind is int:
        value = float(text)
        if not value.is_integer():
            raise ValueError
        return int(value)
    if kind is float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError
        return value
    return kind(text)


def _describe(hint) -> str:
    name = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
    return "float (finite)" if name == "float" else name


def parse_value(key: str, text: str, hint):
    """``text`` as the field type ``hint`` (int, float, bool, str, Sequence[int|float], Optional[...])."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    try:
        if origin in (typing.Union, types.UnionType) and type(None) in args:
            if text.lower() in ("none", "null"):
                return None
            (inner,) = [a for a in args if a is not type(None)]
            return parse_value(key, text, inner)
        if origin in (collections.abc.Sequence, list, tuple) or hint in (list, tuple):
            item = args[0] if args else float
            return tuple(_scalar(item, v.strip()) for v in text.split(",") if v.strip())
        return _scalar(hint, text)
    except (ValueError, TypeError):
        raise UsageError(f"config key {key} expects {_describe(hint)}, got {text!r}") from None


def _key_value(item: str, flag: str, form: str, valid, what: str) -> tuple[str, str]:
    """``KEY=VALUE`` of a ``--set`` / ``--sweep`` item, with KEY in ``valid``."""
    key, sep, value = item.partition("=")
    if not sep:
        raise UsageError(f"{flag} expects {form}, got {item!r}")
    if key not in valid:
        raise UsageError(f"{what.format(key=key)}: {', '.join(valid)}")
    return key, value


def parse_config(config_cls, set_items: Sequence[str] = (), total_steps: int | None = None,
                 num_envs: int | None = None):
    """A ``Config`` from ``--set`` items (and the run-size shortcuts); checked by its ``__post_init__``."""
    hints = typing.get_type_hints(config_cls)
    fields = sorted(f.name for f in dataclasses.fields(config_cls))
    overrides = {}
    for item in set_items:
        key, value = _key_value(item, "--set", "KEY=VALUE", fields, "unknown config key {key!r}; valid keys")
        overrides[key] = parse_value(key, value, hints[key])
    if total_steps is not None:
        overrides["total_env_steps"] = total_steps
    if num_envs is not None:
        overrides["num_envs"] = num_envs
    try:
        return config_cls(**overrides)
    except ValueError as err:
        raise UsageError(str(err)) from None


def parse_sweep(items: Sequence[str], traced: Sequence[str]) -> dict:
    """``{key: [values]}`` from ``--sweep KEY=V1,V2`` items; only traced hyperparameters."""
    sweep = {}
    for item in items:
        key, values = _key_value(item, "--sweep", "KEY=V1,V2,...", list(traced),
                                 "cannot sweep {key!r} without recompiling; sweepable keys")
        try:
            parsed = [float(v) for v in values.split(",") if v.strip()]
            if not all(math.isfinite(v) for v in parsed):
                raise ValueError
        except ValueError:
            raise UsageError(f"--sweep {key} expects numbers (finite), got {values!r}") from None
        if not parsed:
            raise UsageError(f"--sweep {key} needs at least one value, got {values!r}")
        sweep[key] = parsed
    return sweep


def parse_seeds(text: str) -> list[int]:
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
            if not seeds:
                raise ValueError
            return seeds
        count = int(text)
    except ValueError:
        raise UsageError(f"--seeds expects a count or a comma list of ints, got {text!r}") from None
    if count < 1:
        raise UsageError(f"--seeds must be >= 1, got {count}")
    return list(range(count))


def check_output_dir(path, flag: str = "--out") -> None:
    """Refuse an output directory that is a file or lies under one (one line, before any work)."""
    from pathlib import Path

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file, not a directory")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"{flag} {path}: {parent} is a file, not a directory")


def check_output_file(path, flag: str) -> None:
    """Refuse an output file path that is a directory or lies under a file."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory, not a file")
    check_output_dir(path.parent, flag=f"{flag} {path}:")


def runs_grid(seeds: Sequence[int], sweep: dict) -> list[dict]:
    """Runs = sweep grid x seeds, each ``{"run", "seed", "label", **values}`` (one vmapped row each)."""
    grid = [dict(zip(sweep, combo)) for combo in itertools.product(*sweep.values())] or [{}]
    runs = []
    for values in grid:
        label = ", ".join(f"{k}={v:g}" for k, v in values.items())
        for seed in seeds:
            runs.append({"run": len(runs), "seed": seed, "label": label, **values})
    return runs
