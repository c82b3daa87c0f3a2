"""Redaction of secrets in text before it is stored or leaves the process (LLM prompts included).

Covers what leaks through logs and events in practice: bearer tokens, passwords in URLs, values of
variables whose name says secret (``DB_PASSWORD=...``, ``api_key: ...``, JSON ``"TOKEN": "..."``,
Kubernetes ``- name: X_SECRET`` / ``value: ...`` pairs, ``--password value`` flags), AWS access
keys, JWTs, PEM private keys and provider tokens with a known shape (GitHub, GitLab, Slack, Google,
``sk-`` API keys). Env var VALUES are never collected in the first place (only names), so this is
the second line of defence, not the first.
"""

from __future__ import annotations

import re

__all__ = ["SECRET_WORDS", "redact"]

_MASK = "[REDACTED]"

# a name containing one of these says its value is a secret
SECRET_WORDS = (r"password|passwd|passphrase|pwd|secret|token|credentials?|api[_-]?key|access[_-]?key|"
                r"private[_-]?key|(?:signing|encryption|session|master|client|ssh|auth)[_-]?key")
# ... unless the name only names, references or locates one (secretName, tokenFile, password_path)
_NAME = rf"(?![\w.-]*(?:name|ref|file|path|dir)\b)[\w-]*(?:{SECRET_WORDS})[\w-]*"

_RULES: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys, possibly spanning lines (an unterminated one: to the end of the text). The
    # mask must not look like a BEGIN line, or redacting twice would swallow the text after it.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
        "(private key) " + _MASK,
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
    # provider tokens with a recognisable shape
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|"
                r"xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|sk-[A-Za-z0-9_-]{20,})"), _MASK),
    # Kubernetes env entries: name: X_PASSWORD (newline) value: v, and {"name": "X_TOKEN", "value": "v"}
    (re.compile(rf"(?i)(\bname:\s*[\"']?{_NAME}[\"']?\s*\n\s*(?:-\s*)?value:\s*)(\"[^\"\n]*\"|'[^'\n]*'|\S+)"),
     r"\1" + _MASK),
    (re.compile(rf"(?i)(\"name\"\s*:\s*\"{_NAME}\"\s*,\s*\"value\"\s*:\s*)\"(?:[^\"\\]|\\.)*\""),
     r'\1"' + _MASK + '"'),
    # --password value / --token=value style flags (the = form is covered below)
    (re.compile(rf"(?i)(--{_NAME}\s+)(?!-)(\S+)"), r"\1" + _MASK),
    # quoted values of secret-named keys, spaces and all: PASSWORD="a b c", "api_key": "x y"
    (re.compile(rf"(?i)\b({_NAME})(\"?\s*[=:]\s*)\"(?:[^\"\\\n]|\\.)+\""), r'\1\2"' + _MASK + '"'),
    (re.compile(rf"(?i)\b({_NAME})('?\s*[=:]\s*)'[^'\n]+'"), r"\1\2'" + _MASK + "'"),
    # key=value / key: value pairs whose key says secret. "key:" must be followed by a space or a
    # quote, so source locations such as klog's "tokencleaner.go:117]" stay readable.
    (
        re.compile(rf"(?i)\b({_NAME})(\"?\s*=\s*\"?|\"?:[ \t]+\"?|\"?:\")([^\s\"',;&]{{3,}})"),
        r"\1\2" + _MASK,
    ),
]


#: Lower-case fragments at least one of which is in any text a rule above matches (SECRET_WORDS all
#: contain pass, pwd, secret, token, credential or key). Text with none of them skips the patterns,
#: which cost milliseconds per kilobyte: most log lines and events have nothing to redact. A new
#: rule needs its fragment here.
_TRIGGERS = ("key", "pass", "pwd", "secret", "token", "credential", "eyj", "bearer", "basic", "://", "akia", "asia",
             "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "aiza", "sk-")


def redact(text: str | None) -> str | None:
    if not text:
        return text
    lowered = text.lower()
    if not any(t in lowered for t in _TRIGGERS):
        return text
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text
