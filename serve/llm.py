"""The LLM application's configuration: Ray Serve LLM (``ray.serve.llm``) serving vLLM, as data.

One source for ``fleetsre deploy render --llm`` (the ``llm`` application: ``import_path:
ray.serve.llm:build_openai_app`` with ``args``) and for checking that configuration without a GPU
or vLLM:

- :func:`openai_app_args` renders ``build_openai_app``'s args (``LLMServingArgs``) from
  :class:`LLMOptions`;
- :func:`validate_app_args` builds Ray's own ``LLMConfig`` from each entry and applies
  ``LLMServingArgs``' checks — through ``ray.serve.llm`` when vLLM is installed, else through
  Ray's internal ``LLMConfig`` (importable without vLLM) plus the same checks by hand;
- :func:`check_engine_kwargs` applies the vLLM start-up rules that can be checked without vLLM, and
  :func:`estimate_gpu_memory` says whether the model and context fit the accelerator.

Shaped for Qwen2.5-7B-Instruct (bf16, tool calls through vLLM's ``hermes`` parser) on one 24 GB
NVIDIA L4 at ``max_model_len`` 16384; fleetsre's ``vllm`` reasoner calls it at ``/llm/v1`` (the
OpenAI-compatible route) as model ``triage-llm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["GPU_MEMORY_GB", "MODEL_SHAPES", "LLMOptions", "ModelShape", "build_llm_config", "check_engine_kwargs",
           "estimate_gpu_memory", "llm_config", "openai_app_args", "validate_app_args"]

# vLLM tool-call parsers (vllm/tool_parsers/__init__.py, 0.29-0.33; stack-facts §5), the ones a model here may use
TOOL_CALL_PARSERS = frozenset({"hermes", "qwen3_json", "qwen3_xml", "qwen3_coder", "llama3_json", "llama4_json",
                               "mistral", "granite", "pythonic", "openai", "deepseek_v3"})
# memory of Ray's accelerator types (GB), for the fit estimate
GPU_MEMORY_GB = {"T4": 16, "L4": 24, "A10G": 24, "L40S": 48, "A100-40G": 40, "A100-80G": 80, "H100": 80}
# T4 (sm75) has no bf16: vLLM needs dtype half there (stack-facts §5)
NO_BF16 = frozenset({"T4"})


@dataclass(frozen=True)
class ModelShape:
    """What decides a model's GPU memory: weights, and the KV cache per token."""

    params_b: float  # parameters, billions
    layers: int
    kv_heads: int
    head_dim: int
    max_position: int  # the context the checkpoint supports without rope scaling

    def weights_gb(self, bytes_per_param: int = 2) -> float:
        return self.params_b * 1e9 * bytes_per_param / 1e9

    def kv_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value  # K and V


# from the checkpoints' config.json
MODEL_SHAPES = {
    "Qwen/Qwen2.5-7B-Instruct": ModelShape(params_b=7.62, layers=28, kv_heads=4, head_dim=128, max_position=32768),
    "Qwen/Qwen2.5-3B-Instruct": ModelShape(params_b=3.09, layers=36, kv_heads=2, head_dim=128, max_position=32768),
    "Qwen/Qwen2.5-14B-Instruct": ModelShape(params_b=14.7, layers=48, kv_heads=8, head_dim=128, max_position=32768),
}


@dataclass(frozen=True)
class LLMOptions:
    model_id: str = "triage-llm"  # the name clients ask for (VLLMConfig.model)
    model_source: str = "Qwen/Qwen2.5-7B-Instruct"  # HF id, local path or s3:// / gs:// URI
    accelerator_type: str = "L4"
    max_model_len: int = 16384  # a long incident prompt plus tool results; the KV cache must hold it
    gpu_memory_utilization: float = 0.90
    tool_call_parser: str = "hermes"  # Qwen2.5's tool-call format
    dtype: str | None = None  # None: the checkpoint's (bf16); "half" on T4
    min_replicas: int = 1
    max_replicas: int = 2
    max_ongoing_requests: int = 64
    target_ongoing_requests: int = 32  # the builder's default is 1e9: never scales on load
    ingress_num_cpus: float = 0.25


def llm_config(opts: LLMOptions) -> dict[str, Any]:
    """One ``LLMConfig`` as the dict the Serve config carries."""
    engine: dict[str, Any] = {"max_model_len": opts.max_model_len, "gpu_memory_utilization": opts.gpu_memory_utilization,
                              "enable_auto_tool_choice": True, "tool_call_parser": opts.tool_call_parser}
    if opts.dtype:
        engine["dtype"] = opts.dtype
    return {
        "model_loading_config": {"model_id": opts.model_id, "model_source": opts.model_source},
        "accelerator_type": opts.accelerator_type,
        "engine_kwargs": engine,
        "deployment_config": {
            "max_ongoing_requests": opts.max_ongoing_requests,
            # the builder's default target is 1e9, i.e. never scales on load
            "autoscaling_config": {"min_replicas": opts.min_replicas, "max_replicas": opts.max_replicas,
                                   "target_ongoing_requests": opts.target_ongoing_requests},
        },
    }


