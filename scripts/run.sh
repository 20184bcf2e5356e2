#!/usr/bin/env bash
# `make run`: migrate Django's database, build the demo target if missing, make sure there is an
# admin account (one process: manage.py prepare_local), then hand the terminal to uvicorn (Ctrl-C stops it cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8008}
# Shown below; the server itself takes its address from each request unless PUBLIC_URL is set.
shown_host=${HOST/0.0.0.0/127.0.0.1}
URL=${PUBLIC_URL:-http://${shown_host}:${PORT}}

"$PY" manage.py prepare_local
cat <<INFO

  Admin:            ${URL}/admin/
  MCP (Claude etc): ${URL}/mcp        legacy SSE: ${URL}/sse
  MCP (ChatGPT):    ${URL}/chatgpt/mcp   legacy SSE: ${URL}/chatgpt/sse
  Health:           ${URL}/health

INFO
exec "$PY" -m uvicorn mcpsite.asgi:application --host "$HOST" --port "$PORT" --timeout-graceful-shutdown 3
