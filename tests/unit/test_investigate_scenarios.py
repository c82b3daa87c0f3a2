"""investigate() against the scenario generator's ground truth (``clusters.scenarios``).

Every registered scenario is written as a dump with its alerts and ``expected.json``, collected
through ``DumpSource`` and ``collect_incident``, and investigated: category, trigger kind and
subject must match what the scenario says it built.
"""

from __future__ import annotations

import pytest

from engine.alerts import AlertTarget
from engine.evidence_query import IncidentEvidence
from engine.investigate import investigate

dump = pytest.importorskip("clusters.dump")
collect = pytest.importorskip("engine.collect")
scenarios = pytest.importorskip("clusters.scenarios.compose")
library = pytest.importorskip("clusters.scenarios.library")


@pytest.mark.parametrize("name", sorted(library.SCENARIOS))
def test_scenario_ground_truth(tmp_path, name):
    from engine.alert_files import read_payloads
    from engine.alerts import normalise, parse_payload
    from engine.evidence import write_evidence
    from engine.incident import Incident

    result = scenarios.write_scenario(name, tmp_path / "scenario")
    alerts = {}
    for payload in read_payloads(tmp_path / "scenario" / "alerts.jsonl"):
        for a in parse_payload(payload)[1]:
            alerts[a.fingerprint] = normalise(a, "sim-1")
    src = dump.DumpSource(tmp_path / "scenario" / "dump", name="sim-1")
    for i, exp in enumerate(result.incidents):
        group = [alerts[f] for f in exp["alerts"] if f in alerts]
        s = exp["subject"]
        subject = AlertTarget(kind=s["kind"], namespace=s.get("namespace"), name=s["name"])
        first, last = min(a.startsAt for a in group), max(a.startsAt for a in group)
        inc = Incident(
            id=f"inc-{i}",
            cluster="sim-1",
            key="k",
            subject=subject,
            opened_at=first,
            updated_at=last,
            alerts=group,
        )
        targets = [a.target() for a in group] + ([subject] if subject.kind == "Node" else [])
        write_evidence(
            tmp_path, collect.collect_incident(src, collect.CollectRequest("sim-1", inc.id, targets, last))
        )
        rc = investigate(inc, IncidentEvidence(tmp_path, inc.id)).root_cause
        assert (rc.category, rc.trigger.kind) == (exp["category"], exp["trigger"]), rc.summary
        assert (rc.subject.kind, rc.subject.name) == (s["kind"], s["name"])
