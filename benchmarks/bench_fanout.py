"""Investigation fan-out: 1, 10, 50 and 100 clusters alerting at once, 50 ms per API call.

Each cluster is a generated scenario (``oom_killed`` or ``bad_rollout_image``, in a namespace of
its own so no two clusters share a workload) served by the Kubernetes API simulator in a
subprocess, every request delayed 50 ms (its ``latency_ms`` fault). For each fleet size a fresh
fleetsre app (local Ray, ``num_cpus=2``, the real Serve ingress and actors) gets one webhook per
cluster, all posted at the same moment; per incident we take the time from the webhook's 2xx to
its ``investigated`` event in the history (the report is stored before that event is written).

The critical path is measured, not guessed: one cluster's incident is run in-process (the pods'
placement lookups the manager makes before correlating a spooled webhook, then collect, investigate,
runbook) against the same simulator with unbounded per-cluster concurrency, every API call timed;
the longest chain of calls each starting after the previous one ended is the chain of dependent
calls, × 50 ms. The dead-cluster row adds one cluster whose API refuses connections to
the 100 and compares the others' times with the all-live row.

Columns, per incident and measured from its webhook's 2xx: ``stored`` (the spooled alerts stored
and correlated: its ``webhook_received`` event), ``collected`` (its clusters' evidence written),
``report`` (its ``investigated`` event). On a shared machine the load average beside the table says
how far to trust them.

``python -m benchmarks fanout`` (``--quick``: 1 and 10 clusters, no dead-cluster row).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import BenchResult, Target

LATENCY_MS = 50
SIZES = (1, 10, 50, 100)
QUICK_SIZES = (1, 10)
SCENARIOS = ("oom_killed", "bad_rollout_image")
DEAD = "dead-000"
WARM = "warm-000"
ROOT = Path(__file__).resolve().parent.parent


def cluster_name(i: int) -> str:
    return f"c{i:03d}"


# -- the fleet ------------------------------------------------------------------------------------

def write_clusters(root: Path, names: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    """One scenario per cluster (alternating); returns cluster -> one webhook with all its firing alerts."""
    from clusters.scenarios import write_scenario
    from engine.alert_files import read_payloads

    payloads = {}
    for i, name in enumerate(names):
        d = root / "clusters" / name
        write_scenario(SCENARIOS[i % len(SCENARIOS)], d, cluster=name, now=now, seed=i, namespace=f"team-{i:03d}")
        payloads[name] = one_webhook(read_payloads(d / "alerts.jsonl"))
    return payloads


def one_webhook(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """The cluster's alerts in one webhook: each alert's last state, firing ones only."""
    last: dict[str, dict[str, Any]] = {}
    for p in payloads:
        for a in p["alerts"]:
            last[a["fingerprint"]] = a
    return {**payloads[-1], "status": "firing", "alerts": [a for a in last.values() if a["status"] == "firing"]}


class SimulatorProcess:
    """``python -m clusters.simulator`` in its own process: its request threads do not share our GIL."""

    def __init__(self, root: Path, names: list[str], faults: dict[str, dict[str, Any]]) -> None:
        self.out = root / "sim"
        self.out.mkdir(parents=True, exist_ok=True)
        faults_file = root / "faults.json"
        faults_file.write_text(json.dumps(faults))
        args = [f"{n}={root / 'clusters' / n / 'dump'}" for n in names]
        self.log = open(root / "simulator.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "clusters.simulator", *args, "--faults", str(faults_file),
                                      "--out", str(self.out)], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self.fleet_file = self.out / "fleet.yaml"
        self.kubeconfig = self.out / "kubeconfig"
        deadline = time.monotonic() + 120
        while not (self.fleet_file.exists() and self.kubeconfig.exists()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the simulator did not start; see {root / 'simulator.log'}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


# -- the critical path ----------------------------------------------------------------------------

class TimedSource:
    """A cluster source that records (start, end) of every API call it makes."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name
        self.calls: list[tuple[float, float, str]] = []
        self._lock = threading.Lock()

    def _timed(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self.calls.append((t0, time.monotonic(), what))

    def list(self, kind: str, *args: Any, **kwargs: Any) -> Any:
        return self._timed(f"list {kind}", self.inner.list, kind, *args, **kwargs)

    def get(self, kind: str, *args: Any, **kwargs: Any) -> Any:
        return self._timed(f"get {kind}", self.inner.get, kind, *args, **kwargs)

    def read_log(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("log", self.inner.read_log, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def chain_depth(calls: list[tuple[float, float, str]]) -> tuple[int, list[str]]:
    """The longest chain of calls each starting after the previous one ended (and that chain)."""
    calls = sorted(calls)
    best: list[tuple[int, int]] = []  # per call: (depth, previous index)
    for i, (start, _, _) in enumerate(calls):
        prev = [(best[j][0], j) for j in range(i) if calls[j][1] <= start]
        depth, j = max(prev, default=(0, -1))
        best.append((depth + 1, j))
    if not best:
        return 0, []
    i = max(range(len(best)), key=lambda k: best[k][0])
    depth, chain = best[i][0], []
    while i >= 0:
        chain.append(calls[i][2])
        i = best[i][1]
    return depth, chain[::-1]


def critical_path(fleet_file: Path, cluster: str, payload: dict[str, Any], root: Path) -> dict[str, Any]:
    """One cluster's incident in-process, with unbounded concurrency: its chain of dependent calls."""
    from clusters.fleet import load_fleet
    from engine.config import CollectConfig, EngineConfig
    from engine.correlate import Correlator, PodPlacement, topology_ref
    from engine.history import HistoryStore
    from engine.ingest import Ingestor
    from engine.pipeline import run_incident
    from engine.runbooks import load_runbooks
    from engine.topology import placement_of

    entry = load_fleet(fleet_file).get(cluster)
    assert entry is not None
    source = TimedSource(entry.source())
    cfg = EngineConfig(data_dir=root / f"critical-{cluster}", collect=CollectConfig(max_concurrency=256))
    cfg.data_dir.mkdir(parents=True)
    history = HistoryStore(cfg.data_dir / "history.duckdb")
    t0 = time.monotonic()
    # as the manager does after the (spooled) ack: where the alerts' pods run, all pods at once
    refs = {(a.target().namespace or "", ref) for a in Ingestor(history, Correlator(cfg.correlation))
            .prepare(payload, cluster).alerts if (ref := topology_ref(a.target()))}
    with ThreadPoolExecutor(max(1, len(refs))) as pool:
        found = dict(zip(refs, pool.map(lambda r: placement_of(source, *r), refs), strict=True))

    def topology(_: str, ns: str, pod: str) -> PodPlacement | None:
        p = found.get((ns, pod))
        return PodPlacement(**p) if p else None

    correlator = Correlator(cfg.correlation, topology=topology)
    Ingestor(history, correlator).receive(payload, path_cluster=cluster)
    incidents = [i for i in correlator.incidents.values() if i.status != "merged"]
    for inc in incidents:
        run_incident(inc, {cluster: source}, cfg, history, runbooks=load_runbooks(cfg.runbooks_dir))
    wall = time.monotonic() - t0
    history.close()
    depth, chain = chain_depth(source.calls)
    return {"cluster": cluster, "calls": len(source.calls), "depth": depth, "chain": chain,
            "critical_ms": depth * LATENCY_MS, "in_process_ms": wall * 1000}


# -- one round: a fresh app, N webhooks at once ---------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _post_all(url: str, payloads: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """POST every webhook at once; per cluster: when it was sent and acknowledged (wall clock)."""
    headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}
    bodies = {c: json.dumps(p).encode() for c, p in payloads.items()}
    limits = httpx.Limits(max_connections=len(bodies) + 4, max_keepalive_connections=len(bodies) + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300.0, limits=limits) as client:
        start = asyncio.Event()

        async def post(cluster: str) -> tuple[str, dict[str, Any]]:
            await start.wait()
            t0 = time.time()
            r = await client.post(f"/webhook/alertmanager/{cluster}", content=bodies[cluster], headers=headers)
            acked = time.time()
            r.raise_for_status()
            return cluster, {"sent": t0, "acked": acked}

        tasks = [asyncio.create_task(post(c)) for c in bodies]
        await asyncio.sleep(0.05)  # every task is parked on the event: they go together
        start.set()
        return dict(await asyncio.gather(*tasks))


def _wait_http(url: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=5.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"fleetsre at {url} did not come up")


def _incident_ids(client: httpx.Client, cluster: str) -> list[str]:
    r = client.get("/api/v1/alerts", params={"cluster": cluster, "limit": 1000})
    r.raise_for_status()
    return sorted({a["incident_id"] for a in r.json() if a.get("incident_id")})


def _ray_workers() -> list[int]:
    """This driver's Ray worker processes (``ray::`` descendants), not another session's."""
    found, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/cmdline") as f:
                if f.read().startswith("ray::"):
                    found.append(pid)
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return found


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def _wait_quiet(limit_s: float = 180.0, busy: float = 0.25) -> None:
    """Until the app's processes use under ``busy`` of a core for two seconds running (Linux only)."""
    if not Path("/proc").is_dir():
        return
    deadline, calm = time.monotonic() + limit_s, 0
    last = _cpu_s(_ray_workers())
    while calm < 2 and time.monotonic() < deadline:
        time.sleep(1.0)
        now = _cpu_s(_ray_workers())
        calm = calm + 1 if now - last < busy else 0
        last = now


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def run_round(sim: SimulatorProcess, clusters: list[str], payloads: dict[str, dict[str, Any]], root: Path,
              tag: str) -> dict[str, dict[str, Any]]:
    """A fresh app over ``clusters`` (+ the warm-up cluster); returns cluster -> timings and report facts."""
    import ray

    from clusters.fleet import load_fleet
    from engine.config import EngineConfig
    from serve import app as wiring

    full = load_fleet(sim.fleet_file)
    wanted = set(clusters) | {WARM}
    fleet = full.model_copy(update={"clusters": [c for c in full.clusters if c.name in wanted]})
    cfg = EngineConfig(data_dir=root / f"data-{tag}")
    try:
        url = wiring.run(fleet, cfg, port=_free_port())
        _wait_http(url)
        # warm-up: one incident end to end, so no round pays for first imports and first connections;
        # then wait for background start-up work (e.g. loading the semantic memory's model) to end
        asyncio.run(_post_all(url, {WARM: payloads[WARM]}))
        ray.get(wiring.manager().wait_idle.remote(300.0))
        _wait_quiet()
        acks = asyncio.run(_post_all(url, {c: payloads[c] for c in clusters}))
        out = {}
        with httpx.Client(base_url=url, timeout=300.0) as client:
            # wait_idle first waits for the spool to be stored (which schedules the investigations),
            # and no reads of ours compete with the manager before everything is reported
            if not ray.get(wiring.manager().wait_idle.remote(900.0)):
                raise RuntimeError(f"{tag}: investigations still running after 900 s")
            incidents = {c: _incident_ids(client, c) for c in clusters}
            for cluster, ack in acks.items():
                times, missing, categories = [], [], []
                collected: list[float] = []
                stored: list[float] = []
                for inc_id in incidents[cluster]:
                    detail = client.get(f"/api/v1/incidents/{inc_id}").json()
                    done = [_ts(e["at"]) for e in detail["events"] if e["kind"] == "investigated"]
                    collected += [_ts(e["at"]) for e in detail["events"] if e["kind"] == "collected"]
                    stored += [_ts(e["at"]) for e in detail["events"] if e["kind"] == "webhook_received"]
                    if done:
                        times.append(min(done))
                    report = detail.get("report") or {}
                    missing += report.get("missing") or []
                    categories.append((report.get("root_cause") or {}).get("category"))
                out[cluster] = {"ack_s": ack["acked"] - ack["sent"],
                                "report_s": max(times) - ack["acked"] if times else None,
                                "collected_s": max(collected) - ack["acked"] if collected else None,
                                "stored_s": max(stored) - ack["acked"] if stored else None,
                                "missing": missing, "categories": categories}
        return out
    finally:
        wiring.shutdown()


# -- the run --------------------------------------------------------------------------------------

def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 10 values is the largest)."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(-(-q * len(s) // 1)) - 1))]


def _row(label: str, res: dict[str, dict[str, Any]], crit_ms: float, only: list[str] | None = None) -> list[Any]:
    keys = only if only is not None else list(res)
    report = [res[c]["report_s"] * 1000 for c in keys if res[c]["report_s"] is not None]
    collected = [res[c]["collected_s"] * 1000 for c in keys if res[c]["collected_s"] is not None]
    stored = [res[c]["stored_s"] * 1000 for c in keys if res[c]["stored_s"] is not None]
    ack = [res[c]["ack_s"] * 1000 for c in keys]
    p99 = _pct(report, 0.99) if report else float("nan")
    return [label, len(keys), len(report), _pct(ack, 0.5), _pct(ack, 0.99), _pct(stored, 0.99) if stored else None,
            _pct(collected, 0.99) if collected else None, _pct(report, 0.5) if report else None, p99,
            p99 / crit_ms if crit_ms else None]


def run(quick: bool = False) -> BenchResult:
    sizes = QUICK_SIZES if quick else tuple(int(s) for s in os.environ.get("FANOUT_SIZES", "").split(",") if s) or SIZES
    biggest = max(sizes)
    names = [cluster_name(i) for i in range(biggest)]
    root = Path(tempfile.mkdtemp(prefix="fleetsre-fanout-"))
    now = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    payloads = write_clusters(root, [*names, DEAD, WARM], now)
    gen_s = time.monotonic() - t0
    faults = {n: {"latency_ms": LATENCY_MS} for n in [*names, WARM]}
    faults[DEAD] = {"latency_ms": LATENCY_MS, "unreachable": True}
    sim = SimulatorProcess(root, [*names, DEAD, WARM], faults)
    rows: list[list[Any]] = []
    notes = [f"{biggest + 2} scenario clusters generated in {gen_s:.1f} s; simulator latency {LATENCY_MS} ms per "
             f"request; 1-min load average before the run: {load_before:.1f} on {os.cpu_count()} CPUs"]
    targets: list[Target] = []
    try:
        crit = [critical_path(sim.fleet_file, names[i], payloads[names[i]], root) for i in range(min(2, len(names)))]
        worst = max(crit, key=lambda c: c["depth"])
        crit_ms = float(worst["critical_ms"])
        for c in crit:
            notes.append(f"critical path {c['cluster']} ({SCENARIOS[names.index(c['cluster']) % len(SCENARIOS)]}): "
                         f"{c['depth']} dependent calls of {c['calls']} ({' → '.join(c['chain'])}); "
                         f"in-process, unbounded concurrency: {c['in_process_ms']:.0f} ms")
        results: dict[int, dict[str, dict[str, Any]]] = {}
        for n in sizes:
            results[n] = run_round(sim, names[:n], payloads, root, f"n{n}")
            rows.append(_row(f"{n} clusters", results[n], crit_ms))
        if not quick and biggest in results:
            dead = run_round(sim, [*names, DEAD], payloads, root, "dead")
            rows.append(_row(f"{biggest} + 1 unreachable: the others", dead, crit_ms, only=names))
            rows.append(_row("  the unreachable one", dead, crit_ms, only=[DEAD]))
            live_p99, dead_p99 = rows[len(sizes) - 1][8], rows[-2][8]
            live_p50, dead_p50 = rows[len(sizes) - 1][7], rows[-2][7]
            dead_missing = dead[DEAD]["missing"]
            others_clean = all(not any(DEAD in m for m in dead[c]["missing"]) for c in names)
            notes.append(f"dead cluster's report names as missing: {dead_missing[:2]}; "
                         f"no other report mentions it: {others_clean}")
            targets.append(Target("one dead cluster adds nothing to the others' time to report",
                                  f"others p50 {dead_p50:,.0f} ms vs {live_p50:,.0f} ms, "
                                  f"p99 {dead_p99:,.0f} ms vs {live_p99:,.0f} ms (all live) "
                                  f"= {dead_p99 / live_p99:.2f}×; ≤ 1.10× counts as met (run-to-run noise)",
                                  bool(dead_p99 <= 1.10 * live_p99 and others_clean and dead_missing)))
        top = rows[len(sizes) - 1]
        targets.insert(0, Target(f"fan-out p99 ≤ 2 × critical path at {biggest} clusters",
                                 f"p99 {top[8]:,.0f} ms = {top[9]:.1f} × critical path {crit_ms:.0f} ms",
                                 bool(top[9] <= 2.0) if biggest >= 100 else None))
        wrong = sorted({c for res in results.values() for c, r in res.items()
                        if r["categories"] and r["categories"][0] not in ("oom_killed", "image_pull_error")})
        if wrong:
            notes.append(f"reports with an unexpected category: {', '.join(wrong[:10])}")
    finally:
        sim.stop()
        shutil.rmtree(root, ignore_errors=True)
    return BenchResult(
        name="fanout", title=f"Investigation fan-out: webhook 2xx → stored report, {LATENCY_MS} ms per API call",
        columns=["fleet", "alerting", "reports", "ack p50 ms", "ack p99 ms", "stored p99 ms", "collected p99 ms",
                 "report p50 ms", "report p99 ms", "p99 / critical path"],
        rows=rows, targets=targets, notes=notes,
        environment={"latency_ms": LATENCY_MS, "critical_path_ms": crit_ms, "ray_num_cpus": 2,
                     "load_avg_before": load_before, "load_avg_after": os.getloadavg()[0]},
    )
