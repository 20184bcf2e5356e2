#!/bin/sh
# The certbot service's command: try to renew every 12 hours (certbot renews a certificate in
# the last 30 days of its life and does nothing otherwise). After a renewal, the deploy hook
# touches the marker that nginx watches (docker/nginx-reload-on-renewal.sh) to reload.
set -eu

marker=${CERT_RENEWED_MARKER:-/etc/letsencrypt/.renewed}
interval=${CERT_RENEW_INTERVAL:-12h}

trap 'exit 0' TERM INT
while :; do
  certbot renew --webroot --webroot-path /var/www/certbot --deploy-hook "touch $marker" \
    || echo "$0: certbot renew failed; retrying in $interval" >&2
  sleep "$interval" &
  wait $!
done
