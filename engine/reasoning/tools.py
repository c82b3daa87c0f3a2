"""The model's tools: read-only by construction, results redacted and size-capped.

``query_evidence`` (SQL over this incident's evidence, :mod:`engine.reasoning.sandbox`),
``search_history`` (past incidents by fixed filters; parameterised SQL, no free SQL),
``similar_incidents`` and ``runbook_sections`` (semantic memory, when configured), ``get_runbook``
(a loaded runbook by id) and ``submit_report`` (the answer; handled by the loop, not here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.incident import Incident
from engine.reasoning.base import HistoryReader, Memory
from engine.reasoning.prompt import data_block, redact_values
from engine.reasoning.sandbox import EvidenceSandbox
from engine.reasoning.submission import submission_schema
from engine.redact import redact
from engine.runbooks import RunbookSet

__all__ = ["SUBMIT", "ToolBox", "ToolSpec"]

SUBMIT = "submit_report"


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or [], "additionalProperties": False}


_TEXT = {"type": "string", "description": "what to look for (default: the current root cause summary)"}
_K = {"type": "integer", "minimum": 1, "maximum": 10, "description": "how many (default 5)"}


def tool_specs() -> list[ToolSpec]:
    return [
        ToolSpec("query_evidence", "Run ONE read-only DuckDB SQL SELECT over this incident's evidence tables "
                 "(listed in the prompt). At most 200 rows; a few seconds.",
                 _obj({"sql": {"type": "string", "description": "a single SELECT or WITH ... SELECT"}}, ["sql"])),
        ToolSpec("search_history", "Past incidents from the incident history, newest first, by exact filters.",
                 _obj({"cluster": {"type": "string"}, "namespace": {"type": "string"},
                       "workload": {"type": "string", "description": "the subject's name"},
                       "category": {"type": "string"}, "alertname": {"type": "string"},
                       "limit": {"type": "integer", "minimum": 1, "maximum": 20}})),
        ToolSpec("similar_incidents", "Past incident reports most similar to a text (semantic memory).",
                 _obj({"text": _TEXT, "k": _K})),
        ToolSpec("runbook_sections", "Runbook sections most relevant to a text (semantic memory).",
                 _obj({"text": _TEXT, "k": _K})),
        ToolSpec("get_runbook", "A runbook by id: its match rules, workflow and text.",
                 _obj({"name": {"type": "string"}}, ["name"])),
        ToolSpec(SUBMIT, "Submit the final report (once, at the end).", submission_schema()),
    ]


class ToolBox:
    """Runs the model's tool calls for one incident; every result is a redacted, capped string."""

    def __init__(self, incident: Incident, sandbox: EvidenceSandbox, *, default_text: str,
                 history: HistoryReader | None = None, memory: Memory | None = None,
                 runbooks: RunbookSet | None = None, max_chars: int = 12_000) -> None:
        self.incident, self.sandbox, self.default_text = incident, sandbox, default_text
        self.history, self.memory, self.runbooks, self.max_chars = history, memory, runbooks, max_chars
        self.specs = tool_specs()
        self._handlers = {"query_evidence": self._query_evidence, "search_history": self._search_history,
                          "similar_incidents": self._similar_incidents, "runbook_sections": self._runbook_sections,
                          "get_runbook": self._get_runbook}

    def call(self, name: str, args: dict[str, Any] | None) -> tuple[str, bool]:
        """(the result as the model sees it, whether the call succeeded)."""
        handler = self._handlers.get(name)
        if handler is None:
            result: Any = {"error": f"unknown tool {name!r}; tools: {', '.join(s.name for s in self.specs)}"}
        elif not isinstance(args, dict):
            result = {"error": "the arguments must be a JSON object"}
        else:
            try:
                result = handler(**args)
            except TypeError as exc:  # unexpected or missing argument names
                result = {"error": f"bad arguments: {exc}"}
            except Exception as exc:  # a tool failure is an answer the model can work with
                result = {"error": f"{type(exc).__name__}: {exc}"}
        ok = not (isinstance(result, dict) and "error" in result)
        return self._format(name, result), ok

    def _format(self, name: str, result: Any) -> str:
        text = redact(json.dumps(redact_values(result), default=str, ensure_ascii=False)) or ""
        if len(text) > self.max_chars:
            text = text[: self.max_chars] + f"...[cut: {len(text) - self.max_chars} more characters]"
        return data_block(f"tool:{name}", text)

    # -- the tools --------------------------------------------------------------------------------
    def _query_evidence(self, sql: str) -> dict[str, Any]:
        return self.sandbox.query(sql)

    def _search_history(self, cluster: str | None = None, namespace: str | None = None,
                        workload: str | None = None, category: str | None = None,
                        alertname: str | None = None, limit: int = 10) -> Any:
        if self.history is None:
            return {"error": "incident history not available here"}
        where, params = ["i.id <> ?", "i.opened_at <= ?"], [self.incident.id, self.incident.updated_at]
        for value, cond in ((cluster, "i.cluster = ?"),
                            (namespace, "json_extract_string(i.subject, '$.namespace') = ?"),
                            (workload, "json_extract_string(i.subject, '$.name') = ?"),
                            (category, "i.category = ?"),
                            (alertname, "EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id "
                                        "AND a.alertname = ?)")):
            if value:
                where.append(cond)
                params.append(str(value))
        rows = self.history.query(
            "SELECT i.id, i.cluster, i.subject, i.status, i.opened_at, i.resolved_at, i.category, i.confidence, "
            f"i.summary, i.trigger_kind FROM incidents i WHERE {' AND '.join(where)} "
            "ORDER BY i.opened_at DESC, i.id LIMIT ?", [*params, max(1, min(int(limit), 20))])
        return {"incidents": rows, "count": len(rows)}

    def _similar_incidents(self, text: str | None = None, k: int = 5) -> Any:
        if self.memory is None:
            return {"error": "semantic memory not configured"}
        return {"incidents": self.memory.similar_incidents(text or self.default_text, k=_k(k),
                                                           exclude_id=self.incident.id)}

    def _runbook_sections(self, text: str | None = None, k: int = 5) -> Any:
        if self.memory is None:
            return {"error": "semantic memory not configured"}
        return {"sections": self.memory.runbook_sections(text or self.default_text, k=_k(k))}

    def _get_runbook(self, name: str) -> Any:
        rb = self.runbooks.by_id.get(name) if self.runbooks else None
        if rb is None:
            known = ", ".join(self.runbooks.by_id) if self.runbooks else "none loaded"
            return {"error": f"no runbook {name!r}; known: {known}"}
        return {"id": rb.id, "title": rb.title, "match": rb.match.model_dump(),
                "workflow": [{"id": s.id, "tool": s.tool, "description": s.description} for s in rb.workflow],
                "text": rb.body[:6000]}


def _k(k: int) -> int:
    return max(1, min(int(k), 10))
