"""investigate() against the scenario generator's ground truth (``clusters.scenarios``).

Every registered scenario is written as a dump with its alerts and ``expected.json``, collected
through ``DumpSource`` and ``collect_incident``, and investigated: category, trigger kind and
subject must match what the scenario says it built. Then, for two more seeds, every scenario goes
through ``fleetsre investigate --dump`` (in-process, no Ray) the way a user runs it: scenarios are
packed a few per cluster (``pack_faults``: at most one that touches nodes, no shared workloads),
so the CLI also has to keep several incidents of one cluster apart.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

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


# -- through the CLI, several scenarios per cluster ------------------------------------------------
CLI_SEEDS = (1, 2)
PACKS = [(seed, i, faults) for seed in CLI_SEEDS
         for i, faults in enumerate(scenarios.pack_faults(sorted(library.SCENARIOS), seed=seed))]


def test_packs_cover_every_scenario_for_each_seed():
    for seed in CLI_SEEDS:
        packed = [f.scenario for s, _, faults in PACKS if s == seed for f in faults]
        assert sorted(packed) == sorted(library.SCENARIOS)


@pytest.mark.parametrize(("seed", "index", "faults"), PACKS,
                         ids=[f"seed{s}-" + "+".join(f.scenario for f in fs) for s, _, fs in PACKS])
def test_cli_names_category_and_trigger(tmp_path, seed, index, faults):
    from clusters.scenarios import build_cluster, write_cluster
    from serve.cli import app

    result = write_cluster(build_cluster(f"pack-{index}", faults, seed=seed), tmp_path / "c")
    out = CliRunner().invoke(app, ["investigate", "--dump", str(result.dump), "--alerts", str(result.alerts),
                                   "--format", "json", "--data-dir", str(tmp_path / "data")])
    assert out.exit_code == 0, out.output
    reports = json.loads(out.stdout)
    assert len(result.incidents) == len(faults)
    for exp in result.incidents:
        covering = [r for r in reports if set(exp["alerts"]) & set(r["alerts"])]
        assert covering, exp["scenario"]
        got = {(r["root_cause"]["category"], r["root_cause"]["trigger"]["kind"]) for r in covering}
        assert got == {(exp["category"], exp["trigger"])}, (exp["scenario"], [r["root_cause"]["summary"]
                                                                              for r in covering])
        assert set(exp["alerts"]) <= {fp for r in covering for fp in r["alerts"]}


def test_full_volume_is_one_incident(tmp_path):
    """KubePersistentVolumeFillingUp names a claim: correlation follows it to the workload mounting it."""
    from serve.cli import app

    result = scenarios.write_scenario("disk_full", tmp_path / "s", seed=1)
    out = CliRunner().invoke(app, ["investigate", "--dump", str(result.dump), "--alerts", str(result.alerts),
                                   "--format", "json", "--data-dir", str(tmp_path / "data")])
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.stdout)) == 1


def test_a_crash_on_a_node_under_pressure_keeps_its_own_cause(tmp_path):
    """Pressure on the node one crash-looping pod happens to run on does not explain its refused connections.

    (Were all its pods there, correlation would fold the workload into the node's incident.)"""
    from clusters.scenarios import Fault, build_cluster, write_cluster
    from clusters.scenarios.scen_infra import move
    from serve.cli import app

    cb = build_cluster("squeezed", [Fault("node_pressure", seed=3), Fault("dependency_unavailable", seed=3)], seed=3)
    node = next(n for n in cb.nodes if n.name == cb.incidents[0].subject["name"])
    dep = cb.incidents[1].subject
    pods = [p for p in cb.pods if p.namespace == dep["namespace"] and p.owner_name.startswith(dep["name"] + "-")]
    move(cb, pods[0], node)
    result = write_cluster(cb, tmp_path / "c")
    out = CliRunner().invoke(app, ["investigate", "--dump", str(result.dump), "--alerts", str(result.alerts),
                                   "--format", "json", "--data-dir", str(tmp_path / "data")])
    assert out.exit_code == 0, out.output
    crash = next(i for i in result.incidents if i["category"] == "dependency_unavailable")
    reports = [r for r in json.loads(out.stdout) if set(crash["alerts"]) & set(r["alerts"])]
    assert reports and {r["root_cause"]["category"] for r in reports} == {"dependency_unavailable"}
