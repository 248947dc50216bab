"""Pieces shared by learners.

* `networks`: MLP, structured and dueling heads, attention / transformer-encoder blocks (optional
  key-padding masks), patch convolutions, per-agent stacked parameters (`init_per_agent`,
  `per_agent`), soft updates, schedules.
* `twin`: per-agent conditional-GAN digital twins: training on a replay buffer with running
  statistics, prediction, the platform's twin step, rollouts (seed 000 §5.6-§5.7).
* `twin_pool`: the eq. 23 DT experience pool, its selection and the insertion into synthetic buffers.
* `federated`: personalised federated aggregation (eqs. 24-25), FedAvg, a learner's FL round.
* `actions`: `ActionSpec` (policy heads for Discrete / MultiDiscrete / Hybrid spaces: Gumbel-softmax
  straight-through one-hots, eps_min-floored sigmoid or tanh shares) and `DiscretisedActions` (DQN).
* `replay`: fixed-capacity ring buffer living in the scan state, memory checked at config time.
* `training`: the chunked driver (`build_train`: ``train(key, hp)``, ``train.init``,
  ``train.train_chunk``), traced hyperparameters, batched env stepping with the final global state.
* `evaluation`: deterministic rollouts over many envs -> the env's physical metrics.
"""
