"""What ``submit_report`` takes: the report model's root cause, cited evidence, recommendations.

The JSON schema handed to the model is derived from :class:`Submission` (categories and trigger
kinds are the report's own enums), with ``$ref`` inlined and every property required, the form
both Anthropic tool ``input_schema`` and OpenAI/vLLM strict ``json_schema`` accept.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.report import Category, Recommendation, TriggerKind

__all__ = ["EvidenceRef", "Submission", "submission_schema"]

Table = Literal["pods", "containers", "events", "logs", "changes", "workloads", "nodes", "node_conditions", "errors"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvidenceRef(_M):
    table: Table = Field(description="the evidence table the quote is from")
    source: str = Field(description="the object it is about, e.g. pod/shop/api-1 (app) or node/worker-2")
    quote: str = Field(min_length=4, max_length=500, description="an exact excerpt of a value in that table's rows")


class Submission(_M):
    category: Category = Field(description="the root cause, from the taxonomy")
    summary: str = Field(min_length=10, max_length=2000, description="what failed and why, in one or two sentences")
    confidence: float = Field(ge=0.0, le=1.0)
    trigger_kind: TriggerKind = Field(description="what set it off, when the evidence shows it")
    trigger_detail: str = Field(max_length=500, description="e.g. the revision or change; empty when unknown")
    evidence: list[EvidenceRef] = Field(min_length=1, max_length=10, description="the evidence the answer rests on")
    recommendations: list[Recommendation] = Field(max_length=8, description="what to do, first things first")


def submission_schema() -> dict[str, Any]:
    return _strict(_inline(Submission.model_json_schema()))


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(copy.deepcopy(defs[node["$ref"].split("/")[-1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(x) for x in node]
        return node

    return walk(schema)


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items() if k != "title"}
        if node.get("type") == "object" and "properties" in node:
            node["required"] = list(node["properties"])
            node["additionalProperties"] = False
            for prop in node["properties"].values():
                prop.pop("default", None)
        return node
    if isinstance(node, list):
        return [_strict(x) for x in node]
    return node
