"""DDPG: seed 002's DDPG baseline (spec §6, A22; the paper's ref. 22, Ren & Xu 2021).

Independent DDPG per vehicle inside the same framework as DT-MADDPG: the same actor and hybrid
head, the same sequential digital-twin observations and decoding, the same shared reward and
hyperparameters, but each critic is ``Q_i(o_i, a_i)`` on the vehicle's own observation and action
only -- no centralised critic, which is what the paper's comparison isolates. It is
`algos.dt_maddpg` with ``critic_scope="local"``.
"""

from __future__ import annotations

import dataclasses

from algos import dt_maddpg

TRACED = dt_maddpg.TRACED
ACTION_SPACES = dt_maddpg.ACTION_SPACES
ENVS = dt_maddpg.ENVS


@dataclasses.dataclass(frozen=True)
class Config(dt_maddpg.Config):
    critic_scope: str = "local"
    critic_arch: str = "mlp"
    critic_state: str = "none"


make_train = dt_maddpg.make_train
