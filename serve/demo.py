"""``fleetsre demo``: a simulated fleet, end to end through the real stack.

Generates a 3-cluster fleet with injected faults (one bad rollout in two clusters), serves it
with the Kubernetes API simulator, starts Ray and the Serve application, posts each cluster's
Alertmanager webhooks over HTTP, waits for the investigations and prints the incidents next to
the ground truth, then the runbook actions (``--mode auto``: executed against the simulated
clusters, which are re-read to show the result; ``recommend``, the default: nothing changes).
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from engine.alert_files import read_payloads
from engine.config import EngineConfig

__all__ = ["run_demo", "score_incidents"]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def post_alerts(url: str, cluster_dirs: dict[str, Path]) -> int:
    """POST every cluster's webhooks in send order, as Alertmanager would."""
    sent = 0
    headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}
    with httpx.Client(timeout=30.0) as client:
        for cluster, d in cluster_dirs.items():
            for payload in read_payloads(d / "alerts.jsonl"):
                r = client.post(f"{url}/webhook/alertmanager/{cluster}", content=json.dumps(payload), headers=headers)
                r.raise_for_status()
                sent += len(payload.get("alerts", []))
    return sent


def score_incidents(truth: list[dict[str, Any]], alerts: list[dict[str, Any]],
                    incidents: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """For each expected incident, the incident its alerts landed in and whether the category matches."""
    where = {(a["cluster"], a["fingerprint"]): a.get("incident_id") for a in alerts}
    rows = []
    for exp in truth:
        ids = [where.get((exp["cluster"], fp)) for fp in exp["alerts"]]
        ids = [i for i in ids if i]
        got_id = max(set(ids), key=ids.count) if ids else None
        got = incidents.get(got_id or "", {})
        rows.append({**exp, "incident_id": got_id, "got_category": got.get("category"),
                     "got_trigger": got.get("trigger_kind"), "confidence": got.get("confidence"),
                     "ok": got.get("category") == exp["category"]})
    return rows


def run_demo(*, data_dir: Path, port: int, seed: int, serve_forever: bool, console: Console, out: Console,
             mode: str = "recommend") -> bool:
    from clusters.scenarios.fleet import write_fleet
    from clusters.simulator import Simulator
    from serve import app as wiring

    if not _port_free(port):
        console.print(f"[red]error:[/] port {port} is in use; pick another with --port")
        return False
    root = data_dir / "demo"
    if root.exists():
        shutil.rmtree(root)  # the demo's own folder: every run starts from a clean history
    fleet_dir = root / "fleet"
    with console.status("generating the demo fleet"):
        write_fleet(fleet_dir, seed=seed)
    truth = json.loads((fleet_dir / "ground-truth.json").read_text())
    cluster_dirs = {p.name: p for p in sorted(fleet_dir.iterdir()) if (p / "dump").is_dir()}
    sim = Simulator({name: d / "dump" for name, d in cluster_dirs.items()})
    sim.start()
    try:
        kubeconfig = sim.write_kubeconfig(root / "kubeconfig")
        fleet_file = sim.write_fleet(root / "fleet.yaml", kubeconfig)
        from clusters.fleet import load_fleet

        fleet = load_fleet(fleet_file)
        cfg = EngineConfig(data_dir=root / "data", remediation_mode=mode)  # type: ignore[arg-type]
        t0 = time.monotonic()
        with console.status("starting Ray and the Serve application"):
            url = wiring.run(fleet, cfg, port=port)
        console.print(f"Serve app up at {url} in {time.monotonic() - t0:.1f}s; simulator at {sim.base_url}")
        sent = post_alerts(url, cluster_dirs)
        console.print(f"posted {sent} alerts from {len(cluster_dirs)} clusters")
        with console.status("investigating"):
            import ray

            idle = ray.get(wiring.manager().wait_idle.remote(300.0))
        ok = _print_results(url, truth, out) and idle
        from serve.demo_actions import print_remediation

        print_remediation(url, kubeconfig, mode, out)
        out.print(f"\nreports and history: {cfg.data_dir / 'history.duckdb'}\n"
                  f"evidence (Parquet):  {cfg.data_dir / 'evidence'}\n"
                  f"generated fleet:     {fleet_dir}")
        if serve_forever:
            console.print(f"serving at {url} (dashboard: {url}/, API: {url}/api/v1/incidents, docs: {url}/docs, "
                          f"metrics: {url}/metrics). Ctrl-C stops.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return ok
    finally:
        wiring.shutdown()
        sim.stop()


def _print_results(url: str, truth: dict[str, Any], out: Console) -> bool:
    with httpx.Client(timeout=30.0) as client:
        incidents = client.get(f"{url}/api/v1/incidents", params={"limit": 1000}).json()
        alerts = client.get(f"{url}/api/v1/alerts", params={"limit": 1000}).json()
    by_id = {i["id"]: i for i in incidents}
    table = Table(title="fleetsre incidents")
    for col in ("cluster", "subject", "category", "trigger", "confidence", "alerts", "id", "fleet incident"):
        table.add_column(col)
    for inc in incidents:
        if inc["status"] == "merged":
            continue
        s = inc["subject"]
        table.add_row(inc["cluster"], f"{s['kind']} {s.get('namespace') or ''}/{s['name']}".replace(" /", " "),
                      inc.get("category") or "-", inc.get("trigger_kind") or "-",
                      f"{inc['confidence']:.2f}" if inc.get("confidence") is not None else "-",
                      str(inc["alert_count"]), inc["id"], inc.get("fleet_id") or "-")
    out.print(table)
    scored = score_incidents(_truth_incidents(truth), alerts, by_id)
    check = Table(title="injected faults vs. what fleetsre found")
    for col in ("cluster", "subject", "expected", "found", "trigger (expected/found)", ""):
        check.add_column(col)
    for r in scored:
        s = r.get("subject") or {}
        check.add_row(r["cluster"], f"{s.get('namespace') or ''}/{s.get('name', '')}", r["category"],
                      r["got_category"] or "-", f"{r.get('trigger', '-')}/{r['got_trigger'] or '-'}",
                      "[green]ok[/]" if r["ok"] else "[red]MISS[/]")
    out.print(check)
    return all(r["ok"] for r in scored)


def _truth_incidents(truth: Any) -> list[dict[str, Any]]:
    """Flatten the ground-truth file to one entry per (cluster, expected incident)."""
    items = truth.get("incidents", truth) if isinstance(truth, dict) else truth
    flat = []
    for inc in items:
        if "members" in inc:  # a fleet incident with per-cluster members
            for m in inc["members"]:
                flat.append({**inc, **m})
        else:
            flat.append(inc)
    return flat
