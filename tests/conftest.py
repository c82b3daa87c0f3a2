"""Shared fixtures: paths to the reference samples and small payload builders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real formats (captured Alertmanager webhooks, real dumps, event messages, app logs), vendored from
# the project's reference material with their provenance inside each file.
SAMPLES = ROOT / "tests" / "fixtures" / "samples"
CAPTURED = SAMPLES / "alertmanager" / "captured-0.25.0"
DUMPS = SAMPLES / "dumps"


@pytest.fixture
def captured() -> dict[str, dict]:
    if not CAPTURED.is_dir():
        pytest.skip(f"reference samples not found at {CAPTURED}")
    return {p.name: json.loads(p.read_text()) for p in CAPTURED.glob("*.json")}


def make_alert(alertname: str, labels: dict[str, str] | None = None, *, fp: str, starts: str,
               status: str = "firing", ends: str = "0001-01-01T00:00:00Z") -> dict:
    return {
        "status": status,
        "labels": {"alertname": alertname, **(labels or {})},
        "annotations": {"summary": alertname},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up&g0.tab=1",
        "fingerprint": fp,
    }


def make_payload(*alerts: dict, external_url: str = "http://alertmanager.monitoring:9093") -> dict:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "receiver": "Default", "status": status, "alerts": list(alerts), "groupLabels": {},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": external_url, "version": "4",
        "groupKey": "{}:{}", "truncatedAlerts": 0,
    }
