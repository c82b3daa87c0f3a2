"""One typed configuration for the engine, validated on load; units in field names."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CollectConfig", "CorrelationConfig", "EngineConfig", "InvestigationConfig"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorrelationConfig(_Config):
    group_window_s: float = Field(
        10800.0,
        gt=0,
        description=(
            "an alert joins the incident with the same key if it started within this window of the incident's "
            "newest activity; a resolved incident reopens within it. 3 h covers the slowest kube-prometheus rules "
            "(KubeContainerWaiting fires after 1 h) and Alertmanager's group and repeat intervals."
        ),
    )


class CollectConfig(_Config):
    event_lookback_s: int = Field(3600, gt=0, description="how far back from the incident clock to keep events")
    log_tail_lines: int = Field(200, gt=0, description="lines of each container log to fetch")
    log_since_s: int | None = Field(None, description="only log lines newer than this (None: no limit)")
    max_pods_per_workload: int = Field(6, gt=0, description="pods of one workload whose logs are read")
    max_concurrency: int = Field(8, gt=0, description="concurrent API calls per cluster")
    request_timeout_s: float = Field(10.0, gt=0, description="timeout of one API call")
    collect_timeout_s: float = Field(60.0, gt=0, description="deadline for one cluster's whole collection")


class InvestigationConfig(_Config):
    recent_rollout_s: int = Field(3600, gt=0, description="a revision this recent before the incident is a suspect")


class EngineConfig(_Config):
    data_dir: Path = Field(Path("fleetsre-data"), description="Parquet evidence and the DuckDB history live here")
    correlation: CorrelationConfig = Field(default_factory=CorrelationConfig)
    collect: CollectConfig = Field(default_factory=CollectConfig)
    investigation: InvestigationConfig = Field(default_factory=InvestigationConfig)
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0, description="largest webhook body accepted")
    remediation_mode: Literal["recommend", "auto"] = Field(
        "recommend",
        description=(
            "recommend: runbook steps that would change a cluster are written (action and kubectl command), nothing "
            "changes; auto: they are executed, where the runbook also allows auto (its remediation.mode and allow)"
        ),
    )
    runbooks_dir: Path | None = Field(None, description="runbook directory (None: the runbooks/ shipped with fleetsre)")
