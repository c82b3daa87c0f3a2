"""JSON exactly as Go's ``encoding/json`` writes it.

Go escapes ``<``, ``>`` and ``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026`` (HTML-safe encoding is
on by default for both ``json.Marshal`` and ``json.Encoder``) and U+2028/U+2029 likewise, and
leaves other non-ASCII text as UTF-8. Maps are written with sorted keys; structs in field order,
which callers reproduce by building dicts in that order.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["compact", "pretty"]

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_TABLE = str.maketrans(_ESCAPES)


def compact(obj: Any) -> str:
    """``json.Marshal``: no whitespace."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).translate(_TABLE)


def pretty(obj: Any) -> str:
    """``json.MarshalIndent(obj, "", "    ")`` as kubectl prints lists, plus its trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=4).translate(_TABLE) + "\n"
