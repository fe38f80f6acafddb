"""Client adapters, one module per MCP client, all behind ``ClientAdapter``.

``ADAPTERS`` is the registry, in the order ``mcpcred clients`` lists them.
"""

from __future__ import annotations

from mcpcred.clients.amazon_q import AmazonQ
from mcpcred.clients.amp import Amp
from mcpcred.clients.base import ClientAdapter, is_wrapped
from mcpcred.clients.claude_code import ClaudeCode
from mcpcred.clients.claude_desktop import ClaudeDesktop
from mcpcred.clients.cline import Cline
from mcpcred.clients.codex import Codex
from mcpcred.clients.continue_dev import Continue
from mcpcred.clients.copilot_cli import CopilotCli
from mcpcred.clients.crush import Crush
from mcpcred.clients.cursor import Cursor
from mcpcred.clients.gemini import Gemini
from mcpcred.clients.generic import Generic
from mcpcred.clients.goose import Goose
from mcpcred.clients.jetbrains import JetBrains
from mcpcred.clients.kiro import Kiro
from mcpcred.clients.lm_studio import LMStudio
from mcpcred.clients.opencode import OpenCode
from mcpcred.clients.roo_code import RooCode
from mcpcred.clients.vscode import VSCode
from mcpcred.clients.windsurf import Windsurf
from mcpcred.clients.zed import Zed

ADAPTERS: tuple[ClientAdapter, ...] = (
    ClaudeDesktop(),
    ClaudeCode(),
    Cursor(),
    VSCode(),
    Windsurf(),
    Zed(),
    Codex(),
    Gemini(),
    OpenCode(),
    CopilotCli(),
    Cline(),
    Kiro(),
    Amp(),
    Crush(),
    RooCode(),
    AmazonQ(),
    LMStudio(),
    JetBrains(),
    Goose(),
    Continue(),
)
GENERIC = Generic()
BY_ID: dict[str, ClientAdapter] = {a.id: a for a in (*ADAPTERS, GENERIC)}

__all__ = ["ADAPTERS", "BY_ID", "GENERIC", "ClientAdapter", "is_wrapped"]
