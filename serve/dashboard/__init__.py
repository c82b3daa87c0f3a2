"""The web dashboard: static files (plain ES modules, hand-written SVG charts, no build, no CDN).

The ingress serves ``/`` (``index.html``) and ``/static/<path>`` from ``STATIC_DIR``; the pages
read the JSON API (``/api/v1/fleet/*``, ``/api/v1/incidents*``) and follow ``/api/v1/events/stream``.
``static_file`` maps a request path to a file inside ``STATIC_DIR`` and refuses anything that
would leave it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["INDEX", "STATIC_DIR", "media_type", "static_file"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = STATIC_DIR / "index.html"

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",  # ES modules need a JavaScript type
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}


def static_file(path: str) -> Path | None:
    """The file under ``STATIC_DIR`` that ``path`` names, or None (missing, a directory, or outside it)."""
    candidate = (STATIC_DIR / path).resolve()
    if not candidate.is_relative_to(STATIC_DIR) or not candidate.is_file():
        return None
    return candidate if candidate.suffix in _MEDIA_TYPES else None


def media_type(path: Path) -> str:
    return _MEDIA_TYPES[path.suffix]
