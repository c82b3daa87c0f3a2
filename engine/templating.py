"""The runbooks' tiny expression language: ``{{ dotted.path }}`` references and step gates.

Deliberately small and safe (nothing is evaluated as code):

- a *reference* is a dotted path into the workflow's context: ``subject.name``,
  ``root_cause.category``, ``trigger.kind``, ``incident.id``, ``params.fallback_image``,
  ``steps.<step id>.<output>``. A path that leads nowhere resolves to ``None``.
- ``render(value, ctx)`` replaces ``{{ ref }}`` in strings, recursively through lists and maps. A
  string that is exactly one reference keeps the referenced value's type (a list stays a list).
- a *gate* (``when:`` / ``when_all:``) is ``[not] REF [OP LITERAL]`` with OP one of ``== != > >= < <=
  in``; LITERAL is a YAML scalar (``true``, ``3``, ``'True'``, ``rollout``) or, for ``in``, a flow
  list (``[a, b]``). Without OP the gate is REF's truthiness. A comparison with a missing value
  is false (``!=`` too), so a step that failed or was skipped never opens a later step's gate.

``refs_in`` and ``parse_gate`` let the loader check every reference before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["ROOTS", "Gate", "TemplateError", "lookup", "parse_gate", "refs_in", "render"]

#: The names a reference may start with.
ROOTS = ("subject", "root_cause", "trigger", "incident", "params", "steps")

_REF = r"[A-Za-z_][\w-]*(?:\.[\w-]+)*"
_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_WHOLE = re.compile(r"^\{\{\s*(" + _REF + r")\s*\}\}$")
_GATE = re.compile(r"^(not\s+)?(" + _REF + r")(?:\s*(==|!=|>=|<=|>|<|\s+in\s+)\s*(.+))?$")


class TemplateError(ValueError):
    """A reference or gate that cannot be parsed; the message says what is wrong."""


def refs_in(value: Any) -> list[str]:
    """Every ``{{ ref }}`` in a value (strings, lists, maps); TemplateError for a malformed one."""
    if isinstance(value, str):
        found = []
        for inner in _PLACEHOLDER.findall(value):
            if not re.fullmatch(_REF, inner):
                raise TemplateError(f"{{{{ {inner} }}}}: only dotted references like {{{{ subject.name }}}} are allowed")
            found.append(inner)
        if "{{" in _PLACEHOLDER.sub("", value):
            raise TemplateError(f"{value!r}: unclosed '{{{{'")
        return found
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in refs_in(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs_in(v)]
    return []


def lookup(ctx: Mapping[str, Any], ref: str) -> Any:
    """The value at a dotted path; None when any part is missing."""
    cur: Any = ctx
    for part in ref.split("."):
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit():
            cur = cur[int(part)] if int(part) < len(cur) else None
        else:
            return None
        if cur is None:
            return None
    return cur


def render(value: Any, ctx: Mapping[str, Any]) -> Any:
    """``value`` with its references replaced from ``ctx`` (missing ones become None / empty text)."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return lookup(ctx, whole.group(1))
        return _PLACEHOLDER.sub(lambda m: _text(lookup(ctx, m.group(1))), value)
    if isinstance(value, Mapping):
        return {k: render(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, ctx) for v in value]
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Gate:
    """A parsed gate: ``negate``, the reference, and an optional comparison."""

    source: str
    ref: str
    op: str | None = None
    literal: Any = None
    negate: bool = False

    def evaluate(self, ctx: Mapping[str, Any]) -> tuple[bool, Any]:
        """(whether the gate holds, the referenced value)."""
        value = lookup(ctx, self.ref)
        result = bool(value) if self.op is None else _compare(value, self.op, self.literal)
        return (not result if self.negate else result), value


def parse_gate(text: str) -> Gate:
    if not isinstance(text, str) or not text.strip():
        raise TemplateError("a gate must be a non-empty string like 'steps.oom.oom_killed'")
    m = _GATE.match(text.strip())
    if not m:
        raise TemplateError(f"{text!r}: expected '[not] REF [== != > >= < <= in] VALUE'")
    negate, ref, op, raw = bool(m.group(1)), m.group(2), m.group(3), m.group(4)
    if op is None:
        return Gate(text, ref, negate=negate)
    op = op.strip()
    try:
        literal = yaml.safe_load(raw)
    except yaml.YAMLError:
        literal = {}
    if isinstance(literal, dict):
        raise TemplateError(f"{text!r}: the value {raw!r} is not a YAML scalar or list; expected "
                            "'[not] REF [== != > >= < <= in] VALUE'")
    if op == "in" and not isinstance(literal, list):
        raise TemplateError(f"{text!r}: 'in' needs a list such as [a, b]")
    return Gate(text, ref, op, literal, negate)


def _compare(value: Any, op: str, literal: Any) -> bool:
    if value is None:  # a missing output (a step that failed or was skipped) never satisfies a comparison
        return op == "==" and literal is None
    if op == "in":
        return value in literal or (value is not None and str(value) in [str(x) for x in literal])
    if op in ("==", "!="):
        same = value == literal or (value is not None and literal is not None and str(value) == str(literal))
        return same if op == "==" else not same
    try:
        a, b = float(value), float(literal)
    except (TypeError, ValueError):
        return False
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]
