"""Opening a login URL in the user's browser, safely and without waiting on it.

The URL is checked first (``urls.check_endpoint``: https or loopback http,
no whitespace or control characters) and handed to ``webbrowser``, which
starts the browser as an argument vector, never through a shell. That is
the lesson of CVE-2025-6514: mcp-remote let a server-provided URL reach a
shell. Failing to open a browser is never an error: the URL is printed too.

Some browsers ``webbrowser`` may pick block until they exit (``$BROWSER``
set to a text browser, for one). The login's loopback listener must keep
serving meanwhile, so the browser is started from a thread and this
returns after at most ``WAIT`` seconds.
"""

from __future__ import annotations

import threading

from mcpcred.oauth.urls import check_endpoint

WAIT = 2.0


def open_url(url: str) -> bool:
    """Open ``url`` in a browser; False when none could be started."""
    import webbrowser

    check_endpoint(url, "login URL")
    outcome: list[bool] = []

    def run() -> None:
        try:
            outcome.append(bool(webbrowser.open(url, new=1, autoraise=True)))
        except (webbrowser.Error, OSError):
            outcome.append(False)

    opener = threading.Thread(target=run, name="mcpcred-browser", daemon=True)
    opener.start()
    opener.join(WAIT)
    return outcome[0] if outcome else True  # still running: a browser that blocks
