"""Runbooks as data: the shipped directory loads, broken files are named by file/field/reason,
selection follows the documented precedence, references and gates stay tiny and safe."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.report import CATEGORIES
from engine.runbooks import RunbookError, load_runbook, load_runbooks
from engine.templating import TemplateError, parse_gate, refs_in, render

GOOD = """\
---
id: demo
title: A demo runbook
match:
  categories: [oom_killed]
params:
  floor: 256Mi
remediation:
  mode: auto
  allow: [raise]
workflow:
  - id: oom
    tool: oom_check
  - id: raise
    tool: raise_memory_limit
    when: steps.oom.oom_killed
    args:
      container: "{{ steps.oom.container }}"
      floor: "{{ params.floor }}"
---
# Demo
"""


def _write(tmp_path: Path, text: str, name: str = "demo.md") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_shipped_runbooks_load_and_cover_every_category() -> None:
    rs = load_runbooks()
    assert len(rs) >= 12
    for category in CATEGORIES:
        assert rs.select(category) is not None, category
    assert rs.select("volume_error").id == "catch-all"
    assert {r.id for r in rs.runbooks} >= {"oom-killed", "image-pull-error", "bad-rollout", "node-cordoned",
                                           "node-not-ready", "missing-secret-or-configmap", "catch-all"}
    assert rs.by_id["oom-killed"].params["memory_cap"] == "4Gi" and "OOMKilled" in rs.by_id["oom-killed"].body


def test_a_good_runbook_keeps_its_file_and_markdown(tmp_path: Path) -> None:
    rb = load_runbook(_write(tmp_path, GOOD))
    assert rb.id == "demo" and rb.path.endswith("demo.md") and rb.body.strip() == "# Demo"
    assert [s.id for s in rb.workflow] == ["oom", "raise"] and rb.remediation.allow == ["raise"]


@pytest.mark.parametrize(("old", "new", "field", "reason"), [
    ("tool: oom_check", "tool: oom_chek", "workflow[0].tool", "unknown tool 'oom_chek'"),
    ("categories: [oom_killed]", "categories: [oom]", "match.categories[0]", "not a taxonomy category"),
    ("{{ params.floor }}", "{{ params.flor }}", "workflow[1].args.floor", "no such parameter"),
    ("{{ steps.oom.container }}", "{{ steps.later.container }}", "workflow[1].args.container", "earlier step"),
    ("{{ steps.oom.container }}", "{{ steps.oom.containr }}", "workflow[1].args.container", "has no output 'containr'"),
    ("{{ steps.oom.container }}", "{{ steps.oom.container | upper }}", "workflow[1].args.container",
     "only dotted references"),
    ("when: steps.oom.oom_killed", "when: steps.oom.oom_killed ===", "workflow[1].when", "not a YAML scalar"),
    ("      floor:", "      flor:", "workflow[1].args.flor", "takes no argument 'flor'"),
    ("allow: [raise]", "allow: [oom]", "remediation.allow[0]", "changes nothing"),
    ("allow: [raise]", "allow: [nope]", "remediation.allow[0]", "no step 'nope'"),
    ("mode: auto", "mode: sometimes", "remediation.mode", "Input should be 'recommend' or 'auto'"),
    ("  - id: raise\n", "  - id: oom\n", "workflow[1].id", "used twice"),
    ("title: A demo runbook\n", "", "title", "Field required"),
    ("id: demo", "id: Demo Book", "id", "String should match pattern"),
])
def test_a_broken_runbook_names_the_file_the_field_and_the_reason(tmp_path: Path, old: str, new: str, field: str,
                                                                   reason: str) -> None:
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(RunbookError) as err:
        load_runbook(path)
    assert err.value.path == str(path) and err.value.field == field and reason in err.value.reason
    assert str(err.value).startswith(f"{path}: {field}: ")


def test_files_without_front_matter_or_with_bad_yaml_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="must start with YAML front matter"):
        load_runbook(_write(tmp_path, "# just markdown\n"))
    with pytest.raises(RunbookError, match=r"line \d+: not valid YAML"):
        load_runbook(_write(tmp_path, "---\nid: [unclosed\n---\n"))
    with pytest.raises(RunbookError, match="body: is set by the loader"):
        load_runbook(_write(tmp_path, GOOD.replace("id: demo", "id: demo\nbody: x")))


def test_a_directory_rejects_duplicate_ids_and_skips_its_readme(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.md")
    _write(tmp_path, "# Runbooks\nno front matter here\n", "README.md")
    assert [r.id for r in load_runbooks(tmp_path).runbooks] == ["demo"]
    _write(tmp_path, GOOD, "b.md")
    with pytest.raises(RunbookError, match=r"b\.md: id: 'demo' is already used by .*a\.md"):
        load_runbooks(tmp_path)


def test_selection_prefers_the_most_specific_match() -> None:
    rs = load_runbooks()
    # category + trigger beats category alone, which beats the catch-all
    assert rs.select("image_pull_error", "rollout").id == "bad-rollout"
    assert rs.select("image_pull_error", "unknown").id == "image-pull-error"
    assert rs.select("config_error", "config_change").id == "config-error"
    ranked = rs.explain("image_pull_error", "rollout", ["KubePodNotReady"])
    assert [c.runbook.id for c in ranked[:3]] == ["bad-rollout", "image-pull-error", "catch-all"]
    assert all(c.matched for c in ranked[:3]) and not ranked[3].matched
    assert "category" in ranked[3].why


def test_alertnames_and_priority_break_ties(tmp_path: Path) -> None:
    base = GOOD.replace("allow: [raise]", "allow: []")
    _write(tmp_path, base.replace("id: demo", "id: plain"), "plain.md")
    _write(tmp_path, base.replace("id: demo", "id: named").replace("categories: [oom_killed]",
                                                                   "categories: [oom_killed]\n  alertnames: [KubePodCrashLooping]"),
           "named.md")
    _write(tmp_path, base.replace("id: demo", "id: urgent").replace("match:", "priority: 5\nmatch:"), "urgent.md")
    rs = load_runbooks(tmp_path)
    assert rs.select("oom_killed", alertnames=["KubePodCrashLooping"]).id == "named"
    assert rs.select("oom_killed", alertnames=["KubePodNotReady"]).id == "urgent"
    assert rs.select("app_crash") is None


def test_references_render_with_their_types_and_missing_ones_as_none() -> None:
    ctx = {"subject": {"name": "api"}, "steps": {"a": {"pods": ["p1", "p2"], "n": 3}}}
    assert render({"x": "{{ steps.a.pods }}", "y": "deploy/{{ subject.name }}-{{ steps.a.n }}",
                   "z": "{{ steps.b.q }}", "w": ["{{ subject.name }}"]}, ctx) == \
        {"x": ["p1", "p2"], "y": "deploy/api-3", "z": None, "w": ["api"]}
    assert refs_in(["{{ a.b }}", {"k": "x {{ c }}"}]) == ["a.b", "c"]
    with pytest.raises(TemplateError):
        refs_in("{{ __import__('os') }}")


@pytest.mark.parametrize(("gate", "holds"), [
    ("steps.n.ready", True), ("not steps.n.ready", False), ("steps.n.count > 2", True),
    ("steps.n.count <= 2", False), ("steps.n.state == 'True'", True), ("steps.n.state != True", False),
    ("trigger.kind in [rollout, node]", True), ("steps.missing.x", False), ("not steps.missing.x", True),
    ("steps.n.count == 3", True), ("steps.missing.x != 'True'", False), ("steps.missing.x == null", True),
])
def test_gates(gate: str, holds: bool) -> None:
    ctx = {"steps": {"n": {"ready": True, "count": 3, "state": "True"}}, "trigger": {"kind": "node"}}
    assert parse_gate(gate).evaluate(ctx)[0] is holds


def test_gate_syntax_errors_say_what_is_expected() -> None:
    for bad in ("", "a b c", "steps.x in rollout", "1 == 1"):
        with pytest.raises(TemplateError):
            parse_gate(bad)
