"""Token-endpoint answers as real providers send them (RFC 6749 §5 and the quirks)."""

from __future__ import annotations

import pytest

from mcpcred.oauth import tokens
from mcpcred.oauth.http import Reply
from mcpcred.oauth.tokens import TokenError

FORM = "application/x-www-form-urlencoded; charset=utf-8"


def test_json_answer_is_read() -> None:
    body = b'{"access_token":"at1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt1","scope":"a b"}'
    parsed = tokens.parse(Reply(200, "application/json", body), what="t")
    assert (parsed.access_token, parsed.expires_in, parsed.refresh_token) == ("at1", 3600, "rt1")
    assert parsed.scope == ("a", "b")


def test_github_form_encoded_answer_with_comma_scopes_and_string_numbers() -> None:
    body = b"access_token=ghu_x&expires_in=28800&refresh_token=ghr_y&refresh_token_expires_in=15811200&scope=repo%2Cgist&token_type=bearer"
    parsed = tokens.parse(Reply(200, FORM, body), what="t", comma_scopes=True)
    assert parsed.access_token == "ghu_x"
    assert parsed.expires_in == 28800
    assert parsed.refresh_token_expires_in == 15811200
    assert parsed.scope == ("repo", "gist")


def test_github_error_sent_with_http_200_is_an_error() -> None:
    body = b"error=bad_refresh_token&error_description=The+refresh+token+passed+is+incorrect+or+expired."
    with pytest.raises(TokenError) as caught:
        tokens.parse(Reply(200, FORM, body), what="refreshing")
    assert caught.value.error == "bad_refresh_token"
    assert "incorrect or expired" in caught.value.message


def test_error_with_interval_keeps_it() -> None:
    body = b'{"error":"slow_down","interval":10}'
    with pytest.raises(TokenError) as caught:
        tokens.parse(Reply(400, "application/json", body), what="t")
    assert caught.value.error == "slow_down"
    assert caught.value.interval == 10


def test_html_error_page_is_not_mistaken_for_a_token() -> None:
    with pytest.raises(TokenError, match="HTTP 502"):
        tokens.parse(Reply(502, "text/html", b"<html>Bad gateway</html>"), what="t")


def test_success_without_access_token_is_refused() -> None:
    with pytest.raises(TokenError, match="no access_token"):
        tokens.parse(Reply(200, "application/json", b'{"token_type":"Bearer"}'), what="t")


def test_dpop_tokens_are_refused() -> None:
    body = b'{"access_token":"x","token_type":"DPoP"}'
    with pytest.raises(TokenError, match="unsupported token type"):
        tokens.parse(Reply(200, "application/json", body), what="t")


def test_descriptions_are_cut_to_one_printable_line() -> None:
    body = (
        b'{"error":"invalid_grant","error_description":"line1\\nline2\\u001b[31m'
        + b"x" * 500
        + b'"}'
    )
    with pytest.raises(TokenError) as caught:
        tokens.parse(Reply(400, "application/json", body), what="t")
    assert "\n" not in caught.value.message
    assert "\x1b" not in caught.value.message
    assert len(caught.value.description) <= 200


def _with_lifetime(name: str, raw: bytes) -> Reply:
    body = b'{"access_token":"at1","token_type":"Bearer","' + name.encode() + b'":' + raw + b"}"
    return Reply(200, "application/json", body)


@pytest.mark.parametrize("name", ["expires_in", "refresh_token_expires_in"])
@pytest.mark.parametrize(
    "raw", [b"1e400", b"-1e400", b"-3600", b"-0.5", b'"soon"', b'"-60"', b'"nan"', b"true", b"[]"]
)
def test_a_lifetime_that_is_not_seconds_is_a_broken_answer(name: str, raw: bytes) -> None:
    """Issue 12: ``1e400`` crashed (OverflowError, exit 70); negative or text meant "never expires"."""
    with pytest.raises(TokenError) as caught:
        tokens.parse(_with_lifetime(name, raw), what="logging in")
    assert caught.value.error == "invalid_response"
    assert caught.value.exit_code == 7
    assert caught.value.message == f"logging in: the answer's {name} is not a number of seconds"


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(b"1e300", tokens.MAX_LIFETIME), (b"10" + b"0" * 40, tokens.MAX_LIFETIME), (b"0", 0)],
)
def test_a_huge_lifetime_is_read_as_a_year_at_most(raw: bytes, seconds: int) -> None:
    parsed = tokens.parse(_with_lifetime("expires_in", raw), what="t")
    assert parsed.expires_in == seconds


def test_an_absent_or_empty_lifetime_means_the_provider_set_none() -> None:
    """GitHub OAuth Apps send no expires_in (form answers may send it empty)."""
    assert tokens.parse(_with_lifetime("scope", b'"a"'), what="t").expires_in is None
    parsed = tokens.parse(Reply(200, FORM, b"access_token=x&expires_in="), what="t")
    assert parsed.expires_in is None


def test_an_error_with_an_infinite_interval_is_still_the_error() -> None:
    body = b'{"error":"slow_down","interval":1e400}'
    with pytest.raises(TokenError) as caught:
        tokens.parse(Reply(400, "application/json", body), what="t")
    assert (caught.value.error, caught.value.interval) == ("slow_down", None)
