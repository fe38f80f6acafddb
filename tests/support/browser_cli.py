"""A "browser" for ``$BROWSER``: approves (or denies) a login on the oidc-provider test server.

``webbrowser`` runs ``$BROWSER`` with the URL, as it would run Firefox. With
``BROWSER="python -m tests.support.browser_cli %s"`` the login under test takes
its real browser-opening path, and this script plays the user on the server's
own pages: the device confirmation for a ``/device`` URL, login and consent for
an authorization URL (whose final redirect lands on mcpcred's loopback
listener). ``FAKEBROWSER_DENY=1`` presses "Abort" instead; ``FAKEBROWSER_LOG``
names a file that receives each URL opened; ``FAKEBROWSER_PAGE`` one that receives
the status and body of the listener's page at the end of an authorization.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

import httpx

from tests.support import fakebrowser


def main(argv: list[str]) -> int:
    url = argv[1]
    log = os.environ.get("FAKEBROWSER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(url + "\n")
    deny = os.environ.get("FAKEBROWSER_DENY") == "1"
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        if urlsplit(url).path.startswith("/device"):
            fakebrowser.approve_device(client, url, deny=deny)
        else:
            page = fakebrowser.approve_authorize(client, url)
            shown = os.environ.get("FAKEBROWSER_PAGE")
            if shown:
                with open(shown, "w", encoding="utf-8") as handle:
                    handle.write(f"{page.status_code}\n{page.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
