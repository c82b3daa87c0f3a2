"""One typed configuration for the engine, validated on load; units in field names."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClaudeConfig", "CollectConfig", "ConfigError", "load_config", "CorrelationConfig", "EngineConfig", "IngestConfig", "InvestigationConfig", "MemoryConfig",
           "ReasonerConfig", "VLLMConfig"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorrelationConfig(_Config):
    group_window_s: float = Field(
        10800.0,
        gt=0,
        description=(
            "an alert episode joins the incident of its key if it starts within this window of the end of the "
            "incident's members so far (a firing member has no end yet); a resolved incident reopens within it "
            "(flapping). 3 h covers the slowest kube-prometheus rules (KubeContainerWaiting fires after 1 h) and "
            "Alertmanager's group and repeat intervals."
        ),
    )
    node_lead_s: float = Field(
        900.0,
        ge=0,
        description=(
            "a pod alert on a node, or a node-level symptom, joins the node's incident if it starts at most this "
            "long before the node's first alert (KubeNodeNotReady waits 15 min; pods and scrape targets go down "
            "first) and before the node recovered; capped at group_window_s."
        ),
    )
    fleet_window_s: float = Field(
        1800.0,
        gt=0,
        description=(
            "workload incidents in several clusters with the same workload and first alertname, each opening "
            "within this long of the previous one, form one fleet incident (a bad rollout everywhere)"
        ),
    )
    fleet_investigate_max: int = Field(
        3,
        ge=1,
        description="member clusters of a fleet incident that get their own investigation; the others refer to it",
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


class ClaudeConfig(_Config):
    model: str = Field("claude-sonnet-4-6", description="Anthropic model id")
    api_key_env: str = Field("ANTHROPIC_API_KEY", description="environment variable holding the API key")
    base_url: str | None = Field(None, description="API base URL (None: the SDK's default, or $ANTHROPIC_BASE_URL)")
    max_retries: int = Field(3, ge=0, description="SDK retries (with backoff) on 429/529, 5xx and connection errors")


class VLLMConfig(_Config):
    base_url: str = Field("http://127.0.0.1:8000/llm/v1",
                          description="OpenAI-compatible base URL: Ray Serve LLM's route (/llm/v1) or `vllm serve`")
    model: str = Field("triage-llm", description="the served model id (LLMConfig model_id)")
    api_key_env: str | None = Field("FLEETSRE_LLM_API_KEY", description="environment variable with an API key, "
                                    "if the endpoint wants one (unset: no key)")
    max_retries: int = Field(2, ge=0, description="SDK retries (with backoff) on 429, 5xx and connection errors")


# USD per million tokens (input, output) by model id or id prefix (the longest match wins). An
# ESTIMATE for the audit trail, not a bill: check the provider's price list and override per model;
# a local vLLM costs GPU time, not tokens.
DEFAULT_PRICES_USD_PER_MTOK: dict[str, tuple[float, float]] = {
    "claude-sonnet": (3.0, 15.0),
    "claude-opus": (5.0, 25.0),
    "claude-haiku": (1.0, 5.0),
    "triage-llm": (0.0, 0.0),
}


class ReasonerConfig(_Config):
    """Who refines the deterministic report, and the bounds of its tool-use loop (per incident)."""

    backend: Literal["rules", "vllm", "claude"] = Field("rules", description="rules: the deterministic report only")
    max_rounds: int = Field(8, ge=1, description="model calls per incident (each may ask for tools)")
    max_tokens: int = Field(60_000, gt=0, description="input + output tokens per incident, all calls together")
    max_output_tokens: int = Field(2048, gt=0, description="output tokens of one call")
    timeout_s: float = Field(120.0, gt=0, description="wall-clock budget of one incident's reasoning")
    call_timeout_s: float = Field(60.0, gt=0, description="timeout of one model call")
    keep_confidence: float = Field(0.8, ge=0, le=1, description="a rules root cause this confident is kept when the "
                                   "LLM disagrees (the LLM's becomes an alternative hypothesis)")
    query_row_limit: int = Field(200, gt=0, description="rows one query_evidence call returns at most")
    query_timeout_s: float = Field(5.0, gt=0, description="a query_evidence call is interrupted after this")
    tool_result_chars: int = Field(12_000, gt=0, description="a tool result is cut to this many characters")
    claude: ClaudeConfig = Field(default_factory=ClaudeConfig)
    vllm: VLLMConfig = Field(default_factory=VLLMConfig)
    prices_usd_per_mtok: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES_USD_PER_MTOK),
        description="ESTIMATED USD per million (input, output) tokens by model id, for cost_usd_estimate")


class MemoryConfig(_Config):
    """Semantic memory (engine.memory): past incident reports and runbook sections in Qdrant."""

    enabled: bool = Field(True, description="index resolved incidents and runbooks; search them for similar ones")
    url: str | None = Field(None, description="a Qdrant server (e.g. http://qdrant:6333); None: local mode on disk")
    path: Path | None = Field(None, description="local-mode folder (None: <data_dir>/qdrant); ':memory:' for tests")
    embedding: Literal["auto", "dense", "sparse"] = Field(
        "auto",
        description=(
            "dense: all-MiniLM-L6-v2 (the `embeddings` extra, loaded offline); sparse: lexical vectors with IDF; "
            "auto: dense when the extra is importable, else sparse"
        ),
    )


class IngestConfig(_Config):
    """How a webhook is acknowledged (see engine/spool.py and the README's acknowledgement contract)."""

    ack: Literal["spooled", "stored"] = Field(
        "spooled",
        description=(
            "spooled: the ingress appends the body to its write-ahead spool and fsyncs before the 2xx; the incident "
            "manager stores and correlates it moments later (reads wait for it, up to read_barrier_s). stored: the "
            "2xx waits for the incident manager's DuckDB write (one Ray call per webhook: slower)"
        ),
    )
    fsync: bool = Field(True, description="fsync the spool before acknowledging (off: durable only against a crash "
                                          "of the process, not of the machine)")
    segment_bytes: int = Field(64 * 1024 * 1024, gt=0, description="a spool segment rolls past this size")
    batch_bytes: int = Field(4 * 1024 * 1024, gt=0, description="spooled bytes the manager stores in one transaction")
    poll_interval_s: float = Field(0.05, gt=0, description="how often the manager looks for new spooled records")
    manager_niceness: int = Field(
        0, ge=0, le=19,
        description="with ack spooled, the incident manager lowers its CPU priority by this much (os.nice) so that "
                    "acknowledgements win a contended CPU and storing catches up in the gaps. 0 (default): same "
                    "priority — on a machine shared with busier processes a niced manager falls far behind")
    read_barrier_s: float = Field(
        5.0, ge=0,
        description="a read (alerts, incidents, fleet views) first waits this long at most for what was spooled before it")


class EngineConfig(_Config):
    data_dir: Path = Field(Path("fleetsre-data"), description="Parquet evidence and the DuckDB history live here")
    correlation: CorrelationConfig = Field(default_factory=CorrelationConfig)
    collect: CollectConfig = Field(default_factory=CollectConfig)
    investigation: InvestigationConfig = Field(default_factory=InvestigationConfig)
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0, description="largest webhook body accepted")
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    remediation_mode: Literal["recommend", "auto"] = Field(
        "recommend",
        description=(
            "recommend: runbook steps that would change a cluster are written (action and kubectl command), nothing "
            "changes; auto: they are executed, where the runbook also allows auto (its remediation.mode and allow)"
        ),
    )
    runbooks_dir: Path | None = Field(None, description="runbook directory (None: the runbooks/ shipped with fleetsre)")
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    reasoner: ReasonerConfig = Field(default_factory=ReasonerConfig)


class ConfigError(ValueError):
    """A configuration file that cannot be read or does not validate; the message names the field."""


def load_config(path: Path | str, **overrides: object) -> EngineConfig:
    """An :class:`EngineConfig` from a YAML or JSON file (e.g. a mounted ConfigMap); ``overrides`` win.

    Every field is optional in the file, so ``reasoner: {backend: claude}`` alone is a valid config.
    """
    import yaml
    from pydantic import ValidationError

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the config file ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the config must be a mapping of settings, got {type(data).__name__}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return EngineConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise ConfigError(f"{p}: {where}: {first['msg']} ({exc.error_count()} error(s) in all)") from exc
