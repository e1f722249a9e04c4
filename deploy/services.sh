#!/usr/bin/env bash
# Starts and stops what the local pipeline needs: `npm run services:up` and
# `npm run services:down`, also used by .ci/run and the Kafka tests.
#
#   up    PostgreSQL running with a `tapwatch` database (unless DATABASE_URL is
#         set), and a local single-node Kafka broker on 127.0.0.1:9092, ready
#         and with its topics (unless KAFKA_BROKERS names a cluster to use).
#   down  stop the local Kafka broker. PostgreSQL is the machine's service and
#         keeps running.
#
# Both are idempotent: running `up` twice finds everything running and returns.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

postgres_up() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    echo "postgres: DATABASE_URL is set; using it" >&2
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ ! -d /etc/postgresql ]]; then
    echo "postgres: no local PostgreSQL cluster on this machine (set DATABASE_URL)" >&2
    return 0
  fi
  local version
  for version in $(ls /etc/postgresql); do
    if ! pg_ctlcluster --skip-systemctl-redirect "$version" main status >/dev/null 2>&1; then
      echo "postgres: starting cluster $version/main" >&2
      pg_ctlcluster --skip-systemctl-redirect "$version" main start
    fi
  done
  local i
  for i in $(seq 1 60); do
    psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1 && break
    sleep 0.5
  done
  if [[ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname = 'tapwatch'")" != 1 ]]; then
    # Another `up` may create it at the same moment: that is fine too.
    if psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database tapwatch' >/dev/null 2>&1; then
      echo "postgres: created database tapwatch" >&2
    fi
  fi
  echo "postgres: ready on 127.0.0.1:5432" >&2
}

kafka_up() {
  if [[ -n "${KAFKA_BROKERS:-}" ]]; then
    echo "kafka: KAFKA_BROKERS is set ($KAFKA_BROKERS); not starting a local broker" >&2
    return 0
  fi
  "$here/kafka/kafka.sh" start
}

kafka_down() {
  if [[ -n "${KAFKA_BROKERS:-}" ]]; then return 0; fi
  "$here/kafka/kafka.sh" stop
}

case "${1:-}" in
  up) postgres_up; kafka_up ;;
  down) kafka_down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
