"""Steps only a person can take: ``create_missing_object`` (a Secret or ConfigMap, never with
guessed values) and ``advise`` (a written recommendation). Both are recorded as ``recommended``
in every mode: they have no ``apply``."""

from __future__ import annotations

import re
from typing import Any

from engine.tools.base import Plan, Refused, Tool, ToolContext, need

__all__ = ["ADVISE", "CREATE_MISSING_OBJECT", "missing_reference"]

_PATTERNS = (
    (re.compile(r"couldn't find key (?P<key>[\w.-]+) in (?P<kind>ConfigMap|Secret) (?:(?P<ns>[\w.-]+)/)?(?P<name>[\w.-]+)"),
     None),
    (re.compile(r'(?P<kind>secret|configmap)s? "(?P<name>[\w.-]+)" not found', re.I), None),
)


def missing_reference(ctx: ToolContext) -> dict[str, str] | None:
    """{"kind", "name", "key"?} of the first missing Secret/ConfigMap named in statuses or events."""
    texts = [str(c.get("message") or "") for c in ctx.rows("containers")]
    texts += [str(e.get("message") or "") for e in ctx.rows("events")]
    for text in texts:
        for pattern, _ in _PATTERNS:
            m = pattern.search(text)
            if m:
                kind = "Secret" if m.group("kind").lower() == "secret" else "ConfigMap"
                found = {"kind": kind, "name": m.group("name")}
                if "key" in m.groupdict() and m.group("key"):
                    found["key"] = m.group("key")
                else:
                    found.update(_referenced_key(ctx, kind, m.group("name")))
                return found
    return None


def _referenced_key(ctx: ToolContext, kind: str, name: str) -> dict[str, str]:
    prefix = f"{'secret' if kind == 'Secret' else 'configmap'}:{name}:"
    for c in ctx.rows("containers"):
        for ref in c.get("env_refs") or []:
            if str(ref).startswith(prefix):
                return {"key": str(ref)[len(prefix):]}
    return {}


def _create(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    found = {k: str(v) for k, v in args.items() if k in ("kind", "name", "key") and v} or missing_reference(ctx)
    if not found or not found.get("name"):
        raise Refused("no missing Secret or ConfigMap is named in the pods' statuses or events")
    kind, name, key = found.get("kind", "Secret"), found["name"], found.get("key") or "<key>"
    namespace = str(args.get("namespace") or ctx.subject.namespace or "")
    verb = "secret generic" if kind == "Secret" else "configmap"
    command = ctx.kubectl(f"create {verb} {name} --from-literal={key}=<value>", namespace)
    return Plan(f"create {kind} {namespace}/{name} with key {key} (its value must come from its owner; "
                "fleetsre never guesses values)", command, f"{kind.lower()}/{namespace}/{name}", None,
                {"kind": kind, "name": name, "key": key}, manual="values are never guessed: a person supplies them")


def _advise(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    action = str(need(args, "action"))
    command = str(args.get("command") or "")
    s = ctx.subject
    return Plan(action, command, f"{s.kind.lower()}/{s.namespace + '/' if s.namespace else ''}{s.name}", None,
                manual="a judgement call for a person")


CREATE_MISSING_OBJECT = Tool(
    "create_missing_object", "recommend creating the missing Secret or ConfigMap (never automatic)", _create,
    mutates=True, manual=True, optional=("kind", "name", "key", "namespace"), outputs=("kind", "name", "key"))
ADVISE = Tool("advise", "a written recommendation with an optional command (never automatic)", _advise,
              manual=True, required=("action",), optional=("command",))
