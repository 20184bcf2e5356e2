#!/usr/bin/env bash
# Obtain a Let's Encrypt certificate for the MCP server and wire up its renewal.
# Safe to run again: every step checks what is already there. Run ./setup-letsencrypt.sh --help.
set -euo pipefail

CERT_NAME=mcp   # nginx/conf.d/default.conf reads /etc/letsencrypt/live/mcp/
DUMMY_SUBJECT="/CN=mcp-bootstrap-placeholder"
DHPARAMS_URLS=(
  "https://raw.githubusercontent.com/certbot/certbot/main/certbot/src/certbot/ssl-dhparams.pem"
  "https://raw.githubusercontent.com/certbot/certbot/master/certbot/certbot/ssl-dhparams.pem"
)

usage() {
  cat <<'USAGE'
Usage: ./setup-letsencrypt.sh [options]

Obtains a Let's Encrypt certificate for this server and wires up its renewal:
  1. checks the prerequisites (docker, docker compose, the compose file);
  2. asks for the domain, the email and staging or production (or takes them from options,
     the environment, or the values saved in .env by an earlier run);
  3. prepares .env (from .env.example on the first run: fills in the domain and generates
     SECRET_KEY and POSTGRES_PASSWORD; values already set are never changed);
  4. downloads the TLS parameters (certbot's ssl-dhparams.pem);
  5. bootstraps a placeholder certificate so that nginx can start;
  6. requests the real certificate over HTTP (webroot), then reloads nginx;
  7. starts the certbot service, which renews every 12 hours; nginx reloads after a renewal.

Options:
  -d, --domain DOMAIN      public DNS name of this server (env DOMAIN)
  -e, --email EMAIL        address for Let's Encrypt's expiry notices (env LETSENCRYPT_EMAIL)
      --staging            use Let's Encrypt's staging CA: untrusted test certificates,
                           generous rate limits (env LETSENCRYPT_STAGING=1)
      --production         use the production CA (the default)
      --force              request a new certificate even if a valid one for DOMAIN exists
  -y, --non-interactive    never prompt; fail when a value is missing
  -f, --compose-file FILE  compose file, relative to the repository (default: docker-compose.prod.yml)
  -h, --help               show this help

Examples:
  ./setup-letsencrypt.sh
  ./setup-letsencrypt.sh -d mcp.example.com -e ops@example.com --staging -y
USAGE
}

say() { printf '### %s\n' "$*"; }
warn() { printf 'Warning: %s\n' "$*" >&2; }
die() { printf 'Error: %s\n' "$*" >&2; exit 1; }
usage_error() { printf 'Error: %s\n(see ./setup-letsencrypt.sh --help)\n' "$*" >&2; exit 2; }

valid_domain() {
  [[ ${#1} -le 253 && $1 =~ ^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$ ]]
}
valid_email() { [[ $1 =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]]; }

# ---- .env: read and fill without ever sourcing it (values such as MSSQL_DRIVER contain spaces) ----
env_get() {
  [[ -f .env ]] || return 0
  sed -n "s/^$1=//p" .env | tail -n 1
}
env_fill() {  # set KEY=VALUE only when KEY is missing or empty
  local key=$1 value=$2
  if grep -q "^${key}=" .env; then
    [[ -n "$(env_get "$key")" ]] && return 0
    sed -i "s|^${key}=.*|${key}=$(printf '%s' "$value" | sed 's/[&|\\]/\\&/g')|" .env
  else
    printf '%s=%s\n' "$key" "$value" >>.env
  fi
  echo "    .env: set ${key}"
}
random_secret() { head -c "$1" /dev/urandom | base64 | tr -d '\n/+='; }

# ---- arguments ----
domain=${DOMAIN:-}
email=${LETSENCRYPT_EMAIL:-}
staging=${LETSENCRYPT_STAGING:-}
force=0
interactive=1
compose_file=docker-compose.prod.yml

while [[ $# -gt 0 ]]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    -d|--domain) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; domain=$2; shift 2 ;;
    --domain=*) domain=${1#*=}; shift ;;
    -e|--email) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; email=$2; shift 2 ;;
    --email=*) email=${1#*=}; shift ;;
    --staging) staging=1; shift ;;
    --production) staging=0; shift ;;
    --force) force=1; shift ;;
    -y|--yes|--non-interactive) interactive=0; shift ;;
    -f|--compose-file) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; compose_file=$2; shift 2 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done
