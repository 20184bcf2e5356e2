#!/bin/sh
# Mounted into the nginx container as /docker-entrypoint.d/90-reload-on-renewal.sh: the official
# image runs it before nginx starts. It leaves a loop behind that reloads nginx once certbot has
# renewed the certificate (certbot's deploy hook touches the marker file), so a new certificate
# is served within minutes, and streams are not cut by needless periodic reloads.
set -eu

marker=${CERT_RENEWED_MARKER:-/etc/letsencrypt/.renewed}
interval=${CERT_RELOAD_CHECK_SECONDS:-300}

stamp() {
  if [ -e "$marker" ]; then date -r "$marker" +%s; else echo 0; fi
}

(
  seen=$(stamp)
  while sleep "$interval"; do
    now=$(stamp)
    if [ "$now" != "$seen" ]; then
      seen=$now
      echo "$0: certificate renewed, reloading nginx"
      nginx -t -q && nginx -s reload || echo "$0: nginx reload failed" >&2
    fi
  done
) &
