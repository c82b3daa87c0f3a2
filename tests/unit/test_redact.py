"""Redaction masks credentials and leaves ordinary log text readable."""

from __future__ import annotations

import pytest

from engine.redact import redact

# assembled, so the repository holds no literal private-key block (secret scanners flag those)
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow\n-----END RSA " + "PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("connecting to postgres://app:s3cr3tpw@db:5432/app", "s3cr3tpw"),
        ("DB_PASSWORD=hunter2 starting", "hunter2"),
        ('{"api_key": "abcd1234efgh"}', "abcd1234efgh"),
        ("password: hunter2", "hunter2"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ("key AKIAABCDEFGHIJKLMNOP used", "AKIAABCDEFGHIJKLMNOP"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU", "c2lnbmF0dXJlX2hlcmU"),
        (PEM, "MIIEow"),
    ],
)
def test_credentials_are_masked(text, leaked):
    out = redact(text)
    assert leaked not in out and "[REDACTED]" in out


@pytest.mark.parametrize(
    "text",
    [
        "I1031 10:00:00.000000       1 tokencleaner.go:117] Shutting down token cleaner controller",
        'MountVolume.SetUp failed for volume "tls" : secret "example-tls" not found',
        "secretName: example-tls",
        "token_file=/var/run/secrets/kubernetes.io/serviceaccount/token",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == text