[[ -t 0 ]] || interactive=0
[[ -z $domain ]] || valid_domain "$domain" || usage_error "not a valid domain name: $domain"
[[ -z $email ]] || valid_email "$email" || usage_error "not a valid email address: $email"
[[ -z $staging || $staging == 0 || $staging == 1 ]] || usage_error "LETSENCRYPT_STAGING must be 0 or 1"

cd "$(dirname "$0")"

# ---- 1. prerequisites ----
say "Checking prerequisites"
command -v docker >/dev/null 2>&1 || die "docker is not installed: https://docs.docker.com/engine/install/"
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1 && docker-compose version --short 2>/dev/null | grep -q '^v\?2\.'; then
  compose=(docker-compose)
else
  die "Docker Compose v2 is not installed: https://docs.docker.com/compose/install/"
fi
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (is it running, and may this user use it?)"
[[ -f $compose_file ]] || die "$compose_file not found (run this script from the repository)"
[[ -f .env || -f .env.example ]] || die "neither .env nor .env.example exists"
compose+=(-f "$compose_file")
echo "    $(docker --version); $("${compose[@]}" version --short 2>/dev/null || echo compose v2)"

# ---- 2. domain, email, staging or production ----
ask() {  # ask VAR "prompt" : read a value from the terminal
  local answer
  ((interactive)) || return 0
  read -r -p "$2" answer
  printf -v "$1" '%s' "$answer"
}
domain=${domain:-$(env_get DOMAIN)}
email=${email:-$(env_get LETSENCRYPT_EMAIL)}
while [[ -z $domain ]] || ! valid_domain "$domain"; do
  ((interactive)) || usage_error "the domain is missing: pass --domain or set DOMAIN"
  [[ -z $domain ]] || echo "    not a valid domain name: $domain"
  ask domain "Domain (DNS name of this server, e.g. mcp.example.com): "
done
while [[ -z $email ]] && ((interactive)); do
  ask email "Email for expiry notices (empty: none): "
  [[ -z $email ]] && break
  valid_email "$email" || { echo "    not a valid email address: $email"; email=; }
done
if [[ -z $staging ]]; then
  staging=0
  if ((interactive)); then
    ask staging "Let's Encrypt CA: production (0) or staging (1) [0]: "
    staging=${staging:-0}
    [[ $staging == 0 || $staging == 1 ]] || usage_error "answer 0 (production) or 1 (staging)"
  fi
fi
echo "    domain: $domain; email: ${email:-(none)}; CA: $([[ $staging == 1 ]] && echo staging || echo production)"

# ---- 3. .env ----
say "Preparing .env"
if [[ ! -f .env ]]; then
  cp .env.example .env
  echo "    created .env from .env.example"
fi
chmod 600 .env
env_fill DOMAIN "$domain"
[[ -z $email ]] || env_fill LETSENCRYPT_EMAIL "$email"
env_fill PUBLIC_URL "https://$domain"
env_fill ALLOWED_HOSTS "$domain"
env_fill SECRET_KEY "$(random_secret 48)"
env_fill POSTGRES_PASSWORD "$(random_secret 24)"
[[ "$(env_get PUBLIC_URL)" == "https://$domain" ]] \
  || warn "PUBLIC_URL in .env is $(env_get PUBLIC_URL), not https://$domain: check it"

# ---- helpers that act inside the certbot container (certbot/conf is root's, mode 700) ----
# The scripts below are single-quoted on purpose: they expand $1, $2... inside the container.
certbot_sh() {  # certbot_sh 'script' [args...] : run a shell script in the certbot image
  local script=$1
  shift
  "${compose[@]}" run --rm --no-deps -T --entrypoint /bin/sh certbot -c "cd /etc/letsencrypt && $script" sh "$@"
}
# shellcheck disable=SC2016
bootstrap_placeholder() {
  certbot_sh 'mkdir -p "live/$1" && openssl req -x509 -nodes -newkey rsa:2048 -days 1 -subj "$2" \
      -keyout "live/$1/privkey.pem" -out "live/$1/fullchain.pem" 2>/dev/null \
    && cp "live/$1/fullchain.pem" "live/$1/chain.pem"' "$CERT_NAME" "$DUMMY_SUBJECT"
}
# shellcheck disable=SC2016
certificate_state() {  # none | placeholder | staging | production (for this domain), or other
  certbot_sh '
    cert="live/$1/fullchain.pem"
    if [ ! -f "$cert" ]; then echo none
    elif [ ! -f "renewal/$1.conf" ]; then echo placeholder
    elif ! openssl x509 -in "$cert" -noout -text | grep -Eq "DNS:$2(,|\$)"; then echo other
    elif openssl x509 -in "$cert" -noout -issuer | grep -q STAGING; then echo staging
    else echo production
    fi' "$CERT_NAME" "$domain" | tr -d '\r'
}

