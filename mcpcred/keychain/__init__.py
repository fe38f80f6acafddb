"""The OS keychain: the only place mcpcred keeps secret values.

``store`` owns the ``keyring`` library for the CLI; ``secretservice`` reads the
Linux Secret Service directly for the shim, whose start-up cannot afford
keyring's import and backend discovery. Both agree on ``chunks``.
"""
