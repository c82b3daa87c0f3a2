"""The ``config_change`` trigger: evidence that a ConfigMap or Secret changed under a workload.

Dumps and the evidence schema hold no ConfigMap/Secret history, so the change is shown, in order:

1. by events about a ConfigMap or Secret of the namespace inside the window;
2. by a restart: the failing pods belong to a revision created in the window whose recorded spec
   is identical to the previous, healthy revision's (``kubectl rollout restart`` only stamps an
   annotation) — the pods read their configuration anew and fail on it;
3. by a split revision: pods of one revision started earlier run fine while pods of the same
   revision started later fail on their configuration — what they read changed in between.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.detectors.base import Finding
from engine.detectors.common import View
from engine.revisions import failing_pods, failing_revision, healthy, in_window, what_changed

__all__ = ["CONFIG_CATEGORIES", "config_change"]

CONFIG_CATEGORIES = ("missing_secret_or_configmap", "config_error")


def config_change(f: Finding, v: View, revs: list[dict[str, Any]], window_s: float) -> str | None:
    return _events(f, v, window_s) or _restart(f, v, revs, window_s) or _split_revision(f, v)


def _object(f: Finding, v: View, pods: list[dict[str, Any]]) -> str:
    """The ConfigMap/Secret the finding names, else those the failing pods reference."""
    facts: dict[str, Any] = getattr(f, "facts", {}) or {}
    if facts.get("kind") and facts.get("name"):
        key = f" (key {facts['key']})" if facts.get("key") else ""
        return f"{facts['kind']} {facts.get('namespace') or f.subject.namespace}/{facts['name']}{key}"
    refs: list[str] = []
    for p in pods:
        for vol in v.volumes(p):
            if vol.get("kind") in ("configMap", "secret") and vol.get("ref"):
                refs.append(f"{'ConfigMap' if vol['kind'] == 'configMap' else 'Secret'} {vol['ref']}")
        for c in v.containers_of(p):
            for r in c.get("env_refs") or []:
                kind, _, rest = r.partition(":")
                refs.append(f"{'ConfigMap' if kind == 'configmap' else 'Secret'} {rest.split(':')[0]}")
    refs = list(dict.fromkeys(refs))
    return ", ".join(refs[:3]) if refs else "a ConfigMap or Secret it reads"


def _events(f: Finding, v: View, window_s: float) -> str | None:
    facts: dict[str, Any] = getattr(f, "facts", {}) or {}
    hits = []
    for e in v.events:
        if e.get("object_kind") not in ("ConfigMap", "Secret") or e.get("namespace") != f.subject.namespace:
            continue
        when: datetime | None = e.get("last_seen") or e.get("first_seen")
        if in_window(v, when, window_s) and when is not None:
            hits.append((facts.get("name") != e.get("object_name"), -when.timestamp(), e, when))
    if not hits:
        return None
    _, _, e, when = sorted(hits, key=lambda h: h[:2])[0]
    return (
        f"{e.get('object_kind')} {e.get('namespace')}/{e.get('object_name')} changed at {when.isoformat()}: "
        f"{e.get('reason')} {e.get('msg') or ''}"
    ).strip()


def _restart(f: Finding, v: View, revs: list[dict[str, Any]], window_s: float) -> str | None:
    new = failing_revision(f, v, revs)
    if new is None or not in_window(v, new["created_at"], window_s):
        return None
    older = [r for r in revs if r["created_at"] < new["created_at"]]
    if not older or what_changed(older[-1], new) is not None or not healthy(older[-1], v):
        return None
    return (
        f"{f.subject.kind} {f.subject.namespace}/{f.subject.name} was restarted at {new['created_at'].isoformat()} "
        f"({new.get('revision_name')}, same spec as the healthy {older[-1].get('revision_name')}) and the new "
        f"pods fail on their configuration: {_object(f, v, failing_pods(f, v))} changed"
    )


def _split_revision(f: Finding, v: View) -> str | None:
    failing = [p for p in failing_pods(f, v) if p.get("revision_hash") and p.get("created_at")]
    for p in sorted(failing, key=lambda p: p["created_at"]):
        older_ok = [
            q
            for q in v.pods
            if q.get("revision_hash") == p["revision_hash"]
            and q.get("namespace") == p.get("namespace")
            and (q.get("cluster") or "") == (p.get("cluster") or "")
            and q.get("phase") == "Running"
            and q.get("ready")
            and q.get("created_at") is not None
            and q["created_at"] < p["created_at"] - timedelta(seconds=1)
        ]
        if older_ok:
            return (
                f"pod {p.get('name')} (started {p['created_at'].isoformat()}) fails while {len(older_ok)} older "
                f"pod(s) of the same revision run: {_object(f, v, [p])} changed after they started"
            )
    return None