mkdir -p certbot/conf certbot/www

# ---- 4. TLS parameters ----
say "TLS parameters"
if [[ -s certbot/conf/ssl-dhparams.pem ]]; then
  echo "    certbot/conf/ssl-dhparams.pem is present"
else
  for url in "${DHPARAMS_URLS[@]}"; do
    if command -v curl >/dev/null 2>&1; then
      curl -fsSL "$url" -o certbot/conf/ssl-dhparams.pem.tmp 2>/dev/null || continue
    elif command -v wget >/dev/null 2>&1; then
      wget -q "$url" -O certbot/conf/ssl-dhparams.pem.tmp || continue
    else
      break
    fi
    if grep -q "BEGIN DH PARAMETERS" certbot/conf/ssl-dhparams.pem.tmp; then
      mv certbot/conf/ssl-dhparams.pem.tmp certbot/conf/ssl-dhparams.pem
      echo "    downloaded $url"
      break
    fi
  done
  rm -f certbot/conf/ssl-dhparams.pem.tmp
  if [[ ! -s certbot/conf/ssl-dhparams.pem ]]; then
    # The same group certbot ships: RFC 7919 ffdhe2048, generated instantly.
    certbot_sh 'openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 -out ssl-dhparams.pem'
    echo "    download failed; wrote the RFC 7919 ffdhe2048 group with openssl"
  fi
fi

# ---- 5. a certificate nginx can start with ----
say "Certificate"
state=$(certificate_state)
want=$([[ $staging == 1 ]] && echo staging || echo production)
echo "    current: $state"
if [[ $state == none ]]; then
  bootstrap_placeholder
  echo "    created a placeholder certificate so that nginx can start"
  state=placeholder
fi

say "Starting nginx"
"${compose[@]}" up -d nginx
for _ in $(seq 1 30); do
  "${compose[@]}" exec -T nginx wget -q -O /dev/null http://127.0.0.1/nginx-health 2>/dev/null && break
  sleep 1
done
"${compose[@]}" exec -T nginx wget -q -O /dev/null http://127.0.0.1/nginx-health \
  || die "nginx did not start: see '${compose[*]} logs nginx'"

# ---- 6. the real certificate ----
if [[ $state == "$want" || ($state == production && $want == staging) ]] && ((force == 0)); then
  echo "    a $state certificate for $domain is in place: nothing to request (--force requests a new one)"
else
  say "Requesting a $want certificate for $domain"
  # shellcheck disable=SC2016
  certbot_sh 'rm -rf "live/$1" "archive/$1" "renewal/$1.conf"' "$CERT_NAME"
  request=(certonly --webroot --webroot-path /var/www/certbot --cert-name "$CERT_NAME" -d "$domain"
           --agree-tos --no-eff-email --non-interactive --deploy-hook "touch /etc/letsencrypt/.renewed")
  if [[ -n $email ]]; then request+=(--email "$email"); else request+=(--register-unsafely-without-email); fi
  [[ $staging == 1 ]] && request+=(--staging)
  if ! "${compose[@]}" run --rm --no-deps --entrypoint certbot certbot "${request[@]}"; then
    bootstrap_placeholder
    die "Let's Encrypt did not issue the certificate. Check that $domain resolves to this host and that
port 80 is reachable from the internet, then run this script again (--staging while you experiment).
A placeholder certificate is back in place so that nginx keeps running."
  fi
fi
"${compose[@]}" exec -T nginx nginx -s reload
echo "    nginx reloaded"

# ---- 7. renewal ----
say "Renewal"
"${compose[@]}" up -d certbot
echo "    the certbot service tries to renew every 12 hours; nginx reloads after each renewal"

cat <<DONE

Done. Next:
  1. Fill in the SQL Server settings (MSSQL_* or TARGET_DATABASE_URL) in .env.
  2. Start everything:   ${compose[*]} up -d --build
  3. Create an admin:    ${compose[*]} exec app python manage.py createsuperuser
  4. Check:              curl https://$domain/health
DONE
