#!/bin/sh
# Entry point of the app image. The first argument picks what the container does:
#   web (default)  serve the ASGI app with uvicorn behind a proxy (nginx)
#   migrate        run the deployment checks, then apply Django's migrations (the one-shot
#                  `migrate` service in docker-compose.prod.yml runs this once per `up`)
#   manage ARGS    run `python manage.py ARGS` (createsuperuser, seed_demo, check --deploy...)
#   anything else  is executed as given (a shell, scripts/run.sh for development)
set -eu

PYTHON=${PYTHON:-python}
# uvicorn's worker count. The settings and system checks read it too (elicitation sessions are off with
# several workers, and several workers need Redis), in `web` and in `migrate`'s check --deploy alike.
export WEB_CONCURRENCY="${WEB_CONCURRENCY:-2}"

case "${1:-web}" in
  web)
    [ "$#" -gt 0 ] && shift
    # nginx proxies to a variable without an upstream keepalive pool, so it opens a connection per
    # request today; the keep-alive stays above nginx's upstream keepalive_timeout (60 s) so that a
    # pool added later never reuses a connection uvicorn is closing. Graceful shutdown is bounded:
    # SSE streams never end by themselves, and clients reconnect.
    # The workers' metrics meet in one directory (prometheus-client's multiprocess mode), emptied of
    # the last run's files at each start so that /metrics counts this run only.
    export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/mcp-metrics}"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -type f -name '*.db' -delete
    exec "$PYTHON" -m uvicorn mcpsite.asgi:application \
      --host "${HOST:-0.0.0.0}" \
      --port "${PORT:-8008}" \
      --workers "$WEB_CONCURRENCY" \
      --proxy-headers \
      --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fd00::/8}" \
      --timeout-keep-alive "${KEEP_ALIVE_SECONDS:-75}" \
      --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS:-20}" \
      --no-server-header \
      "$@"
    ;;
  migrate)
    # Errors fail the job (and keep the app from starting); warnings are printed for the operator.
    "$PYTHON" manage.py check --deploy
    exec "$PYTHON" manage.py migrate --noinput
    ;;
  manage)
    shift
    exec "$PYTHON" manage.py "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
