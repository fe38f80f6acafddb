"""Guard mode: the shim as a relay that logs, filters and pins."""
