"""The OS keychain: the only place mcpcred keeps secret values.

``store`` owns the ``keyring`` library for the CLI; ``secretservice`` reads the
Linux Secret Service directly for the shim, whose start-up cannot afford
keyring's import and backend discovery. Both agree on ``chunks``.
"""

# The backend keyring picks on each OS when nothing overrides it. wrap records a
# backend in the shim's arguments only when it differs; the shim then loads
# this one directly instead of running keyring's discovery.
SECRET_SERVICE = "keyring.backends.SecretService.Keyring"  # noqa: S105 (a class name)
DEFAULT_BACKENDS = {
    "linux": SECRET_SERVICE,
    "macos": "keyring.backends.macOS.Keyring",
    "windows": "keyring.backends.Windows.WinVaultKeyring",
}

# The encrypted file store (``filestore``) as a keyring backend: what wrap records and
# what ``PYTHON_KEYRING_BACKEND`` may name. The shim reads the file directly for it.
FILE_STORE = "mcpcred.keychain.filekeyring.FileKeyring"
