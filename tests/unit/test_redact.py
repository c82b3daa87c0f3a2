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
        # env vars whose names say secret, in the forms logs and manifests print them
        ('DB_PASSWORD="two words"', "two words"),
        ("export API_TOKEN='a b c'", "a b c"),
        ('{"MYSQL_ROOT_PASSWORD": "s3cret value"}', "s3cret value"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("GOOGLE_CREDENTIALS: abcdef123", "abcdef123"),
        ("SESSION_KEY=abcdef123", "abcdef123"),
        ("- name: STRIPE_SECRET\n  value: sk_live_abc123", "sk_live_abc123"),
        ('{"name": "DB_PASSWORD", "value": "hunter2"}', "hunter2"),
        ("exec app --password hunter2 --user bob", "hunter2"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_abcdefghijklmnopqrstuvwxyz0123"),
        # provider prefixes assembled, so no literal in the repository looks like a real token to scanners
        ("ANTHROPIC key " + "sk-ant-" + "api03-abcdefghijklmnopqrstuv", "abcdefghijklmnopqrstuv"),
        ("slack " + "xoxb-" + "123456789012-abcdefghij", "123456789012"),
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
        "cd /srv && pwd",
        "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}",
        "--password-file /etc/app/pw",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == text


def test_redacting_twice_changes_nothing_more():
    """Prompts are built from already-redacted evidence and redacted again: the masks must not
    re-trigger a rule (a PEM mask that looked like a BEGIN line once swallowed the rest of the text)."""
    text = f"before\n{PEM}\nafter DB_PASSWORD=x1y2z3 and more"
    once = redact(text)
    assert redact(once) == once and once.endswith("after DB_PASSWORD=[REDACTED] and more")
