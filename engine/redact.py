"""Redaction of secrets in text before it is stored or leaves the process.

Covers what leaks through logs and events in practice: bearer tokens, passwords in URLs,
``password=...`` style pairs, AWS access keys, JWTs and PEM private keys. Env var VALUES are never
collected in the first place (only names), so this is the second line of defence, not the first.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

_MASK = "[REDACTED]"

_RULES: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys, possibly spanning lines
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
        "-----BEGIN PRIVATE KEY-----" + _MASK,
    ),
    # JWTs (three base64url segments, header starts with eyJ)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), _MASK),
    # Authorization: Bearer <token> / Basic <creds>
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + _MASK),
    # scheme://user:password@host
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/\s@]+):[^@\s/]+@"), r"\1:" + _MASK + "@"),
    # AWS access key ids and secret keys
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), _MASK),
    (re.compile(r"(?i)(aws_secret_access_key\s*[=:]\s*)[A-Za-z0-9/+=]{30,}"), r"\1" + _MASK),
    # key=value / key: value pairs whose key says secret. Not keys that only name or locate one
    # (secretName, tokenFile, password_path), and "key:" must be followed by a space or a quote,
    # so source locations such as klog's "tokencleaner.go:117]" stay readable.
    (
        re.compile(
            r"(?i)\b((?![\w.-]*(?:name|ref|file|path|dir)\b)"
            r"[\w-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[\w-]*)"
            r"(\"?\s*=\s*\"?|\"?:[ \t]+\"?|\"?:\")([^\s\"',;&]{3,})"
        ),
        r"\1\2" + _MASK,
    ),
]


def redact(text: str | None) -> str | None:
    if not text:
        return text
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text