def openai_app_args(opts: LLMOptions) -> dict[str, Any]:
    """``args`` of the ``ray.serve.llm:build_openai_app`` application (an ``LLMServingArgs``)."""
    return {"llm_configs": [llm_config(opts)],
            "ingress_deployment_config": {"ray_actor_options": {"num_cpus": opts.ingress_num_cpus}}}


def _llm_config_cls() -> tuple[type, bool]:
    """Ray's LLMConfig: the public one when ``ray.serve.llm`` imports (vLLM installed), else the internal class
    it subclasses, which imports without vLLM (stack-facts §1). Second value: whether it is the public one."""
    try:
        from ray.serve.llm import LLMConfig

        return LLMConfig, True
    except ImportError:
        from ray.llm._internal.serve.core.configs.llm_config import LLMConfig as Internal

        return Internal, False


def build_llm_config(config: LLMOptions | dict[str, Any]) -> Any:
    """Ray's ``LLMConfig`` for the options (or one rendered entry); pydantic's ValidationError when Ray
    rejects it."""
    cls, _ = _llm_config_cls()
    return cls(**(llm_config(config) if isinstance(config, LLMOptions) else config))


def check_engine_kwargs(engine_kwargs: dict[str, Any], *, model_source: str | None = None,
                        accelerator_type: str | None = None) -> list[str]:
    """The vLLM start-up rules checkable without vLLM; returns the problems (empty: fine)."""
    problems = []
    if engine_kwargs.get("enable_auto_tool_choice") and not engine_kwargs.get("tool_call_parser"):
        problems.append("enable_auto_tool_choice needs tool_call_parser (vLLM refuses to start)")
    parser = engine_kwargs.get("tool_call_parser")
    if parser is not None and parser not in TOOL_CALL_PARSERS:
        problems.append(f"unknown tool_call_parser {parser!r}")
    util = engine_kwargs.get("gpu_memory_utilization", 0.9)
    if not 0 < util <= 1:
        problems.append(f"gpu_memory_utilization must be in (0, 1], got {util}")
    shape = MODEL_SHAPES.get(model_source or "")
    mml = engine_kwargs.get("max_model_len")
    if shape and mml and mml > shape.max_position:
        problems.append(f"max_model_len {mml} exceeds {model_source}'s {shape.max_position} (needs rope scaling)")
    if accelerator_type in NO_BF16 and engine_kwargs.get("dtype") not in ("half", "float16"):
        problems.append(f"{accelerator_type} has no bf16: set engine_kwargs.dtype to half")
    return problems


def estimate_gpu_memory(model_source: str, accelerator_type: str, max_model_len: int,
                        gpu_memory_utilization: float = 0.9, overhead_gb: float = 1.5) -> dict[str, float]:
    """A rough fit: weights (16-bit) + ``overhead_gb`` (activations, CUDA graphs) within the budget vLLM takes,
    and how many full-length sequences the rest holds as KV cache. Raises KeyError for unknown models/GPUs."""
    shape, total = MODEL_SHAPES[model_source], GPU_MEMORY_GB[accelerator_type]
    budget = total * gpu_memory_utilization
    kv_gb = budget - shape.weights_gb() - overhead_gb
    per_seq_gb = shape.kv_bytes_per_token() * max_model_len / 1e9
    return {"gpu_gb": total, "budget_gb": round(budget, 2), "weights_gb": round(shape.weights_gb(), 2),
            "kv_cache_gb": round(kv_gb, 2), "kv_gb_per_full_sequence": round(per_seq_gb, 3),
            "full_sequences": max(0.0, round(kv_gb / per_seq_gb, 1))}


def validate_app_args(args: dict[str, Any]) -> list[Any]:
    """Validate ``build_openai_app`` args as Ray would; returns Ray's ``LLMConfig`` objects.

    With vLLM installed this is ``LLMServingArgs.model_validate`` itself. Without it (CPU machines, CI):
    each entry through Ray's ``LLMConfig``, ``LLMServingArgs``' own checks (known fields, at least one model,
    unique model ids), the ingress options through Serve's ``DeploymentSchema``, and check_engine_kwargs.
    Raises ValueError (pydantic's ValidationError is one) naming the problem."""
    from ray.serve.schema import DeploymentSchema

    cls, public = _llm_config_cls()
    if public:
        from ray.serve.llm import LLMServingArgs

        configs = list(LLMServingArgs.model_validate(args).llm_configs)
    else:
        unknown = set(args) - {"llm_configs", "ingress_cls_config", "ingress_deployment_config"}
        if unknown:
            raise ValueError(f"LLMServingArgs has no field(s) {sorted(unknown)}")
        configs = [c if isinstance(c, cls) else cls.model_validate(c) for c in args.get("llm_configs") or []]
        if not configs:
            raise ValueError("List of models is empty")
        if len({c.model_id for c in configs}) != len(configs):
            raise ValueError("Duplicate models found. Make sure model ids are unique.")
    DeploymentSchema(name="OpenAiIngress", **(args.get("ingress_deployment_config") or {}))
    for c in configs:
        source = c.model_loading_config.model_source
        problems = check_engine_kwargs(c.engine_kwargs, model_source=source if isinstance(source, str) else None,
                                       accelerator_type=c.accelerator_type)
        if problems:
            raise ValueError(f"{c.model_id}: " + "; ".join(problems))
    return configs
