#!/usr/bin/env bash
# Installs the Debian packages that tests need, from the distribution's
# mirrors only (nothing downloads a binary from anywhere else):
#   chromium         the dashboard's and /docs' browser tests
#   pgbouncer        the transaction-pooling deployment test
#   postgresql-15    pg_basebackup and a streaming standby for the replica test
#   prometheus       promtool, for the alert-rule unit tests (ops/)
#   haproxy          the load-balancer test and `npm run bench -- --instances=N`
#   wrk              the bench's C load generator (optional there, cheap here)
# Each package is installed only when its command is missing.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

declare -A COMMAND_OF=(
  [chromium]=/usr/bin/chromium
  [fonts-dejavu-core]=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
  [pgbouncer]=/usr/sbin/pgbouncer
  [postgresql-15]=/usr/lib/postgresql/15/bin/pg_basebackup
  [prometheus]=/usr/bin/promtool
  [haproxy]=/usr/sbin/haproxy
  [wrk]=/usr/bin/wrk
)
missing=()
for pkg in "${!COMMAND_OF[@]}"; do
  [ -e "${COMMAND_OF[$pkg]}" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

# Through env: sudo would drop an exported DEBIAN_FRONTEND.
apt_get() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0 "$@"; }
apt_get update
apt_get install -y --no-install-recommends "${missing[@]}" >/dev/null
# The packages' own services are not wanted: tests start their own instances.
for svc in pgbouncer prometheus haproxy postgresql; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done

for pkg in "${!COMMAND_OF[@]}"; do
  if [ ! -e "${COMMAND_OF[$pkg]}" ]; then
    echo "install-debian-packages: ${COMMAND_OF[$pkg]} ($pkg) is still missing after apt-get install" >&2
    exit 1
  fi
done
echo "install-debian-packages: installed ${missing[*]}"
