"""Finding plaintext credentials in MCP client configs (the audit-config command)."""
