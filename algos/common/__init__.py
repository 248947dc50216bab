"""Pieces shared by learners: evaluation, networks, replay, federated averaging."""
