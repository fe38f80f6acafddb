"""Export URLs, header references and ``[[log.export]]`` tables: what is accepted, and the one
line for everything else (never quoting a value that could be a credential)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpcred.errors import ConfigError, ExportError, UsageError
from mcpcred.export import config, targets


@pytest.mark.parametrize(
    ("url", "shown", "kind"),
    [
        ("otlp+http://127.0.0.1:4318", "otlp+http://127.0.0.1:4318", "otlp"),
        ("otlp+https://otel.example.com", "otlp+https://otel.example.com:4318", "otlp"),
        ("OTLP+HTTP://[::1]:9/", "otlp+http://[::1]:9", "otlp"),
        ("syslog+tcp://siem.example.com:6514", "syslog+tcp://siem.example.com:6514", "syslog"),
        ("syslog+udp://10.0.0.1:514", "syslog+udp://10.0.0.1:514", "syslog"),
        ("syslog+tls://siem:6514", "syslog+tls://siem:6514", "syslog"),
    ],
)
def test_the_url_forms(url: str, shown: str, kind: str) -> None:
    target = targets.parse(url)
    assert (target.shown, target.kind) == (shown, kind)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("collector:4318", "not an export URL"),
        ("http://collector:4318", "unknown export URL scheme"),
        ("otlp+grpc://collector:4317", "unknown export URL scheme"),
        ("otlp+https://user:hunter2-secret@collector:4318", "must not hold a user or password"),
        ("otlp+https://collector:4318/?token=hunter2-secret", "must not have a query"),
        ("otlp+https://collector:4318/#hunter2-secret", "must not have a query"),
        ("otlp+https://collector:4318/v1/logs", "takes no path"),
        ("otlp+https://:4318", "has no host"),
        ("otlp+https://collector:99999", "host or port is not valid"),
        ("syslog+tcp://siem", "needs a port"),
    ],
)
def test_bad_urls_are_one_line_usage_errors_without_the_secret(url: str, said: str) -> None:
    with pytest.raises(UsageError) as caught:
        targets.parse(url)
    assert said in caught.value.message
    assert "hunter2" not in caught.value.message and "hunter2" not in (caught.value.hint or "")
    assert "\n" not in caught.value.message


def test_headers_must_be_store_references() -> None:
    refs = {"Authorization": "mcpcred:secret/otel-token"}
    assert targets.header_refs(refs, where="x", error=UsageError) == refs
    for bad in ("Bearer hunter2-secret", "mcpcred:oauth/github", "{{mcpcred:secret/a}}", 3):
        with pytest.raises(UsageError) as caught:
            targets.header_refs({"Authorization": bad}, where="x", error=UsageError)
        assert "must be a secret-store reference" in caught.value.message
        assert "hunter2" not in caught.value.message
    with pytest.raises(UsageError, match="not a valid HTTP header name"):
        targets.header_refs({"Bad Name": "mcpcred:secret/a"}, where="x", error=UsageError)


def test_header_values_come_from_the_store_and_a_missing_one_is_named() -> None:
    from mcpcred.errors import SecretNotFound

    target = targets.Target(
        url="otlp+http://127.0.0.1:1", kind="otlp", scheme="otlp+http", host="127.0.0.1", port=1,
        headers={"Authorization": "mcpcred:secret/otel-token"},
    )  # fmt: skip
    assert targets.resolve_headers(target, {"otel-token": "Bearer v"}.__getitem__) == {
        "Authorization": "Bearer v"
    }

    def missing(name: str) -> str:
        raise SecretNotFound(name)

    with pytest.raises(ExportError, match="'otel-token' is not in the store"):
        targets.resolve_headers(target, missing)


def test_syslog_builds_the_syslog_sink_with_its_options() -> None:
    import dataclasses

    from mcpcred.export.syslog import SyslogSink

    target = dataclasses.replace(targets.parse("syslog+tcp://127.0.0.1:514"), framing="newline")
    sink = targets.build(target, {}, timeout=2.0)
    assert isinstance(sink, SyslogSink)
    assert (sink.framing, sink.timeout, sink.facility, sink.max_size) == ("newline", 2.0, 10, 8192)
    with pytest.raises(ExportError, match="syslog takes no headers"):
        targets.build(target, {"Authorization": "x"})


# -- [[log.export]] -------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    user = tmp_path / "config.toml"
    project = tmp_path / "repo"
    project.mkdir()
    (project / ".git").mkdir()
    return user, project, {"MCPCRED_CONFIG": str(user)}


def test_user_tables(files: tuple[Path, Path, dict[str, str]]) -> None:
    user, project, env = files
    user.write_text(
        '[servers.db]\n\n[[log.export]]\nkind = "otlp"\nurl = "otlp+https://otel:4318"\n'
        'headers = { Authorization = "mcpcred:secret/otel-token" }\nca_file = "ca.pem"\n'
        '[[log.export]]\nkind = "syslog"\nurl = "syslog+tcp://siem:514"\nframing = "newline"\n'
        'facility = "local3"\nmax_size = 65536\n'
    )
    found = config.load(env, str(project))
    assert [t.shown for t in found] == ["otlp+https://otel:4318", "syslog+tcp://siem:514"]
    assert found[0].headers == {"Authorization": "mcpcred:secret/otel-token"}
    assert found[0].ca_file == str(user.parent / "ca.pem")
    assert found[1].framing == "newline"
    assert (found[1].facility, found[1].max_size) == ("local3", 65536)
    sink = targets.build(found[1], {})
    assert (sink.framing, sink.facility, sink.max_size) == ("newline", 19, 65536)  # type: ignore[attr-defined]
    assert config.mentions_export(env, str(project))


@pytest.mark.parametrize(
    ("table", "said"),
    [
        (
            'kind = "otlp"\nurl = "otlp+http://h:1"\nheaders = { Authorization = "Bearer hunter2" }',
            "must be a secret-store reference",
        ),
        ('kind = "otlp"\nurl = "otlp+http://h:1"\nurl_typo = 1', "unknown key(s): url_typo"),
        ('kind = "syslog"\nurl = "otlp+http://h:1"', "but the url is a otlp URL"),
        ('kind = "kafka"\nurl = "otlp+http://h:1"', 'kind must be "otlp" or "syslog"'),
        ('kind = "otlp"\nurl = "otlp+http://h:1"\nca_file = "x.pem"', "ca_file needs"),
        ('kind = "syslog"\nurl = "syslog+udp://h:1"\nframing = "newline"', "framing applies"),
        ('kind = "otlp"', "url must be a string"),
        ('kind = "otlp"\nurl = "otlp+http://h:1"\nfacility = "user"', "syslog only"),
        ('kind = "syslog"\nurl = "syslog+tcp://h:1"\nfacility = "hunter2"', "facility must be"),
        ('kind = "syslog"\nurl = "syslog+tcp://h:1"\nfacility = 24', "facility must be"),
        ('kind = "syslog"\nurl = "syslog+tcp://h:1"\nfacility = true', "facility must be"),
        ('kind = "syslog"\nurl = "syslog+udp://h:1"\nmax_size = 70000', "from 480 to 65507"),
        ('kind = "syslog"\nurl = "syslog+tcp://h:1"\nmax_size = "8k"', "number of bytes"),
    ],
)
def test_bad_tables_are_config_errors(
    files: tuple[Path, Path, dict[str, str]], table: str, said: str
) -> None:
    user, project, env = files
    user.write_text(f"[[log.export]]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        config.load(env, str(project))
    assert said in caught.value.message
    assert "hunter2" not in caught.value.message


def test_a_project_file_exports_only_when_the_user_allows_it(
    files: tuple[Path, Path, dict[str, str]],
) -> None:
    user, project, env = files
    (project / "mcpcred.toml").write_text(
        '[[log.export]]\nkind = "otlp"\nurl = "otlp+https://team-otel:4318"\n'
    )
    assert config.load(env, str(project)) == []  # a cloned repo cannot pick where the log goes
    user.write_text("[log]\nproject_exports = true\n")
    (found,) = config.load(env, str(project))
    assert found.shown == "otlp+https://team-otel:4318"
    (project / "mcpcred.toml").write_text("[log]\nproject_exports = true\n")
    with pytest.raises(ConfigError, match="belongs in your own config file"):
        config.load(env, str(project))
    user.write_text("[log]\nexports = []\n")
    with pytest.raises(ConfigError, match=r"\[log\]: unknown key\(s\): exports"):
        config.load(env, str(project))


def test_no_config_means_no_export(files: tuple[Path, Path, dict[str, str]]) -> None:
    user, project, env = files
    assert config.load(env, str(project)) == []
    assert not config.mentions_export(env, str(project))
    user.write_text("[servers.db]\ndeny = []\n")
    assert not config.mentions_export(env, str(project))
