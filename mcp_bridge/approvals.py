"""How a client learns that a statement waits for the user's approval (sqltools.approvals decides that it does).

Best first:
1. 2026-07-28 clients that accept URL elicitation: the call answers InputRequiredResult with a URL-mode
   elicitation of /approvals/<id>; the SDK seals requestState (the approval id) with a key derived from
   SECRET_KEY, so any worker takes the retry. On the retry the server waits (bounded) for the click, then
   runs the statement once, or says why not.
2. Handshake-era clients with a channel for server requests (the legacy SSE transport) that declared URL
   elicitation: the same page through elicitation/create mid-call, then the same bounded wait. Stateless
   Streamable HTTP has no such channel (the SDK raises NoBackChannelError): those clients get 3.
3. Everyone else: an error result whose text asks the user to open the link and then ask again; the same
   statement from the same user and client then runs once without asking.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Awaitable, Callable

import anyio
from django.conf import settings
from mcp.server.mcpserver import Context
from mcp.server.request_state import RequestStateSecurity
from mcp_types import CallToolResult, ElicitRequest, ElicitRequestURLParams, InputRequiredResult
from mcp_types.version import is_version_at_least

from mcp_bridge.render import error_result
from mcp_bridge.threads import in_thread
from oauth_ext.discovery import public_url, request_base_url
from sqltools.approvals import approval_status
from sqltools.conf import sqltools_settings
from sqltools.errors import ApprovalRequired

logger = logging.getLogger(__name__)

ELICITATION_KEY = "approval"
_WAIT_SECONDS = 240.0  # under the 300 s Claude gives a tool call
ELICITATION_ANSWER_SECONDS = 120.0  # for the client to say whether the user opens the page
_POLL_SECONDS = 1.0


def request_state_security() -> RequestStateSecurity:
    """One key for every worker (derived from SECRET_KEY), so a retry may land on any of them."""
    key = hashlib.sha256(b"mcp_bridge.request_state:" + settings.SECRET_KEY.encode()).digest()
    return RequestStateSecurity(keys=[key], ttl=float(sqltools_settings().APPROVAL_TTL_SECONDS))


def approval_url(ctx: Context, approval_id: Any) -> str:
    request = ctx.request_context.request if ctx.request_context else None
    base = request_base_url(request.scope) if request is not None else public_url()
    return f"{base}/approvals/{approval_id}"


def approval_text(error: ApprovalRequired, url: str) -> str:
    """Path 3: words an assistant can pass on in a chat."""
    approval = error.approval
    expires = approval.expires_at.strftime("%H:%M UTC")
    minutes = max(1, round((approval.expires_at - approval.created_at).total_seconds() / 60))
    return (f"{error.message} Ask the user to open {url} (signed in to this server as {error.username}), check "
            "the statement and click Approve, and to tell you when that is done; then run the same statement again "
            f"and it will run once, without asking. The link expires at {expires} (in {minutes} minutes). If the "
            "user clicks Decline, it will not run.")


def _url_elicitation(ctx: Context) -> bool:
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and elicitation.url is not None


def _modern(ctx: Context) -> bool:
    version = ctx.protocol_version
    return bool(version) and is_version_at_least(version, "2026-07-28")


async def approval_ask(ctx: Context, error: ApprovalRequired,
                       retry: Callable[[], Awaitable[CallToolResult]]) -> CallToolResult | InputRequiredResult:
    """The answer to a call whose statement waits for approval: paths 1, 2 or 3 (module docstring)."""
    approval = error.approval
    url = approval_url(ctx, approval.pk)
    message = (f"{error.message} Open the page, check the statement and click Approve or Decline; the call goes on "
               "once you have decided.")
    if _modern(ctx) and _url_elicitation(ctx):
        request = ElicitRequest(params=ElicitRequestURLParams(message=message, url=url))
        return InputRequiredResult(input_requests={ELICITATION_KEY: request}, request_state=str(approval.pk))
    if _url_elicitation(ctx):
        answer = None
        with anyio.move_on_after(ELICITATION_ANSWER_SECONDS):  # an answer that went to another worker never comes
            try:
                answer = await ctx.elicit_url(message, url, str(approval.pk))
            except Exception as problem:  # no channel for a server request (stateless): the words of path 3
                logger.debug("URL elicitation not possible here (%s): answering with the link", type(problem).__name__)
        if answer is None:
            return error_result(approval_text(error, url))
        if answer.action != "accept":
            return error_result("The user did not open the approval page, so the statement was not run.")
        return await approval_awaited(ctx, approval.pk, retry, lambda: approval_text(error, url))
    return error_result(approval_text(error, url))


async def approval_resumed(ctx: Context, retry: Callable[[], Awaitable[CallToolResult]]) -> CallToolResult:
    """Path 1's retry: requestState holds the approval id (sealed by the SDK, so it is one we minted)."""
    response = (ctx.input_responses or {}).get(ELICITATION_KEY)
    if getattr(response, "action", None) != "accept":
        return error_result("The user did not open the approval page, so the statement was not run.")
    return await approval_awaited(ctx, ctx.request_state, retry, None)


async def approval_awaited(ctx: Context, approval_id: Any, retry: Callable[[], Awaitable[CallToolResult]],
                           pending_text: Callable[[], str] | None) -> CallToolResult:
    """Wait (bounded) for the user's decision on the page, then run the statement once or say why not."""
    status = "pending"  # the wait can end before the first look returns (a worker pool full of long queries)
    with anyio.move_on_after(_WAIT_SECONDS):
        while True:
            status = await in_thread(lambda: approval_status(approval_id=approval_id))
            if status != "pending":
                break
            await anyio.sleep(_POLL_SECONDS)
    if status == "declined":
        return error_result("The user declined this statement on the approval page; it was not run.")
    if status == "approved":
        try:
            await ctx.session.send_elicit_complete(str(approval_id))
        except Exception:  # 2026-07-28 has no such notification; the retry is the answer
            pass
        return await retry()
    if status == "pending":
        text = pending_text() if pending_text else (
            "The statement is still waiting for the user's approval; it was not run. Ask the user to approve it on "
            "the page, then ask you to run it again.")
        return error_result(text)
    return await retry()  # used or expired: the call asks again, with a fresh link if needed
