"""Scripted "user" for oidc-provider's built-in (devInteractions) login and consent pages.

The OAuth test server (``tests/oauth_server/oidc_server.mjs``) asks a human to approve a
device code or an authorization request in a browser. Tests have no human, so this module
plays one with plain httpx: it finds the page's ``<form>``, collects its ``<input>`` fields
(hidden ``xsrf``, ``user_code``, ``prompt`` ...), applies overrides and submits it. The pages
depend on the ``_session`` / ``_interaction`` cookies, so one cookie-keeping client must do
all the steps of one approval; redirects are always followed (like a browser), whatever the
client's own default.

Only the stdlib ``html.parser`` is used, because the pages are tiny, fixed HTML generated
by oidc-provider and a real HTML toolkit would be one more dependency for no gain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

DEVICE_CONFIRM_FORM = "op.deviceConfirmForm"
DEVICE_INPUT_FORM = "op.deviceInputForm"


class BrowserError(RuntimeError):
    """A page did not look like the step of the flow the script expected."""


@dataclass
class Form:
    """One ``<form>`` of a page: where and how it submits, and its named inputs."""

    id: str | None
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "form":
            self._current = Form(
                id=attr.get("id"),
                action=attr.get("action") or "",
                method=(attr.get("method") or "get").lower(),
            )
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None:
            name = attr.get("name")
            if name:
                self._current.fields[name] = attr.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms(html: str) -> list[Form]:
    """Every form of ``html``, in document order."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def title(response: httpx.Response) -> str:
    """The page's ``<title>`` text ("" when it has none)."""
    match = re.search(r"<title>(.*?)</title>", response.text, re.S | re.I)
    return match.group(1).strip() if match else ""


def _page(response: httpx.Response) -> str:
    return f"{response.request.method} {response.url} -> {response.status_code} {title(response)!r}: {response.text[:400]!r}"


def submit(
    client: httpx.Client,
    response: httpx.Response,
    form_id: str | None = None,
    **overrides: str,
) -> httpx.Response:
    """Submit the first form (or the one whose id is ``form_id``) of the page in ``response``."""
    candidates = forms(response.text)
    if form_id is not None:
        candidates = [form for form in candidates if form.id == form_id]
    if not candidates:
        wanted = f"form {form_id!r}" if form_id else "a form"
        raise BrowserError(f"no {wanted} on the page: {_page(response)}")
    form = candidates[0]
    data = {**form.fields, **overrides}
    url = urljoin(str(response.url), form.action)
    if form.method == "post":
        return client.post(url, data=data, follow_redirects=True)
    return client.get(url, params=data, follow_redirects=True)


def _prompt(response: httpx.Response) -> str | None:
    # Login and consent pages both have <title>Sign-in</title>; only the hidden
    # <input name="prompt" value="login|consent"> of their form tells them apart.
    found = forms(response.text)
    return found[0].fields.get("prompt") if found else None


def _login_and_consent(
    client: httpx.Client, response: httpx.Response, login: str
) -> httpx.Response:
    """Fill in the login page (any login and password are accepted) and accept consent.

    Either page may be skipped by the server (an existing session, an earlier consent),
    so this answers whatever prompt comes, until a page without one.
    """
    for _ in range(4):
        prompt = _prompt(response)
        if prompt == "login":
            response = submit(client, response, login=login, password="any")
        elif prompt == "consent":
            response = submit(client, response)
        else:
            break
    return response


def approve_device(
    client: httpx.Client, verification_uri_complete: str, login: str = "alice", deny: bool = False
) -> httpx.Response:
    """The user's side of RFC 8628: open the link, confirm the code, log in, consent.

    1. GET ``verification_uri_complete``: an auto-submitting (JavaScript) form with ``xsrf``
       and ``user_code``, which a script must submit itself;
    2. POST ``/device``: "Device Login Confirmation" (form ``op.deviceConfirmForm``);
    3. ``confirm=yes`` leads to the login page, then the consent page, then "Sign-in Success".

    ``deny=True`` presses "[ Abort ]" on the confirmation page instead (the server shows
    its code input page again); the client's next poll then gets ``access_denied``. ``login`` becomes the ``sub`` of the tokens.
    Returns the last page; raises ``BrowserError`` when a page is not the expected one.
    """
    response = client.get(verification_uri_complete, follow_redirects=True)
    response = submit(client, response)  # what the page's JavaScript would do
    if title(response) != "Device Login Confirmation":
        raise BrowserError(f"expected the device confirmation page: {_page(response)}")
    if deny:
        response = submit(client, response, DEVICE_CONFIRM_FORM, abort="yes")
        # oidc-provider answers an abort with its empty "enter the code" page again.
        if not any(form.id == DEVICE_INPUT_FORM for form in forms(response.text)):
            raise BrowserError(f"expected the code input page after the abort: {_page(response)}")
        return response
    response = submit(client, response, DEVICE_CONFIRM_FORM)  # its fields carry confirm=yes
    response = _login_and_consent(client, response, login)
    if title(response) != "Sign-in Success":
        raise BrowserError(f"expected the device flow's success page: {_page(response)}")
    return response


def approve_authorize(
    client: httpx.Client, authorization_url: str, login: str = "alice"
) -> httpx.Response:
    """The user's side of the authorization-code flow: open the URL, log in, consent.

    The server's last answer is a redirect to the client's ``redirect_uri``; it is followed,
    so the client's loopback listener really receives ``?code=...&state=...&iss=...`` as it
    would from a browser. Returns the listener's response (its ``url`` is the callback URL).
    """
    response = client.get(authorization_url, follow_redirects=True)
    return _login_and_consent(client, response, login)
