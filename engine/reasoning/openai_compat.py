"""The ``vllm`` backend: an OpenAI-compatible chat API (Ray Serve LLM's route, or ``vllm serve``).

Tools go in OpenAI format with ``tool_choice="auto"`` (vLLM needs ``enable_auto_tool_choice`` and a
``tool_call_parser``). When the model answers in prose instead of calling ``submit_report``, the
answer is asked for once more with ``response_format`` = the submit_report JSON schema (strict),
which vLLM enforces with structured outputs. The ``openai`` SDK retries 429/5xx/connection errors
with backoff (``max_retries``); what still fails becomes an :class:`LLMError`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from engine.config import ReasonerConfig
from engine.reasoning.base import HistoryReader, Memory
from engine.reasoning.loop import LLMError, LLMReasoner, ToolCall, Turn
from engine.reasoning.submission import submission_schema
from engine.reasoning.tools import SUBMIT, ToolSpec
from engine.runbooks import RunbookSet

__all__ = ["OpenAIChat", "vllm_reasoner"]


class OpenAIChat:
    def __init__(self, client: Any, model: str, max_retries: int) -> None:
        self.client, self.model, self.max_retries = client, model, max_retries
        self.messages: list[dict[str, Any]] = []

    def start(self, system: str, user: str) -> None:
        self.messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def ask(self, tools: list[ToolSpec], *, max_tokens: int, timeout_s: float, final: bool) -> Turn:
        kwargs: dict[str, Any] = {
            "model": self.model, "messages": self.messages, "max_tokens": max_tokens, "timeout": timeout_s,
            "tools": [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                        "parameters": t.parameters}} for t in tools],
            "tool_choice": "none" if final else "auto"}
        if final:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": SUBMIT, "schema": submission_schema(), "strict": True}}
        resp = self._create(kwargs, timeout_s)
        if not resp.choices:
            raise LLMError("the OpenAI-compatible API returned no choices")
        msg = resp.choices[0].message
        calls = [ToolCall(c.id, c.function.name, _object(c.function.arguments), c.function.arguments or "")
                 for c in (msg.tool_calls or []) if getattr(c, "function", None)]
        if final and not calls and msg.content:
            calls = [ToolCall("final", SUBMIT, _object(msg.content), msg.content)]
        usage = resp.usage
        return Turn(msg.content or "", calls, int(getattr(usage, "prompt_tokens", 0) or 0),
                    int(getattr(usage, "completion_tokens", 0) or 0))

    def _create(self, kwargs: dict[str, Any], timeout_s: float) -> Any:
        import openai

        try:
            return self.client.chat.completions.create(**kwargs)
        except openai.RateLimitError as exc:
            raise LLMError(f"rate limited by {self.client.base_url} (HTTP 429) after {self.max_retries} "
                           "retries") from exc
        except openai.APITimeoutError as exc:
            raise LLMError(f"{self.client.base_url} timed out (call timeout {timeout_s:.0f} s)") from exc
        except openai.APIConnectionError as exc:
            raise LLMError(f"cannot reach the OpenAI-compatible API at {self.client.base_url}: {exc}") from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"{self.client.base_url} answered HTTP {exc.status_code}: {str(exc.message)[:200]}") \
                from exc

    def add_results(self, turn: Turn, results: list[tuple[ToolCall, str]]) -> None:
        msg: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
        if turn.calls:
            msg["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": c.raw or json.dumps(c.arguments or {})}}
                                 for c in turn.calls]
        self.messages.append(msg)
        if results:
            self.messages += [{"role": "tool", "tool_call_id": c.id, "content": text} for c, text in results]
        else:
            self.messages.append({"role": "user", "content": f"Now give your conclusion as the {SUBMIT} JSON."})


def _object(raw: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(raw or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def vllm_reasoner(cfg: ReasonerConfig, *, history: HistoryReader | None = None, memory: Memory | None = None,
                  runbooks: RunbookSet | None = None) -> LLMReasoner:
    import openai

    v = cfg.vllm
    key = os.environ.get(v.api_key_env) if v.api_key_env else None
    # a local vLLM wants no key, but the SDK insists on one: send a placeholder
    client = openai.OpenAI(api_key=key or "not-needed", base_url=v.base_url, max_retries=v.max_retries,
                           timeout=cfg.call_timeout_s)
    return LLMReasoner("vllm", cfg, lambda: OpenAIChat(client, v.model, v.max_retries), model=v.model,
                       history=history, memory=memory, runbooks=runbooks)
