"""The ``claude`` backend: the Anthropic Messages API with tool use (``anthropic`` SDK 2.x).

The SDK retries connection errors, 408/409/429/5xx (529 overloaded included) with exponential
backoff, honouring ``retry-after``; ``max_retries`` comes from config. What still fails after the
retries becomes an :class:`LLMError` and the deterministic report stands. ``base_url`` from
config, else ``$ANTHROPIC_BASE_URL`` (read by the SDK), else Anthropic's API.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from engine.config import ReasonerConfig
from engine.reasoning.base import HistoryReader, Memory
from engine.reasoning.loop import LLMError, LLMReasoner, ToolCall, Turn
from engine.reasoning.tools import SUBMIT, ToolSpec
from engine.runbooks import RunbookSet

__all__ = ["ClaudeChat", "claude_reasoner"]

log = logging.getLogger("fleetsre.reasoning")


class ClaudeChat:
    def __init__(self, client: Any, model: str, max_retries: int) -> None:
        self.client, self.model, self.max_retries = client, model, max_retries
        self.system = ""
        self.messages: list[dict[str, Any]] = []

    def start(self, system: str, user: str) -> None:
        self.system, self.messages = system, [{"role": "user", "content": user}]

    def ask(self, tools: list[ToolSpec], *, max_tokens: int, timeout_s: float, final: bool) -> Turn:
        import anthropic

        kwargs: dict[str, Any] = {
            "model": self.model, "max_tokens": max_tokens, "system": self.system, "messages": self.messages,
            "tools": [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools],
            "timeout": timeout_s}
        if final:
            kwargs["tool_choice"] = {"type": "tool", "name": SUBMIT}
        try:
            with warnings.catch_warnings(record=True) as caught:  # e.g. a model's deprecation: log, go on
                warnings.simplefilter("always")
                resp = self.client.messages.create(**kwargs)
            for w in caught:
                log.warning("anthropic: %s", w.message)
        except anthropic.RateLimitError as exc:
            raise LLMError(f"rate limited by the Anthropic API (HTTP 429) after {self.max_retries} retries") from exc
        except anthropic.APITimeoutError as exc:
            raise LLMError(f"the Anthropic API timed out (call timeout {timeout_s:.0f} s)") from exc
        except anthropic.APIConnectionError as exc:
            raise LLMError(f"cannot reach the Anthropic API at {self.client.base_url}: {exc}") from exc
        except anthropic.APIStatusError as exc:
            raise LLMError(f"the Anthropic API answered HTTP {exc.status_code}: {str(exc.message)[:200]}") from exc
        text = "".join(b.text for b in resp.content if b.type == "text")
        calls = [ToolCall(b.id, b.name, b.input if isinstance(b.input, dict) else None)
                 for b in resp.content if b.type == "tool_use"]
        usage = resp.usage
        return Turn(text, calls, int(usage.input_tokens or 0), int(usage.output_tokens or 0))

    def add_results(self, turn: Turn, results: list[tuple[ToolCall, str]]) -> None:
        content: list[dict[str, Any]] = [{"type": "text", "text": turn.text}] if turn.text else []
        content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}} for c in turn.calls]
        self.messages.append({"role": "assistant", "content": content or [{"type": "text", "text": "(no text)"}]})
        if results:
            self.messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": c.id, "content": text} for c, text in results]})
        else:
            self.messages.append({"role": "user", "content": f"Now call {SUBMIT} with your conclusion."})


def claude_reasoner(cfg: ReasonerConfig, *, history: HistoryReader | None = None, memory: Memory | None = None,
                    runbooks: RunbookSet | None = None) -> LLMReasoner:
    c = cfg.claude
    key = os.environ.get(c.api_key_env)
    if not key:
        return LLMReasoner("claude", cfg, None, model=c.model, history=history, memory=memory, runbooks=runbooks,
                           unavailable=f"{c.api_key_env} is not set (the claude backend needs an Anthropic API key)")
    import anthropic

    client = anthropic.Anthropic(api_key=key, base_url=c.base_url, max_retries=c.max_retries,
                                 timeout=cfg.call_timeout_s)
    return LLMReasoner("claude", cfg, lambda: ClaudeChat(client, c.model, c.max_retries), model=c.model,
                       history=history, memory=memory, runbooks=runbooks)
