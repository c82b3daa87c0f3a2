"""``kubectl cluster-info dump --output-directory`` directories as a cluster source.

:func:`load_dump` reads a dump into a :class:`~clusters.state.ClusterState` of v1 objects (old
internal types are normalised by :mod:`clusters.normalize`), plus the container logs and the
capture time. :class:`DumpSource` implements :class:`engine.sources.ClusterSource` over it.

Layout (``clusters/DUMP_FORMAT.md`` has the details)::

    DIR/nodes.json
    DIR/<ns>/{events,pods,deployments,replicasets,daemonsets,services,replication-controllers}.json
    DIR/<ns>/<pod>/logs.txt
    optional fleetsre side files:
    DIR/fleetsre-dump.json                       {"cluster": name, "captured_at": RFC3339}
    DIR/<ns>/{statefulsets,jobs,configmaps,secrets}.json
    DIR/<ns>/<pod>/logs.previous.txt             previous container instances, same block format

``.yaml`` files (``kubectl cluster-info dump -o yaml``) are read when no ``.json`` exists.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

from clusters import rfc3339
from clusters.kinds import RESOURCES, Resource
from clusters.logs import ContainerLog, parse_blocks
from clusters.normalize import normalise_list
from clusters.state import ClusterState

__all__ = ["SIDE_FILE", "ClusterState", "DumpSource", "load_dump"]

#: fleetsre's own metadata beside a dump: the cluster's name and when it was captured.
SIDE_FILE = "fleetsre-dump.json"
CURRENT_LOGS = "logs.txt"
PREVIOUS_LOGS = "logs.previous.txt"


def load_dump(path: str | Path, name: str | None = None) -> ClusterState:
    """Load a dump directory; ``name`` defaults to the side file's, then the directory's name."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"not a dump directory: {root}")
    side = _read_side_file(root)
    objects: dict[str, list[dict[str, Any]]] = {plural: [] for plural in RESOURCES}
    versions: list[str] = []
    nodes = _read_list(root, RESOURCES["nodes"])
    if nodes is not None:
        objects["nodes"], version = nodes
        versions.append(version)
    current: dict[tuple[str, str], dict[str, ContainerLog]] = {}
    previous: dict[tuple[str, str], dict[str, ContainerLog]] = {}
    for ns_dir in _namespace_dirs(root):
        versions += _load_namespace(ns_dir, objects)
        _load_logs(ns_dir, current, previous)
    objects["namespaces"] = [_namespace(ns) for ns in sorted({d.name for d in _namespace_dirs(root)})]
    return ClusterState(
        name or side.get("cluster") or root.resolve().name,
        objects,
        logs=current,
        previous_logs=previous,
        captured_at=rfc3339.parse(side.get("captured_at")),
        resource_version=_newest_version(versions),
    )


def _read_side_file(root: Path) -> dict[str, Any]:
    path = root / SIDE_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def _namespace_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _load_namespace(ns_dir: Path, objects: dict[str, list[dict[str, Any]]]) -> list[str]:
    versions = []
    for resource in RESOURCES.values():
        if not resource.namespaced or resource.file is None:
            continue
        loaded = _read_list(ns_dir, resource)
        if loaded is None:
            continue
        items, version = loaded
        for item in items:
            # Internal-type items always carry it; a hand-written side file may not.
            item.setdefault("metadata", {}).setdefault("namespace", ns_dir.name)
        objects[resource.plural] += items
        versions.append(version)
    return versions


def _read_list(directory: Path, resource: Resource) -> tuple[list[dict[str, Any]], str] | None:
    document = _read_document(directory, str(resource.file))
    if document is None:
        return None
    return normalise_list(document, resource)


def _read_document(directory: Path, stem: str) -> dict[str, Any] | None:
    json_path, yaml_path = directory / f"{stem}.json", directory / f"{stem}.yaml"
    if json_path.is_file():
        document = orjson.loads(json_path.read_bytes())
    elif yaml_path.is_file():
        document = yaml.load(yaml_path.read_text(), Loader=_YamlLoader)  # noqa: S506 - safe loader subclass
    else:
        return None
    if not isinstance(document, dict):
        raise ValueError(f"{directory / stem}: expected a List object, got {type(document).__name__}")
    return document


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that leaves timestamps as strings, as they are in the JSON form."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_logs(
    ns_dir: Path,
    current: dict[tuple[str, str], dict[str, ContainerLog]],
    previous: dict[tuple[str, str], dict[str, ContainerLog]],
) -> None:
    for pod_dir in sorted(p for p in ns_dir.iterdir() if p.is_dir()):
        key = (ns_dir.name, pod_dir.name)
        for filename, index in ((CURRENT_LOGS, current), (PREVIOUS_LOGS, previous)):
            path = pod_dir / filename
            if path.is_file():
                index[key] = parse_blocks(path.read_text(encoding="utf-8", errors="replace"))


def _namespace(name: str) -> dict[str, Any]:
    # Dumps hold no Namespace objects; each directory proves one existed, nothing more.
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _newest_version(versions: list[str]) -> str:
    numeric = [int(v) for v in versions if v.isdigit()]
    return str(max(numeric)) if numeric else "1"


class DumpSource:
    """A :class:`engine.sources.ClusterSource` over a dump directory, as of its capture time."""

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.state = load_dump(path, name)
        self.name = self.state.name

    @classmethod
    def from_state(cls, state: ClusterState) -> DumpSource:
        source = cls.__new__(cls)
        source.state, source.name = state, state.name
        return source

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        items = self.state.list(kind, namespace, label_selector=label_selector, field_selector=field_selector)
        return [_copy(item) for item in items]

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        return _copy(self.state.get(kind, namespace, name))

    def read_log(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        previous: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
    ) -> str:
        return self.state.read_log(
            namespace,
            pod,
            container,
            previous=previous,
            tail_lines=tail_lines,
            since_seconds=since_seconds,
            timestamps=timestamps,
        )

    def captured_at(self) -> datetime | None:
        return self.state.captured_at

    def __repr__(self) -> str:
        return f"DumpSource(name={self.name!r}, captured_at={self.state.captured_at})"


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    # Callers own what they get: the state's objects are shared with every other caller.
    return orjson.loads(orjson.dumps(obj))
