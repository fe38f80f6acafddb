"""``read_secrets`` against the real gnome-keyring, as the shim will meet it.

Items are written the two ways they get there in real life: by ``secret-tool``
(libsecret, an independent client) and by the ``keyring`` library, which is what
``mcpcred secret set`` and ``wrap`` use. Failure modes get their own private
daemons (locked, frozen, absent), so the shared keychain stays usable.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpcred.errors import (
    KeychainLocked,
    KeychainTimeout,
    KeychainUnavailable,
    SecretCorrupt,
    SecretNotFound,
    SecretStoreError,
)
from mcpcred.keychain import chunks
from mcpcred.keychain.bus import session_bus_address
from mcpcred.keychain.secretservice import read_secrets
from tests.support import keychain as real_keychain

SERVICE = "mcpcred"
LOGIN = "/org/freedesktop/secrets/collection/login"
SESSION = "/org/freedesktop/secrets/collection/session"


# -- helpers -----------------------------------------------------------------------


def store_with_keyring(name: str, value: str) -> None:
    """Write an item exactly as the CLI does: through keyring's Secret Service backend."""
    from keyring.backends.SecretService import Keyring

    Keyring().set_password(SERVICE, name, value)


def store_chunked(name: str, value: str) -> int:
    """Write ``value`` in the chunked layout (parts first, header last, as the CLI does)."""
    head, parts = chunks.split(value)
    for index, part in enumerate(parts, start=1):
        store_with_keyring(chunks.part_name(name, index), part)
    store_with_keyring(name, head)
    return len(parts)


def assert_no_value(exc: BaseException, *values: str) -> None:
    """Neither the message, the hint, nor anything chained to the error holds a value."""
    texts = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), str(getattr(seen, "hint", "") or "")]
        seen = seen.__cause__ or seen.__context__
    for value in values:
        for text in texts:
            assert value not in text
            assert value[:12] not in text
    assert "\n" not in str(exc)


def service_call(address: str, method: str, signature: str, *body: Any) -> tuple[Any, ...]:
    """A direct call on the Secret Service (or the bus), for what the tests must set up."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    if method.startswith("org.freedesktop.DBus."):
        target = DBusAddress(
            "/org/freedesktop/DBus",
            bus_name="org.freedesktop.DBus",
            interface="org.freedesktop.DBus",
        )
        method = method.rpartition(".")[2]
    else:
        target = DBusAddress(
            "/org/freedesktop/secrets",
            bus_name="org.freedesktop.secrets",
            interface="org.freedesktop.Secret.Service",
        )
    with open_dbus_connection(bus=address) as conn:
        reply = conn.send_and_get_reply(new_method_call(target, method, signature, body), timeout=5)
    assert reply.header.message_type.name == "method_return", reply.body
    return tuple(reply.body)


@contextlib.contextmanager
def fresh_secret_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private, unlocked keyring for one test that breaks it; yields the bus address."""
    with real_keychain.real_secret_service() as env, monkeypatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env["DBUS_SESSION_BUS_ADDRESS"]


@contextlib.contextmanager
def bare_bus(service_dir: Path | None = None) -> Iterator[str]:
    """A session bus with no Secret Service on it (and none it could activate)."""
    tmp = Path(tempfile.mkdtemp(prefix="bb", dir="/tmp"))
    servicedir = f"<servicedir>{service_dir}</servicedir>" if service_dir else ""
    config = tmp / "bus.conf"
    config.write_text(
        textwrap.dedent(f"""\
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>session</type>
              <listen>unix:path={tmp}/bus</listen>
              <auth>EXTERNAL</auth>
              {servicedir}
              <policy context="default">
                <allow send_destination="*" eavesdrop="true"/>
                <allow eavesdrop="true"/>
                <allow own="*"/>
              </policy>
            </busconfig>
            """)
    )
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        assert address, "dbus-daemon did not start"
        yield address
    finally:
        bus.terminate()
        bus.wait(timeout=10)
        if bus.stdout is not None:
            bus.stdout.close()
        for path in sorted(tmp.rglob("*"), reverse=True):
            path.unlink() if not path.is_dir() else path.rmdir()
        tmp.rmdir()


