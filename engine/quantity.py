"""Kubernetes memory quantities: parse ``384Mi`` / ``1.5Gi`` / ``500M`` / ``1e9`` to bytes and back."""

from __future__ import annotations

import re

__all__ = ["format_bytes", "parse_quantity"]

_SUFFIX = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(?:e([0-9]+))?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")


def parse_quantity(text: str | int | float | None) -> int | None:
    """Bytes in a memory quantity, or None when it is empty or not a quantity."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return int(text)
    m = _QUANTITY.match(str(text).strip())
    if not m:
        return None
    number, exponent, suffix = m.groups()
    value = float(number) * (10 ** int(exponent) if exponent else 1) * _SUFFIX[suffix or ""]
    return int(-(-value // 1))  # round up: a limit is never made smaller by parsing


def format_bytes(n: int) -> str:
    """The shortest binary quantity that holds at least ``n`` bytes: ``Gi`` when exact, else ``Mi``."""
    if n % 2**30 == 0:
        return f"{n // 2**30}Gi"
    if n % 2**20 == 0:
        return f"{n // 2**20}Mi"
    return f"{-(-n // 2**20)}Mi"
