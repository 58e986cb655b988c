#!/usr/bin/env bash
# Make PostgreSQL 15 + PostGIS 3 ready for the test suite (idempotent; run as root on Debian 12):
#   start the 15/main cluster if it is down, install postgresql-15-postgis-3 only when the
#   extension files are missing, create database gridmap_test and the postgis extension in it.
# Prints one line saying what it did; exits non-zero with a clear message when PostGIS cannot
# be made available.  Connection: local superuser "postgres" over TCP (trust auth).
set -uo pipefail

PG_VERSION=15
PG_CLUSTER=main
PG_HOST=${PGHOST:-127.0.0.1}
PG_PORT=${PGPORT:-5432}
DB=${GRIDMAP_TEST_DB:-gridmap_test}
EXTENSION_CONTROL=/usr/share/postgresql/${PG_VERSION}/extension/postgis.control
done_steps=()

fail() {
  echo "pg_setup: FAILED: $*" >&2
  exit 1
}

psql_admin() {
  # as the postgres OS user over the local socket when we can switch to it, else over TCP
  if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1; then
    su postgres -c "cd /tmp && psql -X -q -v ON_ERROR_STOP=1 -p ${PG_PORT} $(printf '%q ' "$@")"
  else
    psql -X -q -v ON_ERROR_STOP=1 -U postgres -h "${PG_HOST}" -p "${PG_PORT}" "$@"
  fi
}

server_up() {
  pg_isready -q -h "${PG_HOST}" -p "${PG_PORT}" >/dev/null 2>&1
}

command -v psql >/dev/null 2>&1 || fail "psql not found: install PostgreSQL ${PG_VERSION} (apt-get install -y postgresql-${PG_VERSION})"

# 1. the server
if ! server_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    if pg_ctlcluster "${PG_VERSION}" "${PG_CLUSTER}" status >/dev/null 2>&1; then
      fail "cluster ${PG_VERSION}/${PG_CLUSTER} is running but does not accept connections on ${PG_HOST}:${PG_PORT}"
    fi
    pg_ctlcluster --skip-systemctl-redirect "${PG_VERSION}" "${PG_CLUSTER}" start >/dev/null 2>&1 \
      || fail "could not start cluster ${PG_VERSION}/${PG_CLUSTER} (see /var/log/postgresql/postgresql-${PG_VERSION}-${PG_CLUSTER}.log)"
    for _ in $(seq 1 30); do server_up && break; sleep 1; done
    server_up || fail "PostgreSQL ${PG_VERSION}/${PG_CLUSTER} did not accept connections on ${PG_HOST}:${PG_PORT} within 30 s"
    done_steps+=("started PostgreSQL ${PG_VERSION}/${PG_CLUSTER}")
  else
    fail "PostgreSQL is not running on ${PG_HOST}:${PG_PORT} and pg_ctlcluster is missing"
  fi
fi

# 2. the PostGIS extension files
if [ ! -f "${EXTENSION_CONTROL}" ]; then
  [ "$(id -u)" -eq 0 ] || fail "PostGIS missing (${EXTENSION_CONTROL}); run as root or: sudo apt-get install -y postgresql-${PG_VERSION}-postgis-3"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends "postgresql-${PG_VERSION}-postgis-3" >/dev/null 2>&1; then
    apt-get update >/dev/null 2>&1 || true
    apt-get install -y --no-install-recommends "postgresql-${PG_VERSION}-postgis-3" >/dev/null 2>&1 \
      || fail "apt-get install postgresql-${PG_VERSION}-postgis-3 failed"
  fi
  [ -f "${EXTENSION_CONTROL}" ] || fail "postgresql-${PG_VERSION}-postgis-3 installed but ${EXTENSION_CONTROL} is still missing"
  done_steps+=("installed postgresql-${PG_VERSION}-postgis-3")
fi

# 3. the database and the extension in it
exists=$(psql_admin -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '${DB}'" 2>/dev/null) \
  || fail "cannot connect to PostgreSQL on ${PG_HOST}:${PG_PORT} as postgres"
if [ "${exists}" != "1" ]; then
  psql_admin -d postgres -c "CREATE DATABASE ${DB}" >/dev/null 2>&1 \
    || [ "$(psql_admin -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '${DB}'")" = "1" ] \
    || fail "could not create database ${DB}"
  done_steps+=("created database ${DB}")
fi
had_postgis=$(psql_admin -d "${DB}" -tA -c "SELECT 1 FROM pg_extension WHERE extname = 'postgis'" 2>/dev/null)
psql_admin -d "${DB}" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null 2>&1 \
  || fail "CREATE EXTENSION postgis failed in database ${DB}"
[ "${had_postgis}" = "1" ] || done_steps+=("created extension postgis in ${DB}")
version=$(psql_admin -d "${DB}" -tA -c "SELECT postgis_lib_version()" 2>/dev/null) \
  || fail "PostGIS does not answer in database ${DB}"
# the tests connect over TCP as postgres without a password (GRIDMAP_TEST_DATABASE_URL)
psql -X -q -w -U postgres -h "${PG_HOST}" -p "${PG_PORT}" -d "${DB}" -c "SELECT 1" >/dev/null 2>&1 \
  || fail "PostGIS is ready but postgres@${PG_HOST}:${PG_PORT} refuses a password-less TCP login; allow it in pg_hba.conf ('host all postgres 127.0.0.1/32 trust') or set GRIDMAP_TEST_DATABASE_URL with a password"

if [ ${#done_steps[@]} -eq 0 ]; then
  echo "pg_setup: PostgreSQL ${PG_VERSION} with PostGIS ${version} already ready on ${PG_HOST}:${PG_PORT}, database ${DB}"
else
  summary=$(IFS=';'; echo "${done_steps[*]}" | sed 's/;/, /g')
  echo "pg_setup: ${summary}; PostGIS ${version} ready on ${PG_HOST}:${PG_PORT}, database ${DB}"
fi