@pytest.fixture
def address(keychain: dict[str, str]) -> str:
    """The shared real keychain (emptied of mcpcred items), by its bus address."""
    return keychain["DBUS_SESSION_BUS_ADDRESS"]


# -- reading what the tools write ---------------------------------------------------


def test_reads_an_item_stored_by_secret_tool(address: str) -> None:
    real_keychain.store({"DBUS_SESSION_BUS_ADDRESS": address}, SERVICE, "github-pat", "tok-1")
    assert read_secrets(["github-pat"], address=address) == {"github-pat": "tok-1"}


def test_reads_an_item_stored_by_keyring(address: str) -> None:
    store_with_keyring("sentry-token", "from-keyring")
    assert read_secrets(["sentry-token"], address=address) == {"sentry-token": "from-keyring"}


def test_reads_several_names_in_one_call(address: str) -> None:
    values = {"a": "value-a", "b.two": "value-b", "c_3-x": "value-c"}
    for name, value in values.items():
        store_with_keyring(name, value)
    got = read_secrets(["c_3-x", "a", "b.two", "a"], address=address)
    assert got == values


def test_the_bus_is_found_without_the_variable(keychain: dict[str, str]) -> None:
    """What the shim does under a client that passes only HOME, PATH, USER, ..."""
    store_with_keyring("scrubbed", "found-anyway")
    env = {"HOME": "/home/u", "PATH": "/usr/bin", "XDG_RUNTIME_DIR": keychain["XDG_RUNTIME_DIR"]}
    found = session_bus_address(env)
    assert found is not None
    assert read_secrets(["scrubbed"], address=found) == {"scrubbed": "found-anyway"}


def test_no_names_needs_no_bus() -> None:
    assert read_secrets([], address="unix:path=/nonexistent/bus") == {}


def test_non_ascii_values_round_trip(address: str) -> None:
    env = {"DBUS_SESSION_BUS_ADDRESS": address}
    real_keychain.store(env, SERVICE, "tool", "pässwörd-🔑-日本語 with spaces\tand tab")
    store_with_keyring("lib", "Ünïcödé-🗝️-кириллица")
    assert read_secrets(["tool", "lib"], address=address) == {
        "tool": "pässwörd-🔑-日本語 with spaces\tand tab",
        "lib": "Ünïcödé-🗝️-кириллица",
    }


def test_only_the_given_service_is_read(address: str) -> None:
    real_keychain.store({"DBUS_SESSION_BUS_ADDRESS": address}, "other-app", "shared", "not-ours")
    try:
        with pytest.raises(SecretNotFound):
            read_secrets(["shared"], address=address)
        assert read_secrets(["shared"], address=address, service="other-app") == {
            "shared": "not-ours"
        }
    finally:
        real_keychain.clear({"DBUS_SESSION_BUS_ADDRESS": address}, "other-app")


def test_a_duplicate_in_another_collection_loses_to_the_default_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from keyring.backends.SecretService import Keyring

    with fresh_secret_service(monkeypatch) as address:
        store_with_keyring("dup", "in-login")
        # gnome-keyring's in-memory "session" collection; the same attributes as keyring writes.
        session_keyring = Keyring()
        session_keyring.preferred_collection = SESSION
        session_keyring.set_password(SERVICE, "dup", "in-session")
        unlocked, _ = service_call(
            address, "SearchItems", "a{ss}", {"service": SERVICE, "username": "dup"}
        )
        assert len(unlocked) == 2
        assert read_secrets(["dup"], address=address) == {"dup": "in-login"}
        # Whatever order the daemon lists them in, the default collection decides.
        service_call(address, "SetAlias", "so", "default", SESSION)
        assert read_secrets(["dup"], address=address) == {"dup": "in-session"}


