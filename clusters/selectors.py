"""Label and field selectors, parsed and matched the way the API server does.

One implementation serves the dump source and the simulator, so a selector that works against a
dump works against the simulator, and a selector the apiserver would reject (an unsupported field,
a malformed requirement) is rejected by both with the apiserver's message (HTTP 400).

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a``, ``!a``,
``a>1``, ``a<1``; a comma means AND. Field selectors: ``field=value``, ``field==value``,
``field!=value`` over the fields the apiserver supports for the kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldRequirement",
    "LabelRequirement",
    "SelectorError",
    "matches",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A selector the apiserver would reject with 400 BadRequest; the text is its message."""


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        return present and _compare(value, self.op, self.values[0])


def _compare(value: str | None, op: str, bound: str) -> bool:
    # gt/lt compare integers; a non-integer label value never matches (as in apimachinery).
    try:
        left, right = int(value or ""), int(bound)
    except ValueError:
        return False
    return left > right if op == ">" else left < right


_SET_TERM = re.compile(r"^(?P<key>[^\s!=<>(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_NOT_TERM = re.compile(r"^!\s*(?P<key>[^\s!=<>(),]+)$")
_OP_TERM = re.compile(r"^(?P<key>[^\s!=<>(),]+)\s*(?P<op>==|=|!=|>|<)\s*(?P<value>[^\s!=<>(),]*)$")
_KEY_TERM = re.compile(r"^(?P<key>[^\s!=<>(),]+)$")


def parse_label_selector(selector: str | None) -> tuple[LabelRequirement, ...]:
    """Requirements that must all hold; an empty selector selects everything."""
    return tuple(_parse_label_term(term) for term in _split_top_level(selector or ""))


def _parse_label_term(term: str) -> LabelRequirement:
    if m := _SET_TERM.match(term):
        values = tuple(v.strip() for v in m["values"].split(",") if v.strip())
        return LabelRequirement(m["key"], m["op"], values)
    if m := _NOT_TERM.match(term):
        return LabelRequirement(m["key"], "!")
    if m := _OP_TERM.match(term):
        op = "=" if m["op"] == "==" else m["op"]
        if op in (">", "<") and not m["value"].lstrip("-").isdigit():
            raise SelectorError(f"unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer: {term}")
        return LabelRequirement(m["key"], op, (m["value"],))
    if m := _KEY_TERM.match(term):
        return LabelRequirement(m["key"], "exists")
    raise SelectorError(f"unable to parse requirement: found '{term}', expected: key, '=', '!=', 'in', 'notin'")


def _split_top_level(selector: str) -> list[str]:
    """Split on commas outside parentheses: ``a in (x,y),b`` is two terms."""
    terms, depth, current = [], 0, []
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t.strip() for t in terms if t.strip()]


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


def parse_field_selector(selector: str | None, kind: str) -> tuple[FieldRequirement, ...]:
    """Requirements over ``kind``'s supported fields (plural REST name)."""
    requirements = []
    for term in _split_unescaped(selector or ""):
        m = re.match(r"^(?P<field>[^!=]+?)\s*(?P<op>==|!=|=)\s*(?P<value>.*)$", term)
        if not m:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{term}'")
        field = m["field"].strip()
        if field not in _FIELDS_COMMON and field not in _FIELDS.get(kind, {}):
            raise SelectorError(f'field label not supported: {field}')
        op = "!=" if m["op"] == "!=" else "="
        requirements.append(FieldRequirement(field, op, _unescape(m["value"])))
    return tuple(requirements)


def _split_unescaped(selector: str) -> list[str]:
    # A backslash escapes ",", "=" and "\" inside values (fields.EscapeValue in apimachinery).
    parts = re.split(r"(?<!\\),", selector)
    return [p.strip() for p in parts if p.strip()]


def _unescape(value: str) -> str:
    return re.sub(r"\\([\\,=])", r"\1", value)


def _path(*keys: str) -> Callable[[Mapping[str, Any]], str]:
    def get(obj: Mapping[str, Any]) -> str:
        node: Any = obj
        for key in keys:
            node = node.get(key) if isinstance(node, Mapping) else None
        # The apiserver compares strings; booleans print as Go does, absent fields as "".
        if isinstance(node, bool):
            return "true" if node else "false"
        return "" if node is None else str(node)

    return get


_FIELDS_COMMON = {"metadata.name": _path("metadata", "name"), "metadata.namespace": _path("metadata", "namespace")}

# The fields each kind's apiserver registry accepts (pkg/registry/*/strategy.go, conversion.go).
_FIELDS: dict[str, dict[str, Callable[[Mapping[str, Any]], str]]] = {
    "pods": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": lambda o: "true" if (o.get("spec") or {}).get("hostNetwork") else "false",
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "events": {
        **{f"involvedObject.{f}": _path("involvedObject", f) for f in (
            "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    "nodes": {"spec.unschedulable": lambda o: "true" if (o.get("spec") or {}).get("unschedulable") else "false"},
    "namespaces": {"status.phase": _path("status", "phase")},
    "secrets": {"type": _path("type")},
    "replicasets": {"status.replicas": _path("status", "replicas")},
    "replicationcontrollers": {"status.replicas": _path("status", "replicas")},
    "jobs": {"status.successful": _path("status", "successful")},
}


def matches(
    obj: Mapping[str, Any],
    kind: str,
    labels: tuple[LabelRequirement, ...] = (),
    fields: tuple[FieldRequirement, ...] = (),
) -> bool:
    """Whether ``obj`` (a v1 dict of ``kind``) satisfies every label and field requirement."""
    object_labels = (obj.get("metadata") or {}).get("labels") or {}
    if not all(r.matches(object_labels) for r in labels):
        return False
    getters = {**_FIELDS_COMMON, **_FIELDS.get(kind, {})}
    return all((getters[r.field](obj) == r.value) == (r.op == "=") for r in fields)
