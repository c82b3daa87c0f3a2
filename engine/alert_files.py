"""Read Alertmanager webhook payloads from a file: one payload, a JSON list of them, or JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

__all__ = ["AlertFileError", "read_payloads"]


class AlertFileError(ValueError):
    """The file holds no usable payloads; the message names the file and the line."""


def read_payloads(path: Path | str) -> list[dict[str, Any]]:
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise AlertFileError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        whole = orjson.loads(text)
    except orjson.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return [whole]
    if isinstance(whole, list):
        bad = [i for i, p in enumerate(whole) if not isinstance(p, dict)]
        if bad:
            raise AlertFileError(f"{path}: item {bad[0]} of the JSON list is not a payload object")
        return whole
    payloads = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise AlertFileError(f"{path}:{n}: not JSON (expected a payload, a JSON list or JSONL): {exc}") from exc
        if not isinstance(obj, dict):
            raise AlertFileError(f"{path}:{n}: expected a JSON object")
        payloads.append(obj)
    if not payloads:
        raise AlertFileError(f"{path}: no payloads found")
    return payloads
