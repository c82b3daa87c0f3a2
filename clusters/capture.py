"""Capture a cluster as a dump directory: ``fleetsre clusters dump``.

:func:`capture` reads any :class:`engine.sources.ClusterSource` (a live API server through
:class:`clusters.live.LiveSource`, usually) and writes exactly what
``kubectl cluster-info dump --all-namespaces --output-directory=DIR`` writes, plus fleetsre's
documented side files (``clusters/DUMP_FORMAT.md``)::

    DIR/nodes.json
    DIR/<ns>/{events,pods,deployments,replicasets,daemonsets,services,replication-controllers}.json
    DIR/<ns>/<pod>/logs.txt                    current logs, one block per init + app container
    DIR/<ns>/{statefulsets,jobs}.json          side files
    DIR/<ns>/configmaps.json                   side file: data KEYS only, values ""
    DIR/<ns>/<pod>/logs.previous.txt           side file: previous instance of restarted containers
    DIR/fleetsre-dump.json                     {cluster, captured_at, namespaces, errors, ...}

Secrets are never read: not even their key names, since the API returns keys only with values.
Calls run on a bounded pool; a failed call (403, 500, timeout) is recorded under ``errors`` in
``fleetsre-dump.json`` and the capture goes on. After a few transport failures in a row (the
cluster stopped answering) the remaining calls are skipped and counted, not queued behind timeouts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from clusters import rfc3339
from clusters._dumpfiles import go_json, keys_only, list_document, log_block, scrub, scrub_log
from clusters.dump import CURRENT_LOGS, PREVIOUS_LOGS, SIDE_FILE
from clusters.kinds import RESOURCES
from engine.sources import ClusterSource, SourceError

__all__ = ["CaptureError", "CaptureOptions", "CaptureProgress", "CaptureResult", "capture"]

#: kubectl's files, in the order kubectl writes them.
KUBECTL_KINDS = ("events", "replicationcontrollers", "services", "daemonsets", "deployments", "replicasets", "pods")
#: fleetsre side files of workload kinds a kubectl dump lacks.
SIDE_KINDS = ("statefulsets", "jobs")
#: Consecutive transport failures (no HTTP answer) after which the cluster counts as gone.
MAX_TRANSPORT_FAILURES = 3


class CaptureError(Exception):
    """Nothing could be captured: the cluster did not answer, or its namespaces are unknowable.

    Retrying helps when the cluster was unreachable; a refusal to list namespaces needs
    ``--namespaces``.
    """


@dataclass(frozen=True)
class CaptureOptions:
    namespaces: tuple[str, ...] | None = None  # None: every namespace, as --all-namespaces
    previous_logs: bool = True  # logs.previous.txt for containers that restarted
    tail_lines: int | None = None  # None: whole logs, as kubectl
    configmaps: bool = True  # configmaps.json, keys only
    concurrency: int = 8  # API calls in flight


class CaptureProgress(Protocol):
    """Where progress goes (a rich bar in the CLI); phases are ``lists`` and ``logs``."""

    def begin(self, phase: str, total: int) -> None: ...

    def advance(self, phase: str, steps: int = 1) -> None: ...


@dataclass
class CaptureResult:
    out: Path
    cluster: str
    captured_at: datetime
    namespaces: list[str]
    counts: dict[str, int] = field(default_factory=dict)  # objects per kind, log blocks
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.errors


def capture(
    source: ClusterSource,
    out: str | Path,
    options: CaptureOptions | None = None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: CaptureProgress | None = None,
) -> CaptureResult:
    """Write ``source``'s state under ``out`` (created; must be empty); partial on failed calls."""
    opts = options or CaptureOptions()
    root = Path(out)
    created = _empty_dir(root)
    calls = _Calls(source.name, opts.concurrency, progress)
    try:
        # The source's own clock when it has one (a dump), else the moment the capture starts.
        started = source.captured_at() or clock()
        nodes = calls.call("nodes", None, None, lambda: source.list("nodes"))
        if nodes is None and calls.errors[-1]["status"] is None:
            raise CaptureError(f"{source.name}: the cluster did not answer: {calls.errors[-1]['message']}")
        namespaces = list(opts.namespaces) if opts.namespaces else _all_namespaces(source, calls)
        lists = _capture_lists(source, calls, namespaces, opts)
        lists[("nodes", "")] = nodes
        counts = _write_lists(root, lists)
        counts["log_blocks"] = _capture_logs(source, calls, root, lists, opts)
    except CaptureError:
        if created and not any(root.iterdir()):
            root.rmdir()  # a failed capture must not look like an (empty) dump
        raise
    finally:
        calls.close()
    result = CaptureResult(root, source.name, started, namespaces, counts, calls.errors)
    _write_side_file(root, result, opts)
    return result


