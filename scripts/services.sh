#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) are up: start them when
# installed but stopped, install them (and redis-sentinel) with apt-get when absent. Sourced by scripts/test.
set -euo pipefail

_as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
_apt_updated=""
_apt_install() {
  if [ -z "$_apt_updated" ]; then _as_root apt-get update -qq; _apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive _as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "services: installing PostgreSQL"
    _apt_install postgresql postgresql-client
  fi
  local version; version=$(ls /etc/postgresql | sort -V | tail -n 1)
  local conf="/etc/postgresql/$version/main"
  # Tests connect as postgres over TCP without a password (trust on loopback only).
  if ! grep -qE '^host\s+all\s+all\s+127.0.0.1/32\s+trust' "$conf/pg_hba.conf"; then
    _as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$conf/pg_hba.conf"
  fi
  echo "services: starting PostgreSQL $version"
  _as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  echo "services: PostgreSQL did not start" >&2; return 1
}

ensure_redis() {
  # The Sentinel tests start their own primary, replica and sentinels (tests/resilience/servers.py).
  if ! command -v redis-sentinel >/dev/null 2>&1; then
    echo "services: installing Redis Sentinel"
    _apt_install redis-sentinel
  fi
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "services: installing Redis"
    _apt_install redis-server
  fi
  echo "services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "services: Redis did not start" >&2; return 1
}

ensure_chromium() {
  # The console's browser tests drive Debian's headless Chromium through its chromedriver.
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then return 0; fi
  echo "services: installing Chromium and chromedriver"
  _apt_install chromium chromium-driver
}
