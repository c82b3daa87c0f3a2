"""Seeded randomness that looks like what Kubernetes and containerd generate.

Everything a scenario draws comes from a :class:`Rand` seeded from strings, so the same seed gives
byte-identical output on every machine (``random.Random`` hashes ``str`` seeds with SHA-512, which
does not depend on ``PYTHONHASHSEED``).
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = ["ALPHANUMS", "Rand", "derive", "fnv32a", "safe_encode", "template_hash"]

#: ``k8s.io/apimachinery/pkg/util/rand`` alphabet: no vowels, no 0/1/3 (no words, no look-alikes).
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


class Rand(random.Random):
    """A ``random.Random`` with generators for Kubernetes-shaped identifiers."""

    def uid(self) -> str:
        """A UUID v4, as the API server assigns to ``metadata.uid``."""
        n = self.getrandbits(128)
        n = (n & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
        n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hexstr(self, length: int) -> str:
        return f"{self.getrandbits(4 * length):0{length}x}"

    def suffix(self, length: int = 5) -> str:
        """The random tail ``generateName`` gets (``utilrand.String(5)``)."""
        return "".join(self.choice(ALPHANUMS) for _ in range(length))

    def container_id(self) -> str:
        return "containerd://" + self.hexstr(64)

    def digest(self) -> str:
        return "sha256:" + self.hexstr(64)

    def between(self, low: float, high: float) -> float:
        return self.uniform(low, high)


def derive(*parts: Any) -> Rand:
    """A generator seeded from ``parts`` (deterministic across processes)."""
    return Rand(":".join(str(p) for p in parts))


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """``rand.SafeEncodeString``: map each byte onto :data:`ALPHANUMS`."""
    return "".join(ALPHANUMS[ord(c) % len(ALPHANUMS)] for c in s)


def template_hash(template: dict[str, Any]) -> str:
    """A ``pod-template-hash`` the way the deployment controller derives it.

    The controller hashes the pod template with FNV-32a and safe-encodes the decimal value, so the
    label only ever uses the characters ``4-9bcdf``. Identical templates give identical hashes, in
    any cluster, which is what makes the same rollout recognisable across a fleet.
    """
    raw = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    return safe_encode(str(fnv32a(raw)))
