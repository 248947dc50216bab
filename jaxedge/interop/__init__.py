"""Adapters that let other RL frameworks use jaxedge envs with no glue beyond construction.

* `jaxedge.interop.jaxmarl`: ``JaxMARLAdapter(env, params)``, JaxMARL's ``MultiAgentEnv`` API;
* `jaxedge.interop.gymnasium`: ``JaxEdgeEnv`` / ``JaxEdgeVectorEnv`` and the ``jaxedge/...-v0`` ids;
* `jaxedge.interop.pettingzoo`: ``JaxEdgeParallelEnv``, a PettingZoo ``ParallelEnv``;
* `jaxedge.interop.gymnax`: ``GymnaxAdapter(env)``, a gymnax ``Environment`` with gymnax spaces.

The frameworks are optional (``pip install -e ".[interop]"``); each module imports its own.
"""
