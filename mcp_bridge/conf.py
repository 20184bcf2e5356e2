"""mcp_bridge's settings, read through one object from settings.MCP_BRIDGE."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed


@dataclass(frozen=True)
class BridgeSettings:
    ALLOW_UNAUTH_METHODS: bool = False  # initialize and tools/list without a token (development only)
    ALLOW_UNAUTH_TOOLS_CALL: bool = False  # tools/call without a token (development only)
    MAX_BODY_BYTES: int = 1_000_000
    ALLOWED_ORIGINS: tuple[str, ...] = ()  # extra browser origins allowed to call the MCP endpoints
    TOKEN_CACHE_SECONDS: int = 60  # with a shared cache only (mcp_bridge/token_cache.py); 0 turns it off
    WORKER_THREADS: int = 16  # tool calls one worker process runs at once (mcp_bridge/threads.py)
    # Streamable HTTP sessions for handshake-era clients that declare URL elicitation (mcp_bridge.app)
    ELICITATION_SESSIONS: bool = False


@lru_cache(maxsize=1)
def bridge_settings() -> BridgeSettings:
    known = {f.name for f in fields(BridgeSettings)}
    values = {k: v for k, v in getattr(settings, "MCP_BRIDGE", {}).items() if k in known}
    if "ALLOWED_ORIGINS" in values:
        values["ALLOWED_ORIGINS"] = tuple(values["ALLOWED_ORIGINS"])
    return BridgeSettings(**values)


def _reset(*, setting: str, **kwargs: object) -> None:
    if setting == "MCP_BRIDGE":
        bridge_settings.cache_clear()


setting_changed.connect(_reset)
