"""Pieces shared by learners, each a small module with its own tests.

* `training`: the typed contract — `RunConfig` / `OffPolicyConfig` (the base of every learner's
  ``Config``), `schedule` -> `Sizes`, `Trainer` (``init``, ``train_chunk``, ``act``, sizes, traced
  hyperparameter defaults, `ReplaySpec`) built by `make_trainer`; batched env stepping, `map_runs`.
* `runner`: drives a Trainer over seeds x sweep values chunk by chunk (progress, CSV, checkpoints,
  bit-exact resume) — used by scripts/train.py and the reproduction framework.
* `cli`: the one ``--env/--size/--preset/--set/--sweep/--seeds`` vocabulary and one-line errors.
* `checkpoint` (msgpack + JSON sidecar), `runlog` (metrics.csv, curves.png), `stats` (the one
  statistics helper: mean with a Student-t 95 % CI; one run has none).
* `networks`: MLP, dueling and structured heads, soft updates, schedules.
* `actions`: `ActionSpec` (policy heads for Discrete / MultiDiscrete / Hybrid spaces) and
  `DiscretisedActions` (DQN).
* `replay`: fixed-capacity ring buffer living in the scan state, memory checked at config time.
* `obs_layout`: `head_obs_layout` / `option_obs_offsets` from the env's named observation parts.
* `evaluation`: deterministic rollouts over many envs -> the env's physical metrics.
* `federated`, `twin_pool`: FedAvg / personalised FL and the eq. 23 digital-twin experience pool.
"""
