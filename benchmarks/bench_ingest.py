"""HTTP ingest: fleetsre's webhook (Ray Serve, durable spooled ack) beside a real Alertmanager.

One run starts fleetsre (local Ray, 2 CPUs, the real app from ``serve/app.py`` with an empty fleet,
HAProxy ingress unless ``FLEETSRE_INGRESS=proxy``) and a real Alertmanager
(``prometheus-alertmanager``, no gossip, a null receiver) on this machine. For each batch size
(1, 10, 100) and client count (1, 4) it builds the same alerts (kube-prometheus labels, unique
fingerprints) and POSTs them with the same code — asyncio httpx clients, keep-alive, bodies
encoded up front — as ``POST /api/v2/alerts`` (a list of postable alerts) to Alertmanager and as
v4 webhook payloads to ``/webhook/alertmanager/{cluster}``. It reports alerts/s, the ratio and
p50/p99 acknowledgement latency, then drains the spool and checks that every acknowledged alert
is in the DuckDB history.

Re-run on a quiet machine: ``.venv/bin/python -m benchmarks ingest`` (``--quick``: fewer requests).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from benchmarks.common import BenchResult, Target

BATCHES = (1, 10, 100)
CLIENTS = (1, 4)
ALERTNAMES = ("KubePodCrashLooping", "KubePodNotReady", "KubeContainerWaiting", "KubePodOOMKilled")
AM_BINARY = "/usr/bin/prometheus-alertmanager"
RAY_WORKER_NICENESS = 15  # Ray's worker_niceness default on Linux


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SAFE = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's random-suffix alphabet (no vowels, no 0/1/3)


def pod_suffix(n: int) -> str:
    """A ReplicaSet pod's 5-character suffix, unique per ``n`` (so the workload is read from the name)."""
    out = ""
    for _ in range(5):
        n, r = divmod(n, len(SAFE))
        out += SAFE[r]
    return out


