"""One module per seed scenario; each defines ``Params``, ``State`` and an env class."""
