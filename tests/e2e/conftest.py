"""End-to-end fixtures: the session's fleetsre app (shared with tests/integration) and a real Alertmanager.

``fleet_app`` is the integration suite's fixture, re-exported: both suites get the same singleton,
so a run of ``tests/integration tests/e2e`` starts Ray once. ``alertmanager_binary`` skips when the
Debian package is missing, except under ``CI=true``, where ``test_alertmanager_is_installed`` fails.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.alertmanager import find_binary
from tests.integration.conftest import fleet_app  # noqa: F401  (re-exported: one app per session)

MISSING = ("the real Alertmanager (/usr/bin/prometheus-alertmanager, Debian package prometheus-alertmanager) "
           "is not installed; `make alertmanager` installs it")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    binary = find_binary()
    if binary is None:
        if in_ci():
            pytest.fail(f"{MISSING} (CI installs it, so its absence here is an error)")
        pytest.skip(MISSING)
    return binary
