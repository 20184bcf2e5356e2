"""System checks for the MCP bridge: development flags that admit requests without a token, several workers
without the Redis that legacy SSE messages need, and elicitation sessions across workers. The server logs them
at startup too."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from mcp_bridge.conf import bridge_settings


@register(Tags.security)
def check_bridge(app_configs=None, **kwargs) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    conf = bridge_settings()
    flags = [
        name
        for name, on in (
            ("ALLOW_UNAUTH_METHODS", conf.ALLOW_UNAUTH_METHODS),
            ("ALLOW_UNAUTH_TOOLS_CALL", conf.ALLOW_UNAUTH_TOOLS_CALL),
        )
        if on
    ]
    if flags:
        messages.append(
            Warning(
                f"!!! INSECURE: {' and '.join(flags)} is on: MCP requests are accepted WITHOUT a "
                "token. Development only; never in production. !!!",
                hint="Unset it and connect with a token (manage.py issue_token).",
                id="mcp_bridge.W001",
            )
        )
    if not settings.REDIS_URL and int(os.environ.get("WEB_CONCURRENCY", "1") or 1) > 1:
        messages.append(
            Warning(
                "Several workers without REDIS_URL: legacy SSE messages can reach a worker without their stream.",
                hint="Set REDIS_URL (docs/deploy.md).",
                id="mcp_bridge.W002",
            )
        )
    if conf.ELICITATION_SESSIONS and int(os.environ.get("WEB_CONCURRENCY", "1") or 1) > 1:
        messages.append(
            Warning(
                "MCP_ELICITATION_SESSIONS is on with several workers: a session's requests that reach "
                "another worker lose its elicitation, and an answer to one can be lost (the call then "
                "waits, at most ELICITATION_ANSWER_SECONDS).",
                hint="Route on Mcp-Session-Id to one worker, or run one (docs/approvals.md).",
                id="mcp_bridge.W003",
            )
        )
    return messages
