#!/usr/bin/env bash
# Debian packages the test suite needs, installed only when missing (idempotent).
#   chromium + fonts-wqy-zenhei: browser tests render the Chinese page headless
#   gdal-bin: ogrinfo reads the OGC API - Features endpoint as QGIS would
#   postgresql-15-postgis-3: handled by scripts/pg_setup.sh
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || need+=(fonts-wqy-zenhei)
if [ ${#need[@]} -eq 0 ]; then
  echo "system-deps: chromium, gdal-bin, fonts-wqy-zenhei already present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${need[*]} and not root: run 'sudo apt-get install -y ${need[*]}'" >&2
  exit 1
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
}
echo "system-deps: installed ${need[*]}"