# -- chunked values ---------------------------------------------------------------


def test_a_long_value_written_in_parts_joins_back(address: str) -> None:
    value = "".join(f"{i:04d}-ßecret-line\n" for i in range(290))  # ~5 KB, non-ASCII inside
    assert store_chunked("pem", value) == 5
    store_with_keyring("short", "plain")
    assert read_secrets(["pem", "short"], address=address) == {"pem": value, "short": "plain"}


def test_two_chunked_values_in_one_call(address: str) -> None:
    first, second = "x" * 2500, "y" * 1001
    store_chunked("one", first)
    store_chunked("two", second)
    assert read_secrets(["one", "two"], address=address) == {"one": first, "two": second}


def test_a_torn_value_is_an_error_without_the_value(address: str) -> None:
    old, new = "O" * 2400 + "old-tail", "N" * 2400 + "new-tail"
    store_chunked("torn", old)
    # A second writer got as far as part 2 of the new value, then died.
    store_with_keyring(chunks.part_name("torn", 2), chunks.split(new)[1][1])
    with pytest.raises(SecretStoreError) as caught:
        read_secrets(["torn"], address=address)
    assert type(caught.value) is SecretCorrupt
    assert "'torn'" in caught.value.message and "torn write" in caught.value.message
    assert_no_value(caught.value, old, new, "O" * 50, "N" * 50)


def test_a_missing_part_is_an_error(address: str) -> None:
    value = "p" * 3500
    store_chunked("gappy", value)
    real_keychain_env = {"DBUS_SESSION_BUS_ADDRESS": address}
    subprocess.run(
        ["secret-tool", "clear", "service", SERVICE, "username", "gappy#3"],
        env={**os.environ, **real_keychain_env},
        check=True,
        timeout=30,
    )
    with pytest.raises(SecretStoreError, match=r"secret 'gappy' .*part 3 is missing") as caught:
        read_secrets(["gappy"], address=address)
    assert_no_value(caught.value, value)


def test_an_unknown_chunk_layout_is_not_handed_out(address: str) -> None:
    store_with_keyring("future", "mcpcred-chunked:v2:3:abc")
    with pytest.raises(SecretStoreError, match="layout"):
        read_secrets(["future"], address=address)


# -- not found ----------------------------------------------------------------------


def test_a_missing_name_is_named(address: str) -> None:
    store_with_keyring("present", "here-is-a-value")
    with pytest.raises(SecretNotFound) as caught:
        read_secrets(["present", "absent-1", "absent-2"], address=address)
    assert caught.value.name == "absent-1"
    assert "absent-1" in caught.value.message
    assert_no_value(caught.value, "here-is-a-value")


def test_parts_are_not_names(address: str) -> None:
    store_chunked("big", "z" * 1500)
    with pytest.raises(SecretNotFound):
        read_secrets(["missing"], address=address)
    assert read_secrets(["big"], address=address) == {"big": "z" * 1500}


# -- failure modes --------------------------------------------------------------------


