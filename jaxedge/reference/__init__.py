"""Loop-based NumPy reference implementations (test oracles and speed baselines)."""