# -- what to read ------------------------------------------------------------------------------

def _all_namespaces(source: ClusterSource, calls: _Calls) -> list[str]:
    found = calls.call("namespaces", None, None, lambda: source.list("namespaces"))
    if found is None:  # no grant to list namespaces: the pods say which ones are in use
        found = calls.call("pods", None, None, lambda: source.list("pods"))
        if found is None:
            last = calls.errors[-1]["message"]
            raise CaptureError(f"{source.name}: cannot tell which namespaces exist ({last}); pass --namespaces")
        return sorted({_meta(p, "namespace") for p in found} - {""})
    return sorted(_meta(ns, "name") for ns in found)


def _kinds(opts: CaptureOptions) -> tuple[str, ...]:
    return KUBECTL_KINDS + SIDE_KINDS + (("configmaps",) if opts.configmaps else ())


def _capture_lists(
    source: ClusterSource, calls: _Calls, namespaces: list[str], opts: CaptureOptions
) -> dict[tuple[str, str], list[dict[str, Any]] | None]:
    jobs = [(kind, ns) for ns in namespaces for kind in _kinds(opts)]
    results = calls.map("lists", jobs, lambda job: calls.call(job[0], job[1], None,
                                                              lambda: source.list(job[0], job[1])))
    return dict(zip(jobs, results, strict=True))


# -- lists ---------------------------------------------------------------------------------------

def _write_lists(root: Path, lists: dict[tuple[str, str], list[dict[str, Any]] | None]) -> dict[str, int]:
    """One file per list that was read; a list that failed leaves its file out (absent, not empty)."""
    version = _newest_version(item for items in lists.values() for item in items or ())
    counts: dict[str, int] = {}
    for (kind, ns), items in lists.items():
        directory = root / ns if ns else root
        directory.mkdir(parents=True, exist_ok=True)  # a namespace exists even when its lists failed
        if items is None:
            continue
        resource = RESOURCES[kind]
        clean = [keys_only(i) if kind == "configmaps" else scrub(i) for i in items]
        (directory / f"{resource.file}.json").write_text(go_json(list_document(resource, clean, version)))
        counts[kind] = counts.get(kind, 0) + len(items)
    return counts


def _newest_version(items: Iterable[dict[str, Any]]) -> str:
    """The lists were read within moments: the newest resourceVersion seen stands for all of them
    (``ClusterSource.list`` returns items, not the list's own resourceVersion)."""
    versions = [int(v) for v in (_meta(i, "resourceVersion") for i in items) if v.isdigit()]
    return str(max(versions)) if versions else "0"


# -- logs ------------------------------------------------------------------------------------------

def _capture_logs(
    source: ClusterSource, calls: _Calls, root: Path,
    lists: dict[tuple[str, str], list[dict[str, Any]] | None], opts: CaptureOptions,
) -> int:
    pods = [p for (kind, _), items in lists.items() if kind == "pods" for p in items or ()]
    blocks = calls.map("logs", pods, lambda pod: _pod_logs(source, calls, root, pod, opts))
    return sum(blocks)


def _pod_logs(source: ClusterSource, calls: _Calls, root: Path, pod: dict[str, Any], opts: CaptureOptions) -> int:
    ns, name = _meta(pod, "namespace"), _meta(pod, "name")
    spec = pod.get("spec") or {}
    containers = [c.get("name") for key in ("initContainers", "containers") for c in spec.get(key) or []]
    current = [_block(source, calls, ns, name, c, opts, previous=False) for c in containers]
    restarted = _restarted(pod) if opts.previous_logs else set()
    previous = [_block(source, calls, ns, name, c, opts, previous=True) for c in containers if c in restarted]
    written, earlier = [b for b in current if b], [b for b in previous if b]
    directory = root / ns / name
    if written or earlier:  # no directory for a pod with nothing to show (every read: pod gone)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CURRENT_LOGS).write_text("".join(written))
    if earlier:
        (directory / PREVIOUS_LOGS).write_text("".join(earlier))
    return len(written) + len(earlier)


def _block(source: ClusterSource, calls: _Calls, ns: str, pod: str, container: str, opts: CaptureOptions, *,
           previous: bool) -> str:
    """The container's block; empty when there is nothing to say (no previous instance, pod gone)."""
    label = f"{pod}/{container}" + (" (previous)" if previous else "")
    outcome = calls.attempt("logs", ns, label, lambda: source.read_log(
        ns, pod, container, previous=previous, tail_lines=opts.tail_lines))
    if isinstance(outcome, str):
        return log_block(ns, pod, container, scrub_log(outcome))
    if outcome is None or _absent(outcome, previous):
        return ""  # skipped (the cluster is gone) or nothing there: no block, as for a missing log
    calls.record("logs", ns, label, outcome)
    return log_block(ns, pod, container, None, calls.message(outcome))


