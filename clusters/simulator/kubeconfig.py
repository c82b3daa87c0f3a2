"""Write the kubeconfig and the fleet registry that point clients at simulated clusters.

The kubeconfig has one cluster, user and context per simulated cluster, all named after it:
``server`` is the cluster's prefixed URL on plain HTTP and the user a dummy bearer token (the
simulator checks none). ``fleet.yaml`` lists the clusters with that kubeconfig and context, the
optional ``alertmanager_url`` and the simulator ``faults`` passed through as given::

    clusters:
      - name: prod-eu-1
        kubeconfig: /abs/path/kubeconfig
        context: prod-eu-1
        alertmanager_url: http://alertmanager.prod-eu-1.example:9093
        faults: {latency_ms: 0}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DUMMY_TOKEN", "fleet_dict", "kubeconfig_dict", "write_fleet", "write_kubeconfig"]

DUMMY_TOKEN = "fleetsre-simulator"


def kubeconfig_dict(servers: Mapping[str, str], token: str = DUMMY_TOKEN) -> dict[str, Any]:
    """A kubeconfig with a cluster/user/context per ``name -> server URL``."""
    names = list(servers)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": n, "cluster": {"server": servers[n]}} for n in names],
        "users": [{"name": n, "user": {"token": token}} for n in names],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in names],
        "current-context": names[0] if names else "",
    }


def write_kubeconfig(path: str | Path, servers: Mapping[str, str], token: str = DUMMY_TOKEN) -> Path:
    return _write_yaml(path, kubeconfig_dict(servers, token))


def fleet_dict(
    names: Iterable[str],
    kubeconfig_path: str | Path,
    *,
    alertmanager_urls: Mapping[str, str] | None = None,
    faults: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The fleet registry for ``names``, all reached through one kubeconfig."""
    kubeconfig = str(Path(kubeconfig_path).resolve())
    urls, cluster_faults = alertmanager_urls or {}, faults or {}
    entries = []
    for name in names:
        entry: dict[str, Any] = {"name": name, "kubeconfig": kubeconfig, "context": name}
        if urls.get(name):
            entry["alertmanager_url"] = urls[name]
        if cluster_faults.get(name):
            entry["faults"] = dict(cluster_faults[name])
        entries.append(entry)
    return {"clusters": entries}


def write_fleet(
    path: str | Path,
    names: Iterable[str],
    kubeconfig_path: str | Path,
    *,
    alertmanager_urls: Mapping[str, str] | None = None,
    faults: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    return _write_yaml(path, fleet_dict(names, kubeconfig_path, alertmanager_urls=alertmanager_urls, faults=faults))


def _write_yaml(path: str | Path, document: Mapping[str, Any]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a reader never sees half a kubeconfig.
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(yaml.safe_dump(dict(document), sort_keys=False))
    partial.replace(target)
    return target.resolve()
