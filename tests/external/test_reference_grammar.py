"""The grammar of password-manager references, and why an older shim cannot be fooled by it.

``mcpcred:KIND/LOCATOR`` keeps the shape of mcpcred's own references, so a shim from
before this change refuses every new reference (as malformed, or as a kind it cannot
resolve) rather than passing its text to the server as if it were the credential. The
old shim's checks are copied below as they were, to prove that.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from mcpcred import references
from mcpcred.errors import ShimError
from mcpcred.shim.resolve import wanted

NEW = [
    "mcpcred:pass/Email/github.com",
    "mcpcred:pass/github",
    "mcpcred:op/Private/GitHub Token/credential",
    "mcpcred:op/private/github/token",
    "mcpcred:bw/github/password",
    "mcpcred:vault/secret/app#api_key",
    'mcpcred:cmd/["secret-tool","lookup","service","github"]',
    "x={{mcpcred:pass/Email/github.com}}",
    "Bearer {{mcpcred:op/Private/GitHub Token/credential}}",
    "{{mcpcred:pass/github}}",
]

# --- the shim's checks before password managers (mcpcred/references.py, verbatim) -----
_N = r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?"
_R = rf"{_N}(?:/{_N})?"
_OLD_WHOLE = re.compile(rf"^mcpcred:(?P<kind>[a-z]+)/(?P<name>{_R})$")
_OLD_EMBEDDED = re.compile(rf"\{{\{{mcpcred:(?P<kind>[a-z]+)/(?P<name>{_R})\}}\}}")
_OLD_ANY = re.compile(r"mcpcred:[a-z]+/\S*")


def _old_refuses(value: str) -> bool:
    """What the old ``wanted`` did: malformed, or a kind other than secret/oauth -> error."""
    match = _OLD_WHOLE.match(value)
    if match:
        fits = match["kind"] == "oauth" or "/" not in match["name"]
        return not fits or match["kind"] not in ("secret", "oauth")
    found = list(_OLD_EMBEDDED.finditer(value))
    for m in found:
        if not (m["kind"] == "oauth" or "/" not in m["name"]):
            return True
    if _OLD_ANY.search(_OLD_EMBEDDED.sub("", value)):
        return True
    return any(m["kind"] not in ("secret", "oauth") for m in found)


@pytest.mark.parametrize("value", NEW)
def test_an_older_shim_refuses_every_new_reference(value: str) -> None:
    assert _old_refuses(value)


@pytest.mark.parametrize("value", NEW)
def test_this_shim_reads_every_new_reference(value: str) -> None:
    refs = wanted([], {"V": value})
    assert len(refs) == 1 and refs[0][0] in references.EXTERNAL


@pytest.mark.parametrize(
    "value",
    [
        "mcpcred:pass/-rf",  # an option for pass
        "mcpcred:pass/../../etc/passwd",
        "mcpcred:pass/ padded ",
        "mcpcred:op/Private/only-item",  # no field
        "mcpcred:op/-x/y/z",
        "mcpcred:bw/no-field",
        "mcpcred:vault/secret/app",  # no #FIELD
        "mcpcred:vault/app#field",  # no mount
        "mcpcred:cmd/secret-tool lookup x",  # not a JSON array
        "mcpcred:cmd/[]",
        'mcpcred:cmd/["", "x"]',
        "{{mcpcred:pass/../x}}",
    ],
)
def test_a_bad_locator_stops_the_server(value: str) -> None:
    with pytest.raises(ShimError, match="malformed"):
        wanted([], {"V": value})


def test_substitution_is_one_pass() -> None:
    """A value that reads like a reference is text: never resolved a second time."""
    value = "a {{mcpcred:pass/x}} b {{mcpcred:secret/y}}"
    out = references.substitute(value, lambda kind, name: "{{mcpcred:secret/y}}")
    assert out == "a {{mcpcred:secret/y}} b {{mcpcred:secret/y}}"


def test_keychain_references_are_unchanged() -> None:
    assert references.find("mcpcred:secret/github-pat") == [("secret", "github-pat")]
    assert references.find("Bearer {{mcpcred:oauth/gitlab/work}}") == [("oauth", "gitlab/work")]
    assert references.malformed("mcpcred:secret/a/b") == "mcpcred:secret/a/b"


def test_a_keychain_only_start_imports_nothing_of_the_password_managers() -> None:
    """The local fast path: no mcpcred.external, no subprocess, no urllib."""
    probe = (
        "import json, sys\n"
        "from mcpcred.shim import resolve\n"
        "resolve.Keychain.read = lambda self, names, optional=(): {n: 'v' for n in names}\n"
        "resolve.Keychain.__init__ = lambda self, o, e: None\n"
        "resolve.Keychain.close = lambda self: None\n"
        "import mcpcred.shim.main as m\n"
        "def fake(argv, env):\n"
        "    print(json.dumps(sorted(sys.modules)))\n"
        "    raise SystemExit(0)\n"
        "m.become = fake\n"
        "sys.exit(m.main(['--', 'true']))\n"
    )
    env = {**os.environ, "T": "mcpcred:secret/tok"}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert not {m for m in loaded if m.startswith("mcpcred.external")}
    assert not loaded & {"subprocess", "urllib.request", "threading", "json"} - _BASELINE
    env["T"] = "mcpcred:pass/x"
    env["PATH"] = "/nonexistent"
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert result.returncode == 5 and "'pass' is not installed" in result.stderr


_BASELINE = {"json"}  # the probe itself prints with json


def test_keychain_references_compile_no_password_manager_pattern() -> None:
    """Every shim start parses references; the managers' patterns cost only where used."""
    probe = (
        "from mcpcred import references as r\n"
        "for v in ['mcpcred:secret/a', 'x {{mcpcred:secret/b}} y', '{{mcpcred:oauth/gh/w}}']:\n"
        "    r.find(v); r.malformed(v); r.substitute(v, lambda k, n: 'v'); r.find_all(v)\n"
        "assert not {'whole', 'embedded'} & set(r._COMPILED), r._COMPILED\n"
        "r.find('mcpcred:pass/x')\n"
        "assert 'whole' in r._COMPILED\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
