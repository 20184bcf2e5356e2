"""The whole path a connector takes, against a live server: discovery, registration, sign-in,
consent, PKCE token exchange with `resource`, then every tool over /mcp, /sse and /chatgpt/sse."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from oauth_ext.discovery import MCP_ENDPOINT_PATHS

LOOPBACK_REDIRECT = "http://127.0.0.1:8976/callback"
FALLBACK_REDIRECT = "https://claude.ai/api/mcp/auth_callback"  # never followed: the code is read from Location
SQL_CALLS = [("list_tables", {}), ("describe_table", {"table_name": "{table}"}),
             ("get_table_sample", {"table_name": "{table}", "limit": 2}), ("execute_sql", {"query": "SELECT 1 AS ok"})]


class SmokeFailure(Exception):
    pass


@dataclass
class SmokeReport:
    lines: list[str] = field(default_factory=list)
    failed: bool = False
    emit: Callable[[str], None] = print

    def step(self, name: str, ok: bool, detail: str = "") -> None:
        line = f"{'PASS' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail else "")
        self.lines.append(line)
        self.emit(line)
        self.failed |= not ok


def smoke_run(*, url: str, token: str | None = None, username: str = "", password: str = "",
              report: SmokeReport | None = None) -> SmokeReport:
    """Run every step; each prints PASS or FAIL. Stops at the first failure before the MCP steps."""
    import anyio

    report = report or SmokeReport()
    base = url.rstrip("/")
    for endpoint in sorted(MCP_ENDPOINT_PATHS, key=len, reverse=True):
        if base.endswith(endpoint):
            base = base[: -len(endpoint)]
    try:
        if token is None:
            token = _oauth_flow(base, username, password, report)
        anyio.run(_mcp_steps, base, token, report)
    except SmokeFailure as failure:
        report.step("stopped", False, str(failure))
    return report


def _check(report: SmokeReport, name: str, work: Callable[[], Any]) -> Any:
    try:
        result = work()
    except (httpx2.HTTPError, ValueError, KeyError, SmokeFailure) as error:
        report.step(name, False, f"{type(error).__name__}: {error}")
        raise SmokeFailure(name) from None
    report.step(name, True, result[1] if isinstance(result, tuple) else "")
    return result[0] if isinstance(result, tuple) else result


def _oauth_flow(base: str, username: str, password: str, report: SmokeReport) -> str:
    with httpx2.Client(timeout=30, follow_redirects=False) as http:
        prm = _check(report, "1. protected resource metadata from the 401", lambda: _prm(http, base))
        meta = _check(
            report, "2. authorization server metadata", lambda: _as_metadata(http, prm["authorization_servers"][0])
        )
        client = _check(report, "3. dynamic client registration", lambda: _register(http, meta))
        verifier = secrets.token_urlsafe(48)
        code = _check(
            report,
            "4. sign in and approve consent",
            lambda: _consent(http, meta, client, verifier, prm["resource"], username, password),
        )
        return _check(
            report,
            "5. code exchange with PKCE and resource",
            lambda: _exchange(http, meta, client, code, verifier, prm["resource"]),
        )


def _prm(http: httpx2.Client, base: str) -> tuple[dict, str]:
    response = http.post(
        f"{base}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    if response.status_code != 401:
        raise SmokeFailure(f"expected 401 without a token, got {response.status_code}")
    match = re.search(r'resource_metadata="([^"]+)"', response.headers.get("www-authenticate", ""))
    if not match:
        raise SmokeFailure("the 401 has no resource_metadata in WWW-Authenticate")
    document = http.get(match.group(1)).raise_for_status().json()
    return document, f"resource {document['resource']}"


def _as_metadata(http: httpx2.Client, issuer: str) -> tuple[dict, str]:
    document = http.get(f"{issuer}/.well-known/oauth-authorization-server").raise_for_status().json()
    if document["issuer"] != issuer:
        raise SmokeFailure(f"issuer {document['issuer']!r} differs from {issuer!r}")
    if "S256" not in document.get("code_challenge_methods_supported", []):
        raise SmokeFailure("S256 PKCE is not advertised")
    return document, f"issuer {issuer}"


def _register(http: httpx2.Client, meta: dict) -> tuple[dict, str]:
    for redirect in (LOOPBACK_REDIRECT, FALLBACK_REDIRECT):
        response = http.post(
            meta["registration_endpoint"],
            json={
                "client_name": "mcp_smoke",
                "redirect_uris": [redirect],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            },
        )
        if response.status_code == 201:
            client = response.json()
            return client, f"client_id {client['client_id']}, redirect {redirect}"
    raise SmokeFailure(f"registration refused: {response.status_code} {response.text[:200]}")


def _consent(
    http: httpx2.Client, meta: dict, client: dict, verifier: str, resource: str, username: str, password: str
) -> tuple[str, str]:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    url = (
        meta["authorization_endpoint"]
        + "?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client["client_id"],
                "redirect_uri": client["redirect_uris"][0],
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "resource": resource,
                "scope": "sql:read",
            }
        )
    )
    page = _follow(http, http.get(url))
    if "password" in page.text and 'name="username"' in page.text:
        if not username:
            raise SmokeFailure("the server asks for a sign-in: pass --username and --password")
        page = _follow(
            http,
            http.post(
                str(page.url),
                data={**_form_fields(page.text, "username"), "username": username, "password": password},
                headers={"Referer": str(page.url)},
            ),
        )
    fields = _form_fields(page.text, "allow")
    if not fields:
        raise SmokeFailure("no consent form (wrong password?)")
    answer = http.post(str(page.url), data={**fields, "allow": "true"}, headers={"Referer": str(page.url)})
    location = answer.headers.get("location", "")
    query = parse_qs(urlsplit(location).query)
    if query.get("state") != [state] or "code" not in query:
        raise SmokeFailure(f"consent did not redirect with a code: {answer.status_code} {location[:200]}")
    if query.get("iss") and query["iss"][0] != meta["issuer"]:
        raise SmokeFailure("the iss parameter does not match the issuer")
    return query["code"][0], "redirected with a code" + (" and iss" if query.get("iss") else "")


def _exchange(
    http: httpx2.Client, meta: dict, client: dict, code: str, verifier: str, resource: str
) -> tuple[str, str]:
    response = http.post(
        meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client["redirect_uris"][0],
            "client_id": client["client_id"],
            "code_verifier": verifier,
            "resource": resource,
        },
    )
    if response.status_code != 200:
        raise SmokeFailure(f"token endpoint answered {response.status_code}: {response.text[:200]}")
    tokens = response.json()
    return tokens["access_token"], f"scope {tokens.get('scope')}, expires in {tokens.get('expires_in')} s"


def _follow(http: httpx2.Client, response: httpx2.Response) -> httpx2.Response:
    for _ in range(5):
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        response = http.get(urljoin(str(response.url), response.headers["location"]))
    raise SmokeFailure("too many redirects")


class _FormFields(HTMLParser):
    """The inputs of the form that contains an element named `marker`."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker, self.current, self.found, self.in_form = marker, {}, None, False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.in_form, self.current, self.has_marker = True, {}, False
        elif self.in_form and tag in ("input", "button") and attributes.get("name"):
            if attributes["name"] == self.marker:
                self.has_marker = True
            elif tag == "input":
                self.current[attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.in_form:
            if self.has_marker and self.found is None:
                self.found = self.current
            self.in_form = False


def _form_fields(html: str, marker: str) -> dict[str, str]:
    parser = _FormFields(marker)
    parser.feed(html)
    return parser.found or {}


async def _mcp_steps(base: str, token: str, report: SmokeReport) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:  # the SDK leaves a client it is given open
        transports: list[tuple[str, Callable[[], Any], list[tuple[str, dict]]]] = [
            ("/mcp (Streamable HTTP)", lambda: streamable_http_client(f"{base}/mcp", http_client=http), SQL_CALLS),
            ("/sse (HTTP+SSE)", lambda: sse_client(f"{base}/sse", headers=headers), SQL_CALLS),
            (
                "/chatgpt/sse (HTTP+SSE)",
                lambda: sse_client(f"{base}/chatgpt/sse", headers=headers),
                [("search", {"query": "list tables"}), ("fetch", {"id": "{first_id}"})],
            ),
        ]
        for number, (label, opener, calls) in enumerate(transports, start=6):
            await _one_transport(f"{number}. {label}", opener, calls, report)


async def _one_transport(
    label: str, opener: Callable[[], Any], calls: list[tuple[str, dict]], report: SmokeReport
) -> None:
    try:
        async with Client(opener(), mode="legacy") as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            report.step(f"{label}: initialize and list tools", True, ", ".join(names))
            memory: dict[str, str] = {}
            for tool, arguments in calls:
                await _one_call(label, client, tool, arguments, memory, report)
    except Exception as error:  # any transport failure is a failed step, never a crash of the command
        report.step(f"{label}: connect", False, f"{type(error).__name__}: {error}")


async def _one_call(
    label: str, client: Client, tool: str, arguments: dict, memory: dict[str, str], report: SmokeReport
) -> None:
    filled = {k: v.format(**memory) if isinstance(v, str) else v for k, v in arguments.items()}
    result = await client.call_tool(tool, filled)
    text = result.content[0].text if result.content else ""
    if tool == "list_tables" and not result.is_error:
        memory["table"] = result.structured_content["tables"][0]["name"]
    if tool == "search" and not result.is_error:
        memory["first_id"] = json.loads(text)["results"][0]["id"]
    report.step(f"{label}: {tool}", not result.is_error, text.splitlines()[0][:100] if text else "")
