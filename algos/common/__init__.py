"""Pieces shared by learners.

* `networks`: MLP, dueling branching heads, per-agent stacked parameters, soft updates, schedules.
* `actions`: `ActionSpec` (policy heads for Discrete / MultiDiscrete / Hybrid spaces: Gumbel-softmax
  straight-through one-hots, eps_min-floored sigmoid or tanh shares) and `DiscretisedActions` (DQN).
* `replay`: fixed-capacity ring buffer living in the scan state, memory checked at config time.
* `training`: the chunked driver (`build_train`: ``train(key, hp)``, ``train.init``,
  ``train.train_chunk``), traced hyperparameters, batched env stepping with the final global state.
* `obs_layout`: `head_obs_layout` / `option_obs_offsets` from the env's named observation parts.
* `evaluation`: deterministic rollouts over many envs -> the env's physical metrics.
"""
