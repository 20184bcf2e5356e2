#!/usr/bin/env bash
# The PostgreSQL, MariaDB and Redis that the target tests use, on 127.0.0.1.
# In CI (CI=true) a service that is down is started, and the run fails if it still is down.
# Elsewhere a missing service only makes its tests skip, with the reason shown.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start() {
  case "$1" in
    5432) pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start ;;
    3306) start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd ;;
    6379) redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
            --dir /var/lib/redis --logfile /var/log/redis/ci.log ;;
  esac
}
status=0
for port in 5432 3306 6379; do
  up "$port" && continue
  if [ "${CI:-}" = "true" ] || [ "${START_SERVICES:-}" = "1" ]; then
    echo "Starting the service on port $port"
    start "$port" >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do up "$port" && break; sleep 1; done
    up "$port" || { echo "Service on 127.0.0.1:$port did not start" >&2; status=1; }
  else
    echo "Note: nothing listens on 127.0.0.1:$port; the tests that need it will be skipped."
  fi
done
exit $status
