"""A real Alertmanager (Debian ``prometheus-alertmanager``, 0.25) for end-to-end tests.

:class:`Alertmanager` writes a one-receiver config (a webhook to fleetsre, ``send_resolved``,
optional bearer token), starts the binary on a free loopback port without gossip, waits for
``/-/ready`` and speaks its API v2: ``push`` (``POST /api/v2/alerts``) and ``alerts``.
:func:`postable` turns an alert from a webhook payload back into what Prometheus pushes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

__all__ = ["BINARY", "Alertmanager", "find_binary", "free_port", "postable", "webhook_config"]

BINARY = "/usr/bin/prometheus-alertmanager"


def find_binary() -> str | None:
    """The Alertmanager binary: the Debian path, else one on PATH; None when absent."""
    if os.access(BINARY, os.X_OK):
        return BINARY
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webhook_config(url: str, *, token: str | None = None, group_wait: str = "1s",
                   group_interval: str = "1s", repeat_interval: str = "1h") -> dict[str, Any]:
    """kube-prometheus routing (``group_by: [namespace]``) with short timers and one webhook receiver."""
    webhook: dict[str, Any] = {"url": url, "send_resolved": True}
    if token:
        webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {"receiver": "fleetsre", "group_by": ["namespace"], "group_wait": group_wait,
                  "group_interval": group_interval, "repeat_interval": repeat_interval},
        "receivers": [{"name": "fleetsre", "webhook_configs": [webhook]}],
    }


def postable(alert: dict[str, Any], *, ends_at: datetime | None = None) -> dict[str, Any]:
    """An API v2 ``postableAlert`` from a webhook alert: what Prometheus would push for it."""
    out = {"labels": alert["labels"], "annotations": alert.get("annotations", {}),
           "startsAt": alert["startsAt"], "generatorURL": alert.get("generatorURL", "")}
    if ends_at is not None:
        out["endsAt"] = ends_at.isoformat().replace("+00:00", "Z")
    return out


class Alertmanager:
    """One Alertmanager process; ``start`` retries on another port if the chosen one was taken."""

    def __init__(self, workdir: Path, config: dict[str, Any], *, binary: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.config = config
        self.binary = binary or find_binary() or BINARY
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "alertmanager.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0, attempts: int = 3) -> Alertmanager:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "alertmanager.yml").write_text(yaml.safe_dump(self.config, sort_keys=False))
        for _ in range(attempts):
            self.port = free_port()
            self._spawn()
            if self._wait_ready(timeout_s):
                return self
            self.stop()
        raise RuntimeError(f"Alertmanager did not become ready; its log:\n{self.log()}")

    def _spawn(self) -> None:
        storage = self.workdir / f"data-{self.port}"
        storage.mkdir(exist_ok=True)
        args = [self.binary, f"--config.file={self.workdir / 'alertmanager.yml'}", f"--storage.path={storage}",
                f"--web.listen-address=127.0.0.1:{self.port}", f"--web.external-url={self.url}",
                "--cluster.listen-address=", "--log.level=debug"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False  # exited: a taken port or a bad config
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def push(self, alerts: list[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts``, as Prometheus does; raises on a non-2xx answer."""
        r = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10.0)
        if r.status_code // 100 != 2:
            raise RuntimeError(f"Alertmanager refused the alerts: {r.status_code} {r.text}")

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts Alertmanager holds, with the fingerprints it computed."""
        r = httpx.get(f"{self.url}/api/v2/alerts", timeout=10.0)
        r.raise_for_status()
        return r.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Alertmanager:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
