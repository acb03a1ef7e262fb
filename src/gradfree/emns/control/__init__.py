"""EMNS for reinforcement learning and control: :class:`PolicySearch` on gymnasium environments
(the ask/tell engine, batched episodes, shared observation normalisation, workers holding replicas)."""

from gradfree.emns.control.search import PolicySearch

__all__ = ["PolicySearch"]