def build_alerts(tag: str, n: int, *, workloads: int = 5, namespaces: int = 2) -> list[dict[str, Any]]:
    """``n`` webhook alerts with kube-prometheus labels and unique fingerprints over a few workloads
    (so correlation makes a bounded number of incidents, as in a real storm)."""
    starts = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out = []
    for i in range(n):
        ns = f"team-{i % namespaces}"
        wl = f"svc-{(i // namespaces) % workloads}"
        pod = f"{wl}-7d9c5b6f4-{pod_suffix(hash(tag) % 1000 * 10_000_000 + i)}"
        alertname = ALERTNAMES[i % len(ALERTNAMES)]
        labels = {"alertname": alertname, "container": "app", "endpoint": "http", "job": "kube-state-metrics",
                  "namespace": ns, "pod": pod, "prometheus": "monitoring/k8s", "service": "kube-state-metrics",
                  "severity": "warning", "uid": hashlib.md5(pod.encode()).hexdigest(), "bench": tag}
        fp = hashlib.blake2b(orjson.dumps(labels, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
        out.append({"status": "firing", "labels": labels,
                    "annotations": {"description": f"Pod {ns}/{pod} ({labels['container']}) is restarting.",
                                    "runbook_url": f"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/"
                                                   f"{alertname.lower()}", "summary": "Pod is crash looping."},
                    "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus-k8s.monitoring:9090/graph?g0.expr=up&g0.tab=1",
                    "fingerprint": fp})
    return out


def webhook_body(alerts: list[dict[str, Any]], cluster: str) -> bytes:
    ns = alerts[0]["labels"]["namespace"]
    return orjson.dumps({
        "version": "4", "receiver": "fleetsre", "status": "firing", "alerts": alerts,
        "groupLabels": {"namespace": ns}, "commonLabels": {"namespace": ns, "job": "kube-state-metrics"},
        "commonAnnotations": {}, "externalURL": f"http://alertmanager.{cluster}:9093",
        "groupKey": f'{{}}:{{namespace="{ns}"}}', "truncatedAlerts": 0})


def postable_body(alerts: list[dict[str, Any]]) -> bytes:
    return orjson.dumps([{"labels": a["labels"], "annotations": a["annotations"], "startsAt": a["startsAt"],
                          "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
                          "generatorURL": a["generatorURL"]} for a in alerts])


async def post_all(url: str, bodies: list[bytes], clients: int) -> tuple[float, list[float], int]:
    """POST every body, ``clients`` at a time (one keep-alive connection each); (seconds, latencies, failures)."""
    queue = list(reversed(bodies))
    latencies: list[float] = []
    failures = 0
    headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}

    async def client() -> None:
        nonlocal failures
        async with httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(max_connections=1)) as http:
            while queue:
                body = queue.pop()
                t = time.perf_counter()
                r = await http.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - t)
                if r.status_code // 100 != 2:
                    failures += 1

    t0 = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    return time.perf_counter() - t0, latencies, failures


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _pids_holding(path: Path, pattern: str) -> list[int]:
    """Processes whose command line contains ``pattern`` and that hold a file under ``path`` open."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if pattern.encode() not in (proc / "cmdline").read_bytes():
                continue
            if any(str(path) in os.readlink(fd) for fd in (proc / "fd").iterdir()):
                out.append(int(proc.name))
        except OSError:
            continue
    return out


def _haproxy_pids() -> list[int]:
    base = os.path.dirname(os.environ.get("RAY_SERVE_HAPROXY_CONFIG_FILE_LOC", "")) or "/nonexistent"
    out = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and base.encode() in (proc / "cmdline").read_bytes() and \
                    b"haproxy" in (proc / "cmdline").read_bytes().split(b"\0")[0]:
                out.append(int(proc.name))
        except OSError:
            continue
    return out


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000 if s else float("nan")


class AlertmanagerProc:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        cfg = {"route": {"receiver": "null", "group_by": ["namespace"]}, "receivers": [{"name": "null"}]}
        (workdir / "am.yml").write_text(yaml.safe_dump(cfg))
        binary = AM_BINARY if os.access(AM_BINARY, os.X_OK) else shutil.which("prometheus-alertmanager")
        if binary is None:
            raise RuntimeError("prometheus-alertmanager is not installed (Debian package prometheus-alertmanager)")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={workdir / 'am.yml'}", f"--storage.path={workdir / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=open(workdir / "am.log", "wb"), stdin=subprocess.DEVNULL,
            # the niceness Ray gives its workers (and so fleetsre's ingress and HAProxy): equal footing
            preexec_fn=lambda: os.nice(RAY_WORKER_NICENESS))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"Alertmanager did not start: {(workdir / 'am.log').read_text()[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def version(self) -> str:
        try:
            return httpx.get(f"{self.url}/api/v2/status", timeout=5).json()["versionInfo"]["version"]
        except Exception:
            return "?"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_fleetsre(data_dir: Path, **ingest: Any) -> str:
    from clusters.fleet import Fleet
    from engine.config import EngineConfig, IngestConfig, MemoryConfig
    from serve import app as wiring

    # semantic memory off: its embedder runs per investigation and is no part of the ingest path
    cfg = EngineConfig(data_dir=data_dir, ingest=IngestConfig(**ingest), memory=MemoryConfig(enabled=False))
    url = wiring.run(Fleet(), cfg, port=_free_port())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return url
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError("fleetsre did not answer /healthz")


def run(quick: bool = False) -> BenchResult:
    import ray

    from serve import app as wiring

    work = Path(tempfile.mkdtemp(prefix="fleetsre-bench-ingest-"))
    total_alerts = int(os.environ.get("FLEETSRE_BENCH_ALERTS", "6000" if quick else "20000"))
    am = AlertmanagerProc(work)
    rows: list[list[Any]] = []
    targets: list[Target] = []
    notes: list[str] = []
    sent_fleetsre = 0
    ingress = "?"
    try:
        url = start_fleetsre(work / "data")
        ingress = "haproxy" if os.environ.get("RAY_SERVE_ENABLE_HA_PROXY") == "1" else "python proxy"
        # warm both (connections, code paths, Serve's first request)
        warm = build_alerts("warm", 200)
        asyncio.run(post_all(f"{am.url}/api/v2/alerts", [postable_body(warm[i:i + 10]) for i in range(0, 200, 10)], 2))
        asyncio.run(post_all(f"{url}/webhook/alertmanager/bench-warm",
                             [webhook_body(warm[i:i + 10], "bench-warm") for i in range(0, 200, 10)], 2))
        sent_fleetsre += len(warm)
        for batch in BATCHES:
            for clients in CLIENTS:
                n = max(batch * 50, min(total_alerts, batch * 3000))
                tag = f"b{batch}c{clients}"
                alerts = build_alerts(tag, n)
                chunks = [alerts[i:i + batch] for i in range(0, n, batch)]
                cluster = f"bench-{tag}"
                am_bodies, fs_bodies = [postable_body(c) for c in chunks], [webhook_body(c, cluster) for c in chunks]
                am_cpu0 = _cpu_s([am.proc.pid])
                am_s, am_lat, am_fail = asyncio.run(post_all(f"{am.url}/api/v2/alerts", am_bodies, clients))
                am_cpu = _cpu_s([am.proc.pid]) - am_cpu0
                ack_pids = _pids_holding(work / "data" / "spool", "ServeReplica") + _haproxy_pids()
                mgr_pids = _pids_holding(work / "data" / "history.duckdb", "IncidentManager")
                ack0, mgr0 = _cpu_s(ack_pids), _cpu_s(mgr_pids)
                fs_s, fs_lat, fs_fail = asyncio.run(
                    post_all(f"{url}/webhook/alertmanager/{cluster}", fs_bodies, clients))
                ack_cpu, mgr_cpu = _cpu_s(ack_pids) - ack0, _cpu_s(mgr_pids) - mgr0
                sent_fleetsre += n - fs_fail * batch
                am_rate, fs_rate = n / am_s, n / fs_s
                rows.append([batch, clients, n, round(am_rate), round(fs_rate), round(fs_rate / am_rate, 2),
                             round(_pct(am_lat, 0.5), 2), round(_pct(am_lat, 0.99), 2),
                             round(_pct(fs_lat, 0.5), 2), round(_pct(fs_lat, 0.99), 2),
                             round(am_cpu / n * 1e6, 1), round(ack_cpu / n * 1e6, 1), round(mgr_cpu / n * 1e6, 1),
                             am_fail + fs_fail])
                print(f"  ingest {tag}: AM {am_rate:,.0f}/s  fleetsre {fs_rate:,.0f}/s  ({fs_rate / am_rate:.2f}x)",
                      file=sys.stderr, flush=True)
                if batch == 100:
                    targets.append(Target(f"HTTP ingest >= 2.0x Alertmanager at batch 100, {clients} client(s), "
                                          "durable ack", f"{fs_rate / am_rate:.2f}x ({fs_rate:,.0f} vs "
                                          f"{am_rate:,.0f} alerts/s)", fs_rate / am_rate >= 2.0))
        # every acknowledged alert must reach the history
        mgr = wiring.manager()
        t0 = time.perf_counter()
        drained = ray.get(mgr.spool_barrier.remote(300.0), timeout=400)
        drain_s = time.perf_counter() - t0
        stored = ray.get(mgr.status.remote())["counts"]["alerts"]
        notes.append(f"ack = fsync'd write-ahead spool (IngestConfig.ack='spooled'); ingress: {ingress}; "
                     f"Alertmanager {am.version()} (POST /api/v2/alerts, no gossip, null receiver)")
        notes.append(f"history check: {stored:,} alerts in DuckDB after draining the spool "
                     f"({drain_s:.1f} s after the last ack{'' if drained else ', NOT fully drained'}) for "
                     f"{sent_fleetsre:,} acknowledged: {'all stored' if stored >= sent_fleetsre else 'MISSING'}")
        if stored < sent_fleetsre:
            targets.append(Target("every acknowledged alert is stored", f"{stored} of {sent_fleetsre}", False))
        notes.append("noisy unless the machine is otherwise idle; latencies in ms; bodies are encoded before the "
                     "clock starts; each client is one keep-alive connection; Alertmanager runs at Ray's worker "
                     "niceness (15) like fleetsre's processes; investigations run, semantic memory is off")
        notes.append("CPU us/alert (from /proc, robust to a busy machine): AM = the Alertmanager process; ack = "
                     "fleetsre's ingress replica + HAProxy (the acknowledgement path); manager = the incident "
                     "manager while the clients ran (storing, correlating and investigating the spool, off the ack "
                     "path); the client's own CPU is not counted for either")
    finally:
        am.stop()
        wiring.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return BenchResult(
        name="ingest", title="HTTP ingest: fleetsre webhook (durable spooled ack) vs Alertmanager POST /api/v2/alerts",
        columns=["batch", "clients", "alerts", "AM alerts/s", "fleetsre alerts/s", "ratio", "AM p50 ms",
                 "AM p99 ms", "fleetsre p50 ms", "fleetsre p99 ms", "AM CPU us/alert", "ack CPU us/alert",
                 "manager CPU us/alert", "failed"],
        rows=rows, targets=targets, notes=notes, environment={"ingress": ingress})
