#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser test
# (test/dashboard/dashboard.e2e.test.ts), unless /usr/bin/chromium is already
# there. Never downloads a browser from anywhere but the distribution's mirrors.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

# Through env: sudo would drop an exported DEBIAN_FRONTEND.
apt_get() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0 "$@"; }
apt_get update
apt_get install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null

if [ ! -x /usr/bin/chromium ]; then
  echo "install-chromium: /usr/bin/chromium is still missing after apt-get install" >&2
  exit 1
fi
echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)"
