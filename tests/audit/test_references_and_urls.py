"""Issue 12 §4: a value is a reference only when all of it is one; URL passwords as drivers read them.

A password such as ``Kq$vZ2$xP9mN4`` used to be read as two ``$VAR`` references
and dropped; a password with an unencoded ``#``, ``?`` or ``/`` ended the URL's
authority early and was missed. Each case below failed on the code before the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpcred.audit.rules import Auditor
from mcpcred.audit.scan import scan
from mcpcred.audit.secrets import Detector, is_reference, parse_url
from mcpcred.host import Host

detector = Detector()


def found(value: str, name: str | None = None, role: str = "env") -> list[tuple[str, str]]:
    return [(h.kind, value[h.start : h.end]) for h in detector.scan(value, name, role)]


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("Kq$vZ2$xP9mN4", "DB_PASSWORD"),
        ("Kq$vZ2$xP9mN4", "PGPASSWORD"),
        ("ab%DBPASS%cd9Z", "MYSQL_PASSWORD"),
        ("x9$Lm2#Qv7!", "REDIS_PASSWORD"),
    ],
)
def test_a_password_with_dollar_or_percent_signs_is_a_literal(value: str, name: str) -> None:
    assert found(value, name) == [("password", value)]


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("$DB_PASSWORD", "DB_PASSWORD"),
        ("${DB_PASSWORD}", "DB_PASSWORD"),
        ("${env:DB_PASSWORD}", "DB_PASSWORD"),
        ("{env:DB_PASSWORD}", "DB_PASSWORD"),
        ("%DB_PASSWORD%", "DB_PASSWORD"),
        ("${input:db-password}", "DB_PASSWORD"),
        ("Bearer $API_TOKEN", "Authorization"),
        ("Bearer ${env:API_TOKEN}", "Authorization"),
        ("${{ secrets.API_TOKEN }}", "API_TOKEN"),
        ("{{mcpcred:secret/api}}", "API_TOKEN"),
        ("$HOME/.config/key.txt", "API_KEY"),
    ],
)
def test_a_value_that_is_all_reference_is_clean(value: str, name: str) -> None:
    assert found(value, name, "header" if name == "Authorization" else "env") == []


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("$Kq9vZ2xP9mN4", "DB_PASSWORD"),  # a generated password that starts with "$"
        ("$ecretPass1", "PGPASSWORD"),
        ("%Kq9vZ2xP9mN4%", "MYSQL_PASSWORD"),
    ],
)
def test_a_password_that_only_looks_like_one_dollar_variable_is_a_literal(
    value: str, name: str
) -> None:
    """``$NAME`` is a reference when NAME reads as a variable's name; mixed case with
    digits is how passwords look, and a client that leaves ``$`` alone passes the text."""
    assert found(value, name) == [("password", value)]
    url = f"postgresql://app:{value}@db.internal:5432/app"
    assert found(url, None, "arg") == [("url-password", value)]


@pytest.mark.parametrize("value", ["$PGPASSWORD", "$db_password", "$GithubToken", "$DB_PASS_2"])
def test_a_dollar_variable_name_is_still_a_reference(value: str) -> None:
    assert is_reference(value)
    assert found(value, "DB_PASSWORD") == []


def test_is_reference_needs_the_whole_value() -> None:
    assert is_reference("$TOKEN")
    assert is_reference(" Bearer ${env:TOKEN} ")
    assert is_reference("${A}${B}")
    assert not is_reference("$Kq2$xP9")
    assert not is_reference("Kq$vZ2")
    assert not is_reference("pre${A}")


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql://app:Kq#x/y?zW9@db.internal:5432/app", "Kq#x/y?zW9"),
        ("postgresql://app:Vb7#kLq2mZ@db.internal/app?sslmode=require", "Vb7#kLq2mZ"),
        ("postgres://app:Vb7?kLq2mZ@db.internal/app", "Vb7?kLq2mZ"),
        ("mysql://app:Vb7/kLq2mZ@db.internal:3306/app", "Vb7/kLq2mZ"),
        ("redis://:Kq$vZ2/xP9#w@redis.acme.io:6379/0", "Kq$vZ2/xP9#w"),
        ("mongodb+srv://app:p@ssW0rd9@cluster0.abcde.mongodb.net/db", "p@ssW0rd9"),
        ("postgresql://app:Kq$vZ2$xP9mN4@db.internal/app", "Kq$vZ2$xP9mN4"),
        ("postgres://app:Vb7k@Lq2/mZx9@db.acme.io:5432/app", "Vb7k@Lq2/mZx9"),
        ("postgres://app:Vb7k@Lq2/mZx9@localhost/app", "Vb7k@Lq2/mZx9"),
        ("postgres://app:Vb7kLq2mZx9@db/app?contact=ann@acme.io", "Vb7kLq2mZx9"),
        ("https://ann:Xp3Rt7Wq1Zk@github.com/x?e=ann@acme.io", "Xp3Rt7Wq1Zk"),
    ],
)
def test_url_password_runs_to_the_at_before_the_host(url: str, password: str) -> None:
    assert found(url, None, "arg") == [("url-password", password)]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.acme.io:8443/v1?email=ann@acme.io",
        "https://acme.io/users/ann@acme.io",
        "postgresql://app:${PGPASSWORD}@db.internal/app",
        "postgresql://app:$PGPASSWORD@db.internal/app",
        "postgresql://app:%PGPASSWORD%@db.internal/app",
        "postgresql://app:{{mcpcred:secret/db}}@db.internal/app",
        "postgresql://app@db.internal/app",
    ],
)
def test_urls_without_a_literal_password(url: str) -> None:
    assert [k for k, _ in found(url, None, "arg") if k == "url-password"] == []


def test_parse_url_spans() -> None:
    url = "x postgresql://app:Kq#x/y@db.internal:5432/app?sslmode=require"
    parts = parse_url(url, 2)
    assert parts.user is not None and url[parts.user[0] : parts.user[1]] == "app"
    assert parts.password is not None and url[parts.password[0] : parts.password[1]] == "Kq#x/y"
    assert url[parts.host[0] : parts.host[1]] == "db.internal:5432"
    assert url[parts.path[0] : parts.path[1]] == "/app"
    assert parts.query is not None and url[parts.query[0] : parts.query[1]] == "sslmode=require"


def test_audit_and_wrap_see_the_whole_password(project: Path) -> None:
    """``secret_hits`` (what wrap moves) covers the full password, not a piece of it."""
    url = "postgresql://app:Vb7#kLq2mZ@db.internal/app"
    config = {
        "mcpServers": {
            "db": {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-postgres@0.6.2", url],
                "env": {"PGPASSWORD": "Kq$vZ2$xP9mN4"},
            }
        }
    }
    (project / ".mcp.json").write_text(json.dumps(config))
    report = scan([str(project)], Host.current())
    rules = sorted(f.rule for f in report.findings if f.rule.startswith("secret/"))
    assert rules == ["secret/password", "secret/url-password"]
    from mcpcred.clients import BY_ID
    from mcpcred.discovery import infer
    from mcpcred.parsing.jsonc import parse_jsonc

    path = str(project / ".mcp.json")
    document = parse_jsonc((project / ".mcp.json").read_text(), path)
    candidate = infer(path, Host.current())
    [entry] = BY_ID[candidate.adapter.id].servers(document, candidate.location)
    secrets = sorted(hit.secret for _, hit in Auditor(Host.current()).secret_hits(entry))
    assert secrets == ["Kq$vZ2$xP9mN4", "Vb7#kLq2mZ"]


def test_every_url_in_a_string_is_taken_apart() -> None:
    value = "a=postgres://u:Vb7kLq2mZx9@db1.acme.io b=mysql://u:Xp3Rt7Wq1Zk@db2.acme.io"
    assert found(value, None, "arg") == [
        ("url-password", "Vb7kLq2mZx9"),
        ("url-password", "Xp3Rt7Wq1Zk"),
    ]
    nested = "https://login.acme.io/?next=postgres://u:Vb7kLq2mZx9@db1.acme.io/app"
    assert found(nested, "NEXT_URL", "env") == [("url-password", "Vb7kLq2mZx9")]


def test_a_weak_password_in_a_query_is_graded_apart() -> None:
    url = "jdbc:postgresql://db.acme.io:5432/app?user=fred&password=secret"
    assert found(url, None, "arg") == [("weak-default-credential", "secret")]
