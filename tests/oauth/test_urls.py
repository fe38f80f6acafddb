"""Which URLs may carry a credential or be opened: ``urls.check_endpoint`` and ``is_loopback``."""

from __future__ import annotations

import pytest

from mcpcred.errors import EXIT_OAUTH, OAuthError
from mcpcred.oauth.urls import check_endpoint, is_loopback


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/login/oauth/access_token",
        "https://id.example.com:8443/tenant1/token?x=1",
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
    ],
)
def test_https_is_accepted_unchanged(url: str) -> None:
    """An https endpoint comes back as it was given."""
    assert check_endpoint(url, "token endpoint") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/token",
        "http://localhost/token",
        "http://LOCALHOST:3000/token",
        "http://[::1]:9000/token",
        "http://127.5.5.5/token",
    ],
)
def test_http_is_accepted_for_loopback(url: str) -> None:
    """RFC 8252 §7.3: plain http is fine when it never leaves the machine."""
    assert check_endpoint(url, "token endpoint") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/token",
        "http://127.0.0.1.evil.com/token",
        "http://localhost.evil.com/token",
        "http://10.0.0.1/token",
        "http://0.0.0.0/token",
    ],
)
def test_http_is_refused_for_other_hosts(url: str) -> None:
    """Plain http to anything but loopback would send a credential in the clear."""
    with pytest.raises(OAuthError) as caught:
        check_endpoint(url, "token endpoint")
    assert "https" in caught.value.message
    assert "token endpoint" in caught.value.message
    assert caught.value.exit_code == EXIT_OAUTH


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@example.com/token",
        "https://user@example.com/token",
        "https://@example.com/token",
        "http://user@127.0.0.1/token",
    ],
)
def test_user_info_is_refused(url: str) -> None:
    """``user:pass@host`` hides the real host from a quick look (and leaks a password)."""
    with pytest.raises(OAuthError, match="user info"):
        check_endpoint(url, "token endpoint")


@pytest.mark.parametrize("url", ["https://example.com/authorize#frag", "https://example.com/#x"])
def test_fragments_are_refused(url: str) -> None:
    """An endpoint URL must not have a fragment (RFC 6749 §3.1)."""
    with pytest.raises(OAuthError, match="fragment"):
        check_endpoint(url, "authorization endpoint")


def test_empty_fragment_is_refused() -> None:
    """A bare ``#`` is a fragment component too (RFC 3986 §3.5); RFC 6749 §3.1 forbids it."""
    with pytest.raises(OAuthError, match="fragment"):
        check_endpoint("https://example.com/authorize#", "authorization endpoint")


@pytest.mark.parametrize(
    "url",
    [
        "https://x/a b",
        "https://x/\n",
        "https://x/a\r\nHost: evil",
        "https://x/\t",
        "https://x/a\x00b",
        "https://x/a\x1bb",
        "https://x/a\x7fb",
        " https://x/a",
        "https://x/a\u00a0b",
        "https://x/a\u2028b",
        "https://example.com/authorize?response_type=code&x=$(calc.exe) b",
    ],
)
def test_whitespace_and_control_characters_are_refused(url: str) -> None:
    """The CVE-2025-6514 class: a URL that a launcher could split into extra arguments."""
    with pytest.raises(OAuthError, match="whitespace or control"):
        check_endpoint(url, "authorization endpoint")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "calc.exe",
        "ftp://example.com/token",
        "data:text/html,<script>x</script>",
        "HTTPS-ish://example.com",
        "//example.com/token",
        "https:///token",
    ],
)
def test_other_schemes_and_hostless_urls_are_refused(url: str) -> None:
    """Only http(s) URLs with a host are ever used or opened."""
    with pytest.raises(OAuthError):
        check_endpoint(url, "authorization endpoint")


def test_empty_url_is_refused() -> None:
    """An empty URL is not usable."""
    with pytest.raises(OAuthError, match="not a usable URL"):
        check_endpoint("", "issuer")


def test_very_long_url_is_refused() -> None:
    """Absurd lengths are refused; a long but sane one is fine."""
    ok = "https://example.com/" + "a" * 8000
    assert check_endpoint(ok, "issuer") == ok
    with pytest.raises(OAuthError, match="not a usable URL"):
        check_endpoint("https://example.com/" + "a" * 9000, "issuer")


def test_bad_port_is_refused() -> None:
    """A port that is not a number is an invalid URL, not a crash."""
    with pytest.raises(OAuthError, match="not a valid URL"):
        check_endpoint("https://example.com:99999/token", "token endpoint")


def test_long_url_is_cut_in_the_message() -> None:
    """The refused URL is shown, but cut to one short line."""
    url = "http://example.com/" + "a" * 500
    with pytest.raises(OAuthError) as caught:
        check_endpoint(url, "issuer")
    assert url not in caught.value.message
    assert "..." in caught.value.message


@pytest.mark.parametrize(
    "host",
    ["localhost", "LocalHost", "127.0.0.1", "127.5.5.5", "127.255.255.254", "::1", "[::1]"],
)
def test_is_loopback_true(host: str) -> None:
    """Names and addresses that always mean this machine."""
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "127.0.0.1.evil.com",
        "localhost.evil.com",
        "evil-localhost",
        "128.0.0.1",
        "10.0.0.1",
        "0.0.0.0",  # noqa: S104 (a host name under test, nothing binds it)
        "::",
        "",
    ],
)
def test_is_loopback_false(host: str) -> None:
    """Anything that could resolve elsewhere, or is not an address at all."""
    assert not is_loopback(host)
