#!/usr/bin/env bash
# `make run`: migrate Django's database, build the demo target if missing, make sure there is an
# admin account, then hand the terminal to uvicorn (Ctrl-C stops it cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8008}
export PUBLIC_URL=${PUBLIC_URL:-http://${HOST}:${PORT}}

"$PY" manage.py migrate --noinput -v0
"$PY" manage.py seed_demo --if-missing
"$PY" manage.py ensure_admin
cat <<INFO

  Admin:            ${PUBLIC_URL}/admin/
  MCP (Claude etc): ${PUBLIC_URL}/mcp        legacy SSE: ${PUBLIC_URL}/sse
  MCP (ChatGPT):    ${PUBLIC_URL}/chatgpt/mcp   legacy SSE: ${PUBLIC_URL}/chatgpt/sse
  Health:           ${PUBLIC_URL}/health

INFO
exec "$PY" -m uvicorn mcpsite.asgi:application --host "$HOST" --port "$PORT" --timeout-graceful-shutdown 3
