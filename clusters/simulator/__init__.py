"""The fleet simulator: dumps (and later generated scenarios) served over the real Kubernetes
REST API, one path prefix per cluster, with per-cluster fault injection.

``Simulator`` (server.py) is the entry point; ``kubeconfig.py`` writes the kubeconfig and
``fleet.yaml`` that point clients at it; ``cli.main`` runs it from the command line.
"""

from clusters.simulator.cli import main
from clusters.simulator.server import Simulator

__all__ = ["Simulator", "main"]
