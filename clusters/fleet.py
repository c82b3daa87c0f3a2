"""The fleet registry (``fleet.yaml``): which clusters exist and how to reach them.

```yaml
clusters:
  - name: prod-eu-1
    kubeconfig: ~/.kube/config     # + context; or in_cluster: true; or dump: DIR
    context: prod-eu-1
    alertmanager_url: http://alertmanager.monitoring.svc:9093   # maps a payload's externalURL
    zone: eu-west-1                # placement: collected from Ray nodes advertising `zone:eu-west-1`
    token: s3cret                  # optional bearer token the webhook requires for this cluster
    faults: {latency_ms: 200}      # simulator only
collectors:
  max_actors: 8                    # per zone: past this many clusters, clusters share collector actors
```
A cluster without ``zone`` is collected wherever Ray schedules it (see ``serve/placement.py``).
Relative paths are relative to the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.sources import ClusterSource

__all__ = ["ClusterEntry", "Fleet", "FleetError", "load_fleet"]


class FleetError(ValueError):
    """The fleet file is unreadable or invalid; the message names the file and the field."""


class ClusterEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False
    dump: Path | None = None
    alertmanager_url: str | None = None
    # a Ray custom resource name part (`zone:<zone>`) and an actor/worker-group name part
    zone: str | None = Field(None, min_length=1, max_length=40, pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
    token: str | None = Field(None, repr=False)
    faults: dict[str, Any] | None = None
    request_timeout_s: float = 10.0

    @model_validator(mode="after")
    def _one_source(self) -> ClusterEntry:
        kinds = [bool(self.kubeconfig or self.context), self.in_cluster, self.dump is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one source: kubeconfig (+ context), in_cluster: true, or dump: DIR")
        return self

    def source(self) -> ClusterSource:
        if self.dump is not None:
            from clusters.dump import DumpSource

            return DumpSource(self.dump, name=self.name)
        from clusters.live import LiveSource

        if self.in_cluster:
            return LiveSource.in_cluster(self.name, timeout_s=self.request_timeout_s)
        return LiveSource.from_kubeconfig(self.kubeconfig, self.context, name=self.name,
                                          timeout_s=self.request_timeout_s)


class CollectorsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_actors: int = Field(8, gt=0)


class Fleet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clusters: list[ClusterEntry] = Field(default_factory=list)
    collectors: CollectorsConfig = Field(default_factory=CollectorsConfig)

    @model_validator(mode="after")
    def _unique(self) -> Fleet:
        seen: set[str] = set()
        for c in self.clusters:
            if c.name in seen:
                raise ValueError(f"cluster name {c.name!r} appears twice")
            seen.add(c.name)
        return self

    def names(self) -> list[str]:
        return [c.name for c in self.clusters]

    def get(self, name: str) -> ClusterEntry | None:
        return next((c for c in self.clusters if c.name == name), None)

    def zones(self) -> list[str]:
        """The zones clusters are pinned to, sorted."""
        return sorted({c.zone for c in self.clusters if c.zone})

    def url_map(self) -> dict[str, str]:
        return {c.alertmanager_url.rstrip("/"): c.name for c in self.clusters if c.alertmanager_url}

    def tokens(self) -> dict[str, str]:
        return {c.name: c.token for c in self.clusters if c.token}


def load_fleet(path: Path | str) -> Fleet:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise FleetError(f"{path}: cannot read fleet file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise FleetError(f"{path}: not valid YAML: {exc}") from exc
    try:
        fleet = Fleet.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise FleetError(f"{path}: {loc}: {err['msg']}") from exc
    base = path.parent.resolve()
    for c in fleet.clusters:
        if c.kubeconfig is not None and not c.kubeconfig.is_absolute():
            c.kubeconfig = (base / c.kubeconfig.expanduser()).resolve()
        if c.dump is not None and not c.dump.is_absolute():
            c.dump = (base / c.dump).resolve()
    return fleet
