"""Container health check: does the web process answer GET /health on its own port?

Healthy means /health answered with its JSON body, 200 ("healthy") or 503 ("degraded": the SQL
target does not answer). A SQL Server outage shows on /health and in monitoring; it should not
mark the web tier unhealthy, because that tier also serves sign-in, OAuth and the admin.
Set HEALTHCHECK_REQUIRE_TARGET=1 to count a degraded target as unhealthy too.

The request carries the public host name (from PUBLIC_URL) so that ALLOWED_HOSTS accepts it.
Standard library only: it runs in the image's Python with nothing else installed.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from urllib.parse import urlsplit


def health_probe(*, port: int, host_header: str, timeout: float) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            "GET", "/health", headers={"Host": host_header, "Accept": "application/json", "X-Forwarded-Proto": "https"}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def main() -> int:
    port = int(os.environ.get("PORT", "8008"))
    host_header = urlsplit(os.environ.get("PUBLIC_URL", "")).hostname or "localhost"
    require_target = os.environ.get("HEALTHCHECK_REQUIRE_TARGET", "").lower() in {"1", "true", "yes"}
    try:
        status, body = health_probe(port=port, host_header=host_header, timeout=4.0)
    except (OSError, ValueError) as error:
        print(f"unhealthy: /health did not answer with JSON ({error})")
        return 1
    accepted = {200} if require_target else {200, 503}
    if status not in accepted or "status" not in body:
        print(f"unhealthy: /health answered {status} {body.get('status', '')}".rstrip())
        return 1
    print(f"ok: {status} {body['status']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
