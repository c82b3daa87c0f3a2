"""What a runbook tool is, what it sees and what it returns.

A tool is one function ``run(ctx, args)`` plus its declared arguments and outputs, registered in
``engine.tools.REGISTRY``. Diagnostic tools return an :class:`Observation` (a sentence and named
outputs later steps may gate on). Remediation tools (``mutates=True``) never change anything
themselves: they return a :class:`Plan` — the exact action, the ``kubectl`` command a person would
run, and an ``apply(writer)`` that the workflow calls only in ``auto`` mode. A tool that must not
act (a bare pod, a node that is not healthy, a limit already at the cap) raises :class:`Refused`
with the reason, or :class:`Satisfied` when its goal already holds (a node already cordoned);
any other exception is recorded as a failed step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.kubectl import kubectl
from engine.report import Report, Subject
from engine.sources import ClusterSource
from engine.writer import ClusterWriter

__all__ = ["EvidenceRows", "Observation", "Plan", "Refused", "Satisfied", "Tool", "ToolContext", "need"]


class EvidenceRows(Protocol):
    """What tools read of the incident's evidence (``engine.evidence_query.IncidentEvidence``)."""

    def rows(self, table: str) -> list[dict[str, Any]]: ...


class Refused(Exception):
    """The tool will not do this (the reason is the message); retrying does not help."""


class Satisfied(Exception):
    """Nothing to do: what the step would achieve already holds (the message says what)."""


@dataclass
class Observation:
    result: str
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """A proposed mutation: what, on which object, the kubectl equivalent and how to apply it."""

    action: str
    command: str
    target: str
    apply: Callable[[ClusterWriter], str] | None
    outputs: dict[str, Any] = field(default_factory=dict)
    manual: str = ""  # why it can never run automatically (when ``apply`` is None)


@dataclass
class ToolContext:
    """The incident as the tools see it: the report, its evidence, the runbook's params, and
    (optionally) the cluster source for current object state. Never a writer: tools plan."""

    report: Report
    evidence: EvidenceRows
    params: dict[str, Any] = field(default_factory=dict)
    source: ClusterSource | None = None

    @property
    def subject(self) -> Subject:
        return self.report.root_cause.subject

    @property
    def cluster(self) -> str:
        return self.subject.cluster

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The evidence rows of the subject's cluster."""
        return [r for r in self.evidence.rows(table) if (r.get("cluster") or self.cluster) == self.cluster]

    def kubectl(self, args: str, namespace: str | None = None) -> str:
        s = Subject(kind=self.subject.kind, namespace=namespace, name=self.subject.name, cluster=self.cluster)
        return kubectl(s, args, namespaced=namespace is not None)

    def need_source(self, why: str) -> ClusterSource:
        if self.source is None:
            raise Refused(f"no cluster source to read {why} from")
        return self.source


Run = Callable[[ToolContext, dict[str, Any]], "Observation | Plan"]


@dataclass(frozen=True)
class Tool:
    name: str
    summary: str
    run: Run
    mutates: bool = False
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    manual: bool = False  # a person must act (values to supply, a judgement): never automatic

    @property
    def args(self) -> tuple[str, ...]:
        return self.required + self.optional


def need(args: dict[str, Any], name: str) -> Any:
    """A required argument's value; Refused when it rendered empty (a fact the evidence lacked)."""
    value = args.get(name)
    if value is None or value == "" or value == []:
        raise Refused(f"argument {name!r} is empty: the evidence did not provide it")
    return value
