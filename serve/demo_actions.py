"""The demo's remediation printout: what each incident's runbook did (or would do), and — after an
``auto`` run — the simulated clusters re-read through the official client, to show the result.

The re-read uses :class:`clusters.live.LiveSource` on the simulator's kubeconfig, exactly as a
collector would, so "pods Ready" means the API says so, not that the demo assumes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

__all__ = ["print_remediation", "subject_state"]


def _reports(url: str) -> list[dict[str, Any]]:
    """Each incident's latest report, with ``acted``: the steps auto executed in any of its runs."""
    with httpx.Client(timeout=30.0) as client:
        incidents = client.get(f"{url}/api/v1/incidents", params={"limit": 1000}).json()
        out = []
        for inc in incidents:
            if inc["status"] == "merged":
                continue
            detail = client.get(f"{url}/api/v1/incidents/{inc['id']}").json()
            if detail.get("report"):
                acted = [e["payload"] for e in detail.get("events") or [] if e["kind"] == "runbook_step"
                         and e["payload"].get("status") == "done" and e["payload"].get("mode") == "auto"]
                out.append({**detail["report"], "acted": acted})
    return out


def print_remediation(url: str, kubeconfig: Path, mode: str, out: Console) -> list[dict[str, Any]]:
    """Print every runbook step that changes (or would change) a cluster; in auto mode, then the
    state of each incident's subject as the API reports it now. Returns the subjects' states."""
    reports = _reports(url)
    table = Table(title=f"runbook actions (mode {mode})")
    for col in ("cluster", "subject", "runbook", "step", "status", "what", "command / why"):
        table.add_column(col)
    for r in reports:
        s = r["root_cause"]["subject"]
        for a in r.get("actions") or []:
            if (a["mode"] == "read" and a["status"] != "failed") or a["status"] == "skipped":
                continue
            table.add_row(s["cluster"], _subject(s), r.get("runbook") or "-", a["step"], _status(a["status"]),
                          a["result"][:110], a["command"] if a["status"] == "recommended" else a["why"][:90])
    out.print(table)
    if mode != "auto":
        out.print("mode recommend: nothing was changed (run with --mode auto to let the runbooks act)")
        return []
    return _print_states(reports, kubeconfig, out)


def _print_states(reports: list[dict[str, Any]], kubeconfig: Path, out: Console) -> list[dict[str, Any]]:
    from clusters.live import LiveSource

    sources: dict[str, LiveSource] = {}
    states = []
    table = Table(title="after the runbooks acted (re-read from the simulated API servers)")
    for col in ("cluster", "subject", "acted", "now"):
        table.add_column(col)
    for r in reports:
        s = r["root_cause"]["subject"]
        acted = [f"{a['step']}: {a['result']}" for a in r["acted"]]
        if s["cluster"] not in sources:
            sources[s["cluster"]] = LiveSource.from_kubeconfig(kubeconfig, s["cluster"])
        state = subject_state(sources[s["cluster"]], s)
        states.append({**state, "subject": s, "acted": acted})
        table.add_row(s["cluster"], _subject(s), "; ".join(acted) or "-", state["text"])
    for src in sources.values():
        src.close()
    out.print(table)
    return states


def subject_state(source: Any, s: dict[str, Any]) -> dict[str, Any]:
    """{"healthy": bool, "text": ...} for a Deployment (its pods, Ready or not) or a Node (schedulable)."""
    try:
        if s["kind"] == "Node":
            node = source.get("nodes", None, s["name"])
            ready = next((c["status"] for c in node["status"].get("conditions") or [] if c["type"] == "Ready"), "?")
            cordoned = bool((node.get("spec") or {}).get("unschedulable"))
            return {"healthy": ready == "True" and not cordoned,
                    "text": f"Ready={ready}, {'cordoned' if cordoned else 'schedulable'}"}
        if s["kind"] == "Deployment":
            dep = source.get("deployments", s["namespace"], s["name"])
            want, status = dep["spec"].get("replicas", 1), dep.get("status") or {}
            ready, updated = status.get("readyReplicas", 0), status.get("updatedReplicas", 0)
            revision = (dep["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "?")
            return {"healthy": ready >= want and updated >= want and not status.get("unavailableReplicas"),
                    "text": f"{ready}/{want} pods Ready, {updated} on revision {revision}"}
    except Exception as exc:  # the printout must not fail the demo
        return {"healthy": False, "text": f"could not read: {exc}"}
    return {"healthy": False, "text": f"({s['kind']}: not shown)"}


def _subject(s: dict[str, Any]) -> str:
    return f"{s['kind']} {s.get('namespace') + '/' if s.get('namespace') else ''}{s['name']}"


def _status(status: str) -> str:
    color = {"done": "green", "failed": "red", "refused": "yellow", "recommended": "cyan"}.get(status, "white")
    return f"[{color}]{status}[/]"
