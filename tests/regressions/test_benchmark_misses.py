"""Detector misses and false alarms found by the labelled benchmark corpus."""

from __future__ import annotations

import pytest

from mcpcred.audit.secrets import Detector

detector = Detector()


@pytest.mark.parametrize(
    ("value", "name", "role"),
    [
        # mcp-remote's README: --header "Authorization:${AUTH_HEADER}" with the value in env
        ("Bearer 7ad2c4e1f0b94a6d8e3f5a7c9b1d2e4f6a8c0b2d", "AUTH_HEADER", "env"),
        ("Basic dXNlcjpodW50ZXIyMjIyMjI=", "MY_HEADER", "env"),
        # upper-case-and-digit keys are not variable names
        ("QB5K7ZP4M1RT9X2N", "ALPHA_VANTAGE_API_KEY", "env"),
        ("Bearer QB5K7ZP4M1RT9X2N", "Authorization", "header"),
        # a placeholder word inside a random key is chance, not a placeholder
        ("BSAiTodo3O5cnfI51vWn2Y1MmVJKabu", "BRAVE_API_KEY", "env"),
        ("k9FakeQz3LmX7sRb4KdZ1wYc8NfJ3hPg", "SERVICE_TOKEN", "env"),
        # base64 secrets may start with "/" (AWS secret access keys)
        ("/ahV8KdZ1wYc8NfJ3hPgq7Vt2LmX9sRb4Kd+Z1wY", "AWS_SECRET_ACCESS_KEY", "env"),
    ],
)
def test_found(value: str, name: str, role: str) -> None:
    assert [h.secret for h in detector.scan(value, name, role)] == [value.split(" ")[-1]]


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("3F990E0F3A5B7C9D1E2F4A6B8C0D2E4F6A8B0C1D", "GPG_KEY_FINGERPRINT"),
        ("3F990E0F3A5B7C9D1E2F4A6B8C0D2E4F6A8B0C1D", "CERT_THUMBPRINT"),
        ("Bearer your-token-here", "AUTH_HEADER"),
        ("Bearer ${TOKEN}", "AUTH_HEADER"),
        ("Token of appreciation", "MESSAGE"),
        ("GITHUB_TOKEN", "bearer_token_env_var"),
        ("your-fake-key-here-123", "API_KEY"),
    ],
)
def test_not_found(value: str, name: str) -> None:
    assert detector.scan(value, name, "env") == []
