"""Runbook tools: one module per tool or small group, and the explicit registry.

Diagnostic tools read the incident's evidence (and the cluster source for current state) and
return an :class:`~engine.tools.base.Observation`. Remediation tools return a
:class:`~engine.tools.base.Plan` that ``engine.workflow`` applies through a
:class:`~engine.writer.ClusterWriter` only in ``auto`` mode. Adding a tool: a module, a test, and
one line below.
"""

from __future__ import annotations

from engine.tools.base import Observation, Plan, Refused, Satisfied, Tool, ToolContext
from engine.tools.images import IMAGE_PULL_CHECK, PATCH_IMAGE
from engine.tools.manual import ADVISE, CREATE_MISSING_OBJECT
from engine.tools.memory import OOM_CHECK, RAISE_MEMORY_LIMIT
from engine.tools.nodes import CORDON, DRAIN, NODE_CONDITIONS, NODE_READY, UNCORDON
from engine.tools.pods import LOGS, POD_EVENTS, RUNBOOK_PARAMS
from engine.tools.rollout import ROLLBACK, ROLLOUT_HISTORY
from engine.tools.workloads import DELETE_POD, SCALE, WORKLOAD_STATUS

__all__ = ["REGISTRY", "Observation", "Plan", "Refused", "Satisfied", "Tool", "ToolContext"]

REGISTRY: dict[str, Tool] = {t.name: t for t in [
    # diagnostic
    POD_EVENTS,
    IMAGE_PULL_CHECK,
    OOM_CHECK,
    NODE_READY,
    NODE_CONDITIONS,
    ROLLOUT_HISTORY,
    WORKLOAD_STATUS,
    LOGS,
    RUNBOOK_PARAMS,
    # remediation
    ROLLBACK,
    PATCH_IMAGE,
    RAISE_MEMORY_LIMIT,
    DELETE_POD,
    CORDON,
    UNCORDON,
    DRAIN,
    SCALE,
    # a person acts
    CREATE_MISSING_OBJECT,
    ADVISE,
]}
