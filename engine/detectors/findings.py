"""Findings and their evidence items: the shapes every detector returns, and the confidence helpers.

``DetectorFinding`` is a :class:`Finding` plus ``facts`` (the image, the memory limit, the pods, the
dependency...) that triggers and recommendations need. ``Hits`` gathers a detector's signals per
subject and turns them into one finding per subject, adding 0.03 of confidence per further kind of
corroborating signal (at most three).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.detectors.base import Finding
from engine.report import EvidenceItem, Subject

__all__ = [
    "DetectorFinding",
    "Hits",
    "clamp",
    "container_source",
    "corroborate",
    "event_item",
    "log_item",
    "ref",
    "registry_of",
    "resources_item",
    "status_item",
]


@dataclass
class DetectorFinding(Finding):
    """A Finding with the structured facts recommendations and triggers need (image, limit, pods...)."""

    facts: dict[str, Any] = field(default_factory=dict)


def clamp(x: float) -> float:
    return round(min(0.99, max(0.0, x)), 2)


def corroborate(base: float, n: int) -> float:
    return clamp(base + 0.03 * min(max(n, 0), 3))


# -- evidence items -------------------------------------------------------------------------------
def event_item(e: dict[str, Any]) -> EvidenceItem:
    kind = (e.get("object_kind") or "object").lower()
    count = e.get("count") or 1
    times = f" (x{count})" if count > 1 else ""
    return EvidenceItem(
        kind="event",
        cluster=e.get("cluster") or "",
        source=f"{kind}/{e.get('namespace') + '/' if e.get('namespace') else ''}{e.get('object_name')}",
        text=f"{e.get('type') or ''} {e.get('reason') or ''}: {e.get('msg') or ''}{times}".strip(),
        at=e.get("last_seen") or e.get("first_seen"),
    )


def log_item(row: dict[str, Any]) -> EvidenceItem:
    prev = ", previous" if row.get("previous") else ""
    return EvidenceItem(
        kind="log",
        cluster=row.get("cluster") or "",
        source=f"pod/{row.get('namespace')}/{row.get('pod')} ({row.get('container')}{prev})",
        text=(row.get("line") or "")[:500],
        at=row.get("ts"),
    )


def status_item(c: dict[str, Any]) -> EvidenceItem:
    parts = [f"state {c.get('state') or 'unknown'}"]
    if c.get("reason"):
        parts[0] += f" {c['reason']}"
    if c.get("exit_code") is not None:
        parts[0] += f" (exit {c['exit_code']})"
    if c.get("message"):
        parts.append(f"message: {str(c['message'])[:200]}")
    if c.get("last_state"):
        parts.append(
            f"last {c['last_state']} {c.get('last_reason') or ''} (exit {c.get('last_exit_code')})"
            f"{' at ' + c['last_finished_at'].isoformat() if c.get('last_finished_at') else ''}"
        )
    parts.append(f"restarts {c.get('restart_count') or 0}, ready {c.get('ready')}")
    return EvidenceItem(
        kind="status",
        cluster=c.get("cluster") or "",
        source=container_source(c),
        text="; ".join(parts),
        at=c.get("last_finished_at") or c.get("finished_at"),
    )


def resources_item(c: dict[str, Any]) -> EvidenceItem:
    req = f"requests cpu={c.get('cpu_request') or '-'} memory={c.get('memory_request') or '-'}"
    lim = f"limits cpu={c.get('cpu_limit') or '-'} memory={c.get('memory_limit') or '-'}"
    return EvidenceItem(
        kind="resources",
        cluster=c.get("cluster") or "",
        source=container_source(c),
        text=f"{req}; {lim}; image {c.get('image') or '-'}",
    )


def container_source(c: dict[str, Any]) -> str:
    return f"pod/{c.get('namespace')}/{c.get('pod')} ({c.get('container')})"


class Hits:
    """Signals gathered per subject; one finding per subject with corroboration across signal kinds."""

    def __init__(self, category: str, detector: str | None = None, cap: int = 12) -> None:
        self.category, self.detector, self.cap = category, detector or category, cap
        self._by: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}

    def add(
        self, subject: Subject, conf: float, items: list[EvidenceItem], signal: str, **facts: Any
    ) -> None:
        k = (subject.cluster, subject.kind, subject.namespace, subject.name)
        h = self._by.setdefault(
            k, {"subject": subject, "conf": 0.0, "items": [], "signals": set(), "facts": {}}
        )
        h["conf"] = max(h["conf"], conf)
        h["signals"].add(signal)
        seen = {(i.kind, i.source, i.text) for i in h["items"]}
        for i in items:
            if (i.kind, i.source, i.text) not in seen and len(h["items"]) < self.cap:
                h["items"].append(i)
                seen.add((i.kind, i.source, i.text))
        for name, value in facts.items():
            if value is None:
                continue
            if isinstance(value, list):
                have = h["facts"].setdefault(name, [])
                have.extend(x for x in value if x not in have)
            else:
                h["facts"].setdefault(name, value)

    def __bool__(self) -> bool:
        return bool(self._by)

    def findings(self, summarize: Any) -> list[DetectorFinding]:
        out = []
        for h in self._by.values():
            conf = corroborate(h["conf"], len(h["signals"]) - 1) if h["conf"] > 0 else 0.0
            facts = {**h["facts"], "signals": sorted(h["signals"])}
            out.append(
                DetectorFinding(
                    category=self.category,
                    confidence=conf,
                    summary=summarize(h["subject"], facts),
                    subject=h["subject"],
                    evidence=h["items"],
                    detector=self.detector,
                    facts=facts,
                )
            )
        return sorted(out, key=lambda f: -f.confidence)


def ref(subject: Subject) -> str:
    """How a summary names a subject: ``Deployment shop/checkout``."""
    ns = f"{subject.namespace}/" if subject.namespace else ""
    return f"{subject.kind} {ns}{subject.name}"


def registry_of(image: str | None) -> str:
    if not image:
        return ""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"
