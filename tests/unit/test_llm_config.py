"""The vLLM deployment's configuration, built and validated without a GPU or vLLM.

What `fleetsre deploy render --llm` writes as the `llm` application is fed to Ray's own ``LLMConfig``
(the internal class, importable without vLLM; the public one when vLLM is installed) and to
``LLMServingArgs``' checks; its field names are checked against ``LLMServingArgs`` as written in Ray's
source, so a Ray upgrade that renames them fails here rather than on a GPU node.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pydantic
import pytest
import yaml

from serve.deploy import LLM_IMPORT_PATH, RenderOptions, render, serve_config
from serve.llm import (
    LLMOptions,
    build_llm_config,
    check_engine_kwargs,
    estimate_gpu_memory,
    openai_app_args,
    validate_app_args,
)


def _llm_app(opts: RenderOptions) -> dict:
    (app,) = [a for a in serve_config(opts)["applications"] if a["name"] == "llm"]
    return app


def test_rendered_llm_application_validates_as_rays_llm_config():
    app = _llm_app(RenderOptions(llm=True))
    assert app["import_path"] == LLM_IMPORT_PATH == "ray.serve.llm:build_openai_app"
    (cfg,) = validate_app_args(app["args"])
    assert cfg.model_id == "triage-llm"
    assert cfg.model_loading_config.model_source == "Qwen/Qwen2.5-7B-Instruct"
    assert cfg.accelerator_type == "L4" and cfg.accelerator_config.kind == "gpu"
    assert cfg.engine_kwargs == {"max_model_len": 16384, "gpu_memory_utilization": 0.9,
                                 "enable_auto_tool_choice": True, "tool_call_parser": "hermes"}
    assert cfg.max_request_context_length == 16384
    auto = cfg.deployment_config["autoscaling_config"]
    assert auto["target_ongoing_requests"] == 32 and auto["max_replicas"] == 2


def test_rendered_file_round_trips_through_yaml_and_validates(tmp_path):
    render(RenderOptions(llm=True), tmp_path)
    doc = yaml.safe_load((tmp_path / "serve-config.yaml").read_text())
    (app,) = [a for a in doc["applications"] if a["name"] == "llm"]
    assert app["route_prefix"] == "/llm"
    assert [c.model_id for c in validate_app_args(app["args"])] == ["triage-llm"]


def test_ray_rejects_a_bad_accelerator_and_a_bad_deployment_config():
    assert build_llm_config(LLMOptions(accelerator_type="A10G", max_replicas=4)).accelerator_type == "A10G"
    good = openai_app_args(LLMOptions())["llm_configs"][0]
    with pytest.raises(pydantic.ValidationError, match="Unsupported accelerator type"):
        build_llm_config({**good, "accelerator_type": "RTX-4090-ish"})
    bad_deploy = {**good, "deployment_config": {**good["deployment_config"], "max_ongoing_requests": -1}}
    with pytest.raises(pydantic.ValidationError, match="Invalid deployment config"):
        build_llm_config(bad_deploy)


def test_serving_args_checks_hold_without_vllm():
    args = openai_app_args(LLMOptions())
    with pytest.raises(ValueError, match="Duplicate models"):
        validate_app_args({**args, "llm_configs": args["llm_configs"] * 2})
    with pytest.raises(ValueError, match="empty"):
        validate_app_args({**args, "llm_configs": []})
    with pytest.raises(ValueError):
        validate_app_args({**args, "ingress_deployment_config": {"ray_actor_options": {"num_cpus": "lots"}}})
    no_parser = openai_app_args(LLMOptions(tool_call_parser=""))
    with pytest.raises(ValueError, match="tool_call_parser"):
        validate_app_args(no_parser)


def test_args_fields_match_llm_serving_args_in_rays_source():
    """The field names of LLMServingArgs, read from Ray's source with ast (the module itself needs vLLM)."""
    spec = importlib.util.find_spec("ray.llm._internal.serve.core.ingress.builder")
    tree = ast.parse(Path(spec.origin).read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "LLMServingArgs"]
    fields = {s.target.id for s in cls.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    assert fields == {"llm_configs", "ingress_cls_config", "ingress_deployment_config"}
    assert set(openai_app_args(LLMOptions())) <= fields
    (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build_openai_app"]
    assert "LLMServingArgs.model_validate" in ast.unparse(fn)  # what build_openai_app does with its args


def test_engine_kwargs_rules_vllm_enforces_at_start_up():
    assert check_engine_kwargs(openai_app_args(LLMOptions())["llm_configs"][0]["engine_kwargs"],
                               model_source="Qwen/Qwen2.5-7B-Instruct", accelerator_type="L4") == []
    assert check_engine_kwargs({"enable_auto_tool_choice": True})
    assert check_engine_kwargs({"tool_call_parser": "made_up"})
    assert check_engine_kwargs({"max_model_len": 65536}, model_source="Qwen/Qwen2.5-7B-Instruct")
    assert check_engine_kwargs({}, accelerator_type="T4") and not check_engine_kwargs({"dtype": "half"},
                                                                                      accelerator_type="T4")


def test_qwen_7b_at_16k_fits_one_l4_and_not_a_t4():
    l4 = estimate_gpu_memory("Qwen/Qwen2.5-7B-Instruct", "L4", 16384)
    assert l4["weights_gb"] == pytest.approx(15.24)
    assert l4["kv_gb_per_full_sequence"] == pytest.approx(0.94, abs=0.01)  # 56 KiB/token: 28 layers x 4 KV heads
    assert 4 <= l4["full_sequences"] <= 6
    assert estimate_gpu_memory("Qwen/Qwen2.5-7B-Instruct", "T4", 16384)["full_sequences"] == 0


def test_public_api_accepts_the_args_when_vllm_is_installed():
    """With the `vllm` extra (a GPU image), Ray's public LLMServingArgs validates the same args."""
    pytest.importorskip("vllm")
    from ray.serve.llm import LLMServingArgs

    parsed = LLMServingArgs.model_validate(_llm_app(RenderOptions(llm=True))["args"])
    assert [c.model_id for c in parsed.llm_configs] == ["triage-llm"]
