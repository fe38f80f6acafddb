"""mcpcred: keep MCP server credentials out of client config files.

The package has no public Python API; the command line is the interface.
"""

__version__ = "0.1.0"
