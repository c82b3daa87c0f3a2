"""The model's tools against a real scenario incident: the evidence sandbox refuses anything but one
SELECT over redacted copies, caps rows and time; history, memory and runbook tools read only."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from engine.history import HistoryStore
from engine.incident import Incident
from engine.reasoning.sandbox import EvidenceSandbox
from engine.reasoning.tools import ToolBox
from engine.runbooks import load_runbooks
from tests.unit.reasoning_stubs import PLANTED, oom_case


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return oom_case(tmp_path_factory.mktemp("case"))


@pytest.fixture()
def sandbox(case):
    with case.evidence() as ev:
        box = EvidenceSandbox(ev, row_limit=200, timeout_s=0.5)
    yield box
    box.close()


@pytest.mark.parametrize(("sql", "why"), [
    ("INSERT INTO logs SELECT * FROM logs", "not INSERT"),
    ("DELETE FROM logs", "not DELETE"),
    ("DROP TABLE logs", "not DROP"),
    ("COPY logs TO '/tmp/leak.csv'", "not COPY"),
    ("ATTACH '/tmp/other.duckdb' AS o", "not ATTACH"),
    ("SET enable_external_access=true", "not SET"),
    ("PRAGMA database_list", "not PRAGMA"),
    ("SELECT 1; SELECT 2", "exactly one statement"),
    ("SELECT * FROM read_csv('/etc/passwd')", "disabled"),
    ("SELECT * FROM read_text('/etc/hostname')", "disabled"),
    ("SELECT * FROM 'https://example.com/x.parquet'", ""),
    ("", "empty query"),
])
def test_query_evidence_refuses_all_but_one_select(sandbox, sql, why):
    out = sandbox.query(sql)
    assert "error" in out and "rows" not in out
    assert why.lower() in out["error"].lower()


def test_the_sandbox_cannot_be_reconfigured_or_read_files(sandbox):
    assert "error" in sandbox.query("SELECT * FROM read_parquet('/work/main/**/*.parquet')")
    assert sandbox.query("SELECT current_setting('enable_external_access') AS v")["rows"] == [[False]]


def test_rows_and_time_are_capped(sandbox):
    out = sandbox.query("SELECT * FROM range(1000)")
    assert out["row_count"] == 200 and out["truncated"] is True
    slow = sandbox.query("SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range + b.range = -1")
    assert "interrupted" in slow["error"]
    assert sandbox.query("SELECT 42 AS answer")["rows"] == [[42]]  # usable after an interrupt


def test_only_redacted_text_is_queryable(sandbox):
    """substr() cannot rebuild a secret: the copy holds redacted values only."""
    out = sandbox.query("SELECT line, substr(line, 20, 40) AS piece FROM logs WHERE pod = 'planted-0'")
    text = json.dumps(out)
    assert out["row_count"] == 6 and "[REDACTED]" in text
    assert all(secret not in text for secret in PLANTED.values())


def test_query_evidence_reads_this_incidents_tables(sandbox):
    out = sandbox.query("WITH c AS (SELECT * FROM containers) SELECT DISTINCT last_reason FROM c "
                        "WHERE last_reason IS NOT NULL")
    assert ["OOMKilled"] in out["rows"]
    assert set(sandbox.schema()) >= {"pods", "containers", "events", "logs", "errors"}


def _toolbox(case, sandbox, **kw):
    return ToolBox(case.incident, sandbox, default_text="payments-api OOMKilled", **kw)


def test_tool_results_are_quoted_capped_and_unknown_tools_refused(case, sandbox):
    box = _toolbox(case, sandbox, max_chars=300)
    text, ok = box.call("query_evidence", {"sql": "SELECT * FROM range(1000)"})
    assert ok and text.startswith('<untrusted_data source="tool:query_evidence">') and "[cut:" in text
    for name, args in (("format", {}), ("_get_runbook", {"name": "x"}), ("submit_report", {}),
                       ("query_evidence", {"query": "SELECT 1"}), ("query_evidence", None)):
        text, ok = box.call(name, args)
        assert not ok and "error" in text


def test_memory_tools_say_when_memory_is_missing_and_use_it_when_present(case, sandbox):
    text, ok = _toolbox(case, sandbox).call("similar_incidents", {})
    assert not ok and "semantic memory not configured" in text

    class FakeMemory:
        def similar_incidents(self, text, k=5, exclude_id=None):
            return [{"incident_id": "old-1", "cluster": "sim-2", "category": "oom_killed", "summary": text,
                     "score": 0.9, "excluded": exclude_id}]

        def runbook_sections(self, text, k=5):
            return [{"runbook": "oom-killed", "section": "Why", "text": 'env {"API_KEY": "abcd 1234secret"}',
                     "score": 0.5}][:k]

    box = _toolbox(case, sandbox, memory=FakeMemory())
    text, ok = box.call("similar_incidents", {"k": 3})
    assert ok and "old-1" in text and "payments-api OOMKilled" in text and '"excluded": "inc-0"' in text
    text, ok = box.call("runbook_sections", {"text": "oom"})
    assert ok and "1234secret" not in text  # results are redacted too, quoted JSON in a value included


def test_get_runbook_by_id(case, sandbox):
    box = _toolbox(case, sandbox, runbooks=load_runbooks())
    text, ok = box.call("get_runbook", {"name": "oom-killed"})
    assert ok and "raise" in text.lower()
    text, ok = box.call("get_runbook", {"name": "nope"})
    assert not ok and "oom-killed" in text


def test_search_history_filters_and_never_sees_this_or_later_incidents(case, sandbox, tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    inc = case.incident
    past = inc.model_copy(update={"id": "past-1", "opened_at": inc.opened_at - timedelta(days=2),
                                  "updated_at": inc.opened_at - timedelta(days=2)})
    later = inc.model_copy(update={"id": "later-1", "opened_at": inc.updated_at + timedelta(days=1)})
    other = Incident.model_validate({**past.model_dump(), "id": "other-ns",
                                     "subject": {**past.subject.model_dump(), "namespace": "shop"}})
    for i in (inc, past, later, other):
        store.upsert_incident(i)
    box = _toolbox(case, sandbox, history=store)
    text, ok = box.call("search_history", {"namespace": "payments", "workload": "payments-api"})
    assert ok and "past-1" in text and "later-1" not in text and "other-ns" not in text and '"inc-0"' not in text
    text, ok = box.call("search_history", {"namespace": "x' OR 1=1 --"})
    assert ok and '"count": 0' in text
    store.close()
