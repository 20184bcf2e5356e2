#!/usr/bin/env bash
# `make run`: migrate Django's database, build the embedded demo database if missing, make sure there is
# an admin account (one process: manage.py prepare_local), then hand the terminal to uvicorn (Ctrl-C stops
# it cleanly). Only the embedded SQLite demo file is ever seeded; a target named by TARGET_DATABASE_URL or
# MSSQL_HOST is served as it is. The server's first log block says what it serves and at which URLs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export HOST=${HOST:-127.0.0.1}
export PORT=${PORT:-8008}

"$PY" manage.py prepare_local
# No proxy runs in front of `make run`: uvicorn takes X-Forwarded-* only when TRUST_PROXY_HEADERS says one does
# (its default trusts them from 127.0.0.1, where any local program could pick its address).
case "${TRUST_PROXY_HEADERS:-false}" in
  [Tt]rue|1|[Yy]es|[Oo]n) proxy_headers=--proxy-headers ;;
  *) proxy_headers=--no-proxy-headers ;;
esac
exec "$PY" -m uvicorn mcpsite.asgi:application --host "$HOST" --port "$PORT" --timeout-graceful-shutdown 3 \
  "$proxy_headers"
