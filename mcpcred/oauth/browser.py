"""Opening a login URL in the user's browser, safely.

The URL is checked first (``urls.check_endpoint``: https or loopback http,
no whitespace or control characters) and handed to ``webbrowser``, which
starts the browser as an argument vector, never through a shell. That is
the lesson of CVE-2025-6514: mcp-remote let a server-provided URL reach a
shell. Failing to open a browser is never an error: the URL is printed too.
"""

from __future__ import annotations

from mcpcred.oauth.urls import check_endpoint


def open_url(url: str) -> bool:
    """Open ``url`` in a browser; False when none could be started."""
    import webbrowser

    check_endpoint(url, "login URL")
    try:
        return bool(webbrowser.open(url, new=1, autoraise=True))
    except webbrowser.Error:
        return False