def _absent(exc: SourceError, previous: bool) -> bool:
    # 400 "previous terminated container ... not found" is the normal answer for a fresh container;
    # 404 means the pod went away between the list and the read.
    return exc.status == 404 or (previous and exc.status == 400 and "not found" in str(exc))


def _restarted(pod: dict[str, Any]) -> set[str]:
    status = pod.get("status") or {}
    found = set()
    for st in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if (st.get("restartCount") or 0) > 0 or "terminated" in (st.get("lastState") or {}):
            found.add(st.get("name"))
    return found


# -- the side file ---------------------------------------------------------------------------------

def _write_side_file(root: Path, result: CaptureResult, opts: CaptureOptions) -> None:
    side = {
        "cluster": result.cluster,
        "captured_at": rfc3339.format_seconds(result.captured_at),
        "captured_by": "fleetsre clusters dump",
        "namespaces": result.namespaces,
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(opts).items()},
        "counts": result.counts,
        "errors": result.errors,
    }
    (root / SIDE_FILE).write_text(json.dumps(side, indent=2) + "\n")


def _empty_dir(path: Path) -> bool:
    """Make ``path`` an empty directory; True when it did not exist before."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(f"{path}: not an empty directory; capture into a new one")
    existed = path.exists()
    path.mkdir(parents=True, exist_ok=True)
    return not existed


def _meta(obj: dict[str, Any], key: str) -> str:
    return str((obj.get("metadata") or {}).get(key) or "")


# -- calls -------------------------------------------------------------------------------------------

class _Calls:
    """Source calls on a bounded pool: a failure is an ``errors`` entry, never an exception."""

    def __init__(self, cluster: str, concurrency: int, progress: CaptureProgress | None) -> None:
        self.cluster = cluster
        self.pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=f"capture-{cluster}")
        self.progress = progress
        self.errors: list[dict[str, Any]] = []
        self.skipped = 0
        self._transport_failures = 0
        self._refused = False  # a refused connection: nobody listens, no point asking again
        self._lock = threading.Lock()

    @property
    def gone(self) -> bool:
        return self._refused or self._transport_failures >= MAX_TRANSPORT_FAILURES

    def map(self, phase: str, jobs: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
        """``fn`` over ``jobs`` on the pool, in order, advancing ``phase``'s progress per job."""
        if self.progress:
            self.progress.begin(phase, len(jobs))

        def one(job: Any) -> Any:
            try:
                return fn(job)
            finally:
                if self.progress:
                    self.progress.advance(phase)

        return list(self.pool.map(one, jobs))

    def call(self, resource: str, ns: str | None, name: str | None, fn: Callable[[], Any]) -> Any:
        """``fn()``, or None with the failure recorded."""
        outcome = self.attempt(resource, ns, name, fn)
        if isinstance(outcome, SourceError):
            self.record(resource, ns, name, outcome)
            return None
        return outcome

    def attempt(self, resource: str, ns: str | None, name: str | None, fn: Callable[[], Any]) -> Any:
        """``fn()``, its SourceError (not recorded), or None when skipped because the cluster is gone."""
        if self.gone:
            with self._lock:
                self.skipped += 1
            return None
        try:
            result = fn()
        except SourceError as exc:
            with self._lock:
                self._transport_failures = self._transport_failures + 1 if exc.status is None else 0
                self._refused = self._refused or (exc.status is None and exc.reason == "Unreachable")
            return exc
        with self._lock:
            self._transport_failures = 0
        return result

    def record(self, resource: str, ns: str | None, name: str | None, exc: SourceError) -> None:
        entry = {"resource": resource, "namespace": ns, "name": name, "status": exc.status,
                 "reason": exc.reason, "message": self.message(exc), "retryable": exc.retryable}
        with self._lock:
            self.errors.append(entry)

    def message(self, exc: SourceError) -> str:
        """The server's message without the ``<cluster>: `` prefix sources add."""
        return str(exc).removeprefix(f"{self.cluster}: ")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.skipped:
            last = next((e["message"] for e in reversed(self.errors) if e["status"] is None), "")
            self.errors.append({"resource": "cluster", "namespace": None, "name": self.cluster, "status": None,
                                "reason": "Unreachable", "retryable": True,
                                "message": f"{self.skipped} call(s) skipped after the cluster stopped answering: {last}"})
