"""Pieces shared by learners, each a small module with its own tests.

* `training`: the typed contract — `RunConfig` / `OffPolicyConfig` (the base of every learner's
  ``Config``), `schedule` -> `Sizes`, `Trainer` (``init``, ``train_chunk``, ``act``, sizes, traced
  hyperparameter defaults, `ReplaySpec`) built by `make_trainer`; batched env stepping, `map_runs`.
* `runner`: drives a Trainer over seeds x sweep values chunk by chunk (progress, CSV, checkpoints,
  bit-exact resume) — used by scripts/train.py and the reproduction framework.
* `cli`: the one ``--env/--size/--preset/--set/--sweep/--seeds`` vocabulary and one-line errors.
* `checkpoint` (msgpack + JSON sidecar), `runlog` (metrics.csv, curves.png), `stats` (the one
  statistics helper: mean with a Student-t 95 % CI; one run has none).
* `networks`: MLP, structured and dueling heads, attention / transformer-encoder blocks (optional
  key-padding masks), patch convolutions, per-agent stacked parameters (`init_per_agent`,
  `per_agent`), soft updates, schedules.
* `obs_layout`: `head_obs_layout` / `option_obs_offsets` from the env's named observation parts.
* `actions`: `ActionSpec` (policy heads for Discrete / MultiDiscrete / Hybrid spaces: Gumbel-softmax
  straight-through one-hots, eps_min-floored sigmoid or tanh shares) and `DiscretisedActions` (DQN).
* `replay`: fixed-capacity ring buffer living in the scan state, memory checked at config time.
* `twin`: per-agent conditional-GAN digital twins: training on a replay buffer with running
  statistics, prediction, the platform's twin step, rollouts (seed 000 §5.6-§5.7).
* `twin_pool`: the eq. 23 DT experience pool, its selection and the insertion into synthetic buffers.
* `federated`: personalised federated aggregation (eqs. 24-25), FedAvg, a learner's FL round.
* `evaluation`: deterministic rollouts over many envs -> the env's physical metrics.
"""
