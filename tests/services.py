"""What the tests need from the machine, and one answer when it is missing: fail in CI, skip elsewhere.

`require("redis")` inside a test or fixture, or `@pytest.mark.requires("redis")` on a test, class or
module (tests/conftest.py applies the mark before any fixture runs). CI means CI=true, as GitHub
Actions sets it; there every service must be there, so a missing one fails with the same sentence a
developer's machine shows as the skip reason.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import NoReturn

IN_CI = os.environ.get("CI") == "true"
E2E_BIN = Path(__file__).resolve().parent / "e2e" / "node_modules" / ".bin"
CHROMIUM = "/usr/bin/chromium"

# Servers on 127.0.0.1 that scripts/test-services.sh starts: name -> (port, what it is).
SERVERS = {"postgresql": (5432, "PostgreSQL"), "mysql": (3306, "MariaDB"), "redis": (6379, "Redis")}


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def missing(service: str) -> str | None:
    """Why `service` is not available here (a sentence saying how to get it), or None when it is."""
    if service in SERVERS:
        from django.conf import settings

        port, name = SERVERS[service]
        if settings.SERVICES[service]:
            return None
        return f"{name} is not listening on 127.0.0.1:{port} (scripts/test-services.sh starts it)"
    if service == "npm-clients":
        if (E2E_BIN / "mcp-inspector").exists():
            return None
        return "npm clients not installed: run `make test` (it runs npm ci in tests/e2e)"
    if service == "chromium":
        if os.path.exists(CHROMIUM):
            return None
        return f"{CHROMIUM} is missing: install Debian's chromium package (scripts/system-deps.sh does)"
    if service == "freetds":
        return None if shutil.which("odbcinst") else "unixODBC/FreeTDS not installed (scripts/system-deps.sh)"
    # Anything else is a program on PATH.
    if shutil.which(service):
        return None
    return f"{service} is not installed (scripts/system-deps.sh installs it with apt-get)"


def require(service: str) -> None:
    """Go on if `service` is available; otherwise fail in CI and skip elsewhere, saying why."""
    reason = missing(service)
    if reason is not None:
        unavailable(reason)


def unavailable(reason: str) -> NoReturn:
    """What require() does when something is missing; for a test that found out itself (a refused login)."""
    import pytest  # here, not above: tests/settings.py imports this module in memory_probe's measured process

    if IN_CI:
        pytest.fail(f"CI needs this: {reason}")
    pytest.skip(reason)
