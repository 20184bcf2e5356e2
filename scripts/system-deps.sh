#!/usr/bin/env bash
# System packages the test suite needs: ODBC (pyodbc, FreeTDS), the MariaDB client library
# (mysqlclient), nginx and shellcheck (deployment tests), chromium (consent page tests).
# Installs them when run as root on Debian/Ubuntu; otherwise says what is missing and fails.
set -euo pipefail
packages=(unixodbc unixodbc-dev tdsodbc libmariadb-dev pkg-config nginx-light shellcheck chromium openssl prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