def test_a_locked_collection_is_keychain_locked(monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_secret_service(monkeypatch) as address:
        store_with_keyring("locked-one", "value-behind-lock")
        assert read_secrets(["locked-one"], address=address) == {"locked-one": "value-behind-lock"}
        locked, _prompt = service_call(address, "Lock", "ao", [LOGIN])
        assert LOGIN in locked
        started = time.monotonic()
        with pytest.raises(KeychainLocked) as caught:
            read_secrets(["locked-one"], address=address)
        assert time.monotonic() - started < 1
        assert "'locked-one'" in caught.value.message
        assert "locked collection" in caught.value.message
        assert caught.value.hint and "never prompts" in caught.value.hint
        assert_no_value(caught.value, "value-behind-lock")
        # A name that is in no collection is still "not found", not "locked".
        with pytest.raises(SecretNotFound):
            read_secrets(["nowhere"], address=address)


def test_a_frozen_daemon_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_secret_service(monkeypatch) as address:
        store_with_keyring("frozen", "value-in-frozen-daemon")
        (owner,) = service_call(
            address, "org.freedesktop.DBus.GetNameOwner", "s", "org.freedesktop.secrets"
        )
        (pid,) = service_call(
            address, "org.freedesktop.DBus.GetConnectionUnixProcessID", "s", owner
        )
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(KeychainTimeout) as caught:
                read_secrets(["frozen"], address=address, timeout=0.5)
            elapsed = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        assert 0.45 < elapsed < 1.5
        assert "0.5 s" in caught.value.message
        assert_no_value(caught.value, "value-in-frozen-daemon")


def test_a_bus_that_never_answers_times_out() -> None:
    tmp = tempfile.mkdtemp(prefix="mute", dir="/tmp")
    path = os.path.join(tmp, "bus")
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(path)
        listener.listen(1)  # accepts the connection in the kernel; never speaks
        started = time.monotonic()
        with pytest.raises(KeychainTimeout):
            read_secrets(["x"], address=f"unix:path={path}", timeout=0.3)
        assert time.monotonic() - started < 1.0
    finally:
        listener.close()
        os.unlink(path)
        os.rmdir(tmp)


@pytest.mark.parametrize(
    "bad_address",
    [
        "unix:path=/nonexistent-mcpcred/bus",
        "unix:abstract=mcpcred-no-such-bus",
        "tcp:host=127.0.0.1,port=1",
        "not-an-address",
        "",
    ],
)
def test_an_unusable_address_is_unavailable_fast(bad_address: str) -> None:
    started = time.monotonic()
    with pytest.raises(KeychainUnavailable) as caught:
        read_secrets(["x"], address=bad_address)
    assert time.monotonic() - started < 0.5
    assert "\n" not in caught.value.message


def test_a_bus_without_secret_service_is_unavailable() -> None:
    with bare_bus() as address:
        started = time.monotonic()
        with pytest.raises(KeychainUnavailable, match=r"org\.freedesktop\.secrets") as caught:
            read_secrets(["x"], address=address)
        assert time.monotonic() - started < 1
        assert "ServiceUnknown" in caught.value.message


def test_a_secret_service_that_fails_to_activate_is_unavailable() -> None:
    with tempfile.TemporaryDirectory(prefix="svc", dir="/tmp") as services:
        Path(services, "org.freedesktop.secrets.service").write_text(
            "[D-BUS Service]\nName=org.freedesktop.secrets\nExec=/bin/false\n"
        )
        with bare_bus(Path(services)) as address:
            with pytest.raises(KeychainUnavailable, match="could not be started") as caught:
                read_secrets(["x"], address=address, timeout=5)
            assert "Spawn" in caught.value.message


# -- writing (the shim stores refreshed tokens and the guard's key this way) ------------


def test_written_values_read_back_through_keyring_and_parts_are_pruned(address: str) -> None:
    """``write_secrets`` over the shim's own D-Bus client stores what keyring reads back.

    A long value goes in parts (header last); a shorter value written over it
    deletes the parts it no longer needs, so no stale part is left behind.
    """
    from keyring.backends.SecretService import Keyring

    from mcpcred.keychain.secretservice import write_secrets

    long_value = "L" * (chunks.CHUNK_CHARS * 3 + 7)
    write_secrets({"short": "s-\u00e9-1", "long": long_value}, address=address)
    assert read_secrets(["short", "long"], address=address) == {
        "short": "s-\u00e9-1",
        "long": long_value,
    }
    assert Keyring().get_password(SERVICE, "short") == "s-\u00e9-1"
    parts = chunks.parts_needed(Keyring().get_password(SERVICE, "long") or "")
    assert parts >= 3

    write_secrets({"long": "now short"}, address=address)
    assert read_secrets(["long"], address=address) == {"long": "now short"}
    leftovers = [
        chunks.part_name("long", i)
        for i in range(1, parts + 1)
        if Keyring().get_password(SERVICE, chunks.part_name("long", i)) is not None
    ]
    assert leftovers == []


def test_a_written_value_replaces_one_another_tool_stored_for_the_name(address: str) -> None:
    """A refreshed token written over a ``secret-tool`` item is the one read back, always.

    ``secret-tool`` stores without keyring's ``application`` attribute, so
    ``CreateItem``'s replace left that item beside the new one and a reader got
    either (the stale refresh token half the time). Only one item is left.
    """
    from mcpcred.keychain.secretservice import write_secrets

    env = {"DBUS_SESSION_BUS_ADDRESS": address}
    real_keychain.store(env, SERVICE, "rotated", "old-token")
    write_secrets({"rotated": "new-token"}, address=address)
    found = subprocess.run(
        ["secret-tool", "search", "--all", "service", SERVICE, "username", "rotated"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert found.stdout.count("secret = ") == 1, found.stdout
    assert "old-token" not in found.stdout
    assert read_secrets(["rotated"], address=address) == {"rotated": "new-token"}
    assert real_keychain.lookup(env, SERVICE, "rotated") == "new-token"


def _record_wire(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Log of the wire: ``call NAME`` (``call NAME noreply``), ``reply``, ``close pending=N``."""
    from mcpcred.keychain import dbuswire

    log: list[str] = []
    send, reply, close = (
        dbuswire.Connection.send,
        dbuswire.Connection.reply,
        dbuswire.Connection.close,
    )

    def sent(self: Any, *args: Any, expect_reply: bool = True, **kwargs: Any) -> int:
        log.append(f"call {args[2]}" + ("" if expect_reply else " noreply"))
        return send(self, *args, expect_reply=expect_reply, **kwargs)

    def answered(self: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        try:
            return reply(self, *args, **kwargs)
        finally:
            log.append("reply")

    def closed(self: Any) -> None:
        log.append(f"close pending={len(self._pending)}")
        close(self)

    monkeypatch.setattr(dbuswire.Connection, "send", sent)
    monkeypatch.setattr(dbuswire.Connection, "reply", answered)
    monkeypatch.setattr(dbuswire.Connection, "close", closed)
    return log


def test_every_call_is_answered_before_the_connection_closes(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No call left in flight when a shim disconnects, the session's ``Close`` included.

    gnome-keyring aborts the whole daemon when a client vanishes while one of its calls
    is being handled (seen here: ``trap int3 in libglib``, the next shim's OpenSession
    then "NoReply"); the shim did that on every start, sending ``Close`` without
    waiting. A failing read (a missing name) leaves nothing in flight either.
    """
    real_keychain.store({"DBUS_SESSION_BUS_ADDRESS": address}, SERVICE, "present", "v")
    log = _record_wire(monkeypatch)
    assert read_secrets(["present"], address=address) == {"present": "v"}
    assert "call Close" in log and not any(e.endswith("noreply") for e in log), log
    assert log[-1] == "close pending=0", log
    assert log.index("call Close") < len(log) - 2 and log[-2] == "reply", log  # Close answered

    log.clear()
    with pytest.raises(SecretNotFound):
        read_secrets(["present", "absent-1", "absent-2"], address=address)
    assert log[-1] == "close pending=0", log


# -- the shim's budget ---------------------------------------------------------------


def test_the_module_imports_only_the_standard_library() -> None:
    code = (
        "import sys, mcpcred.keychain.secretservice, mcpcred.keychain.bus\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('jeepney', 'keyring', 'secretstorage', 'cryptography', 'typer', 'rich')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_reading_never_imports_keyring_or_crypto(address: str) -> None:
    store_with_keyring("light", "v")
    code = (
        "import sys\n"
        "from mcpcred.keychain.secretservice import read_secrets\n"
        f"assert read_secrets(['light'], address={address!r}) == {{'light': 'v'}}\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('keyring', 'secretstorage', 'cryptography', 'jeepney')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
