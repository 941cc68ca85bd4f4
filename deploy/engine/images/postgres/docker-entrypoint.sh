#!/bin/bash
# Start script of the postgres stand-in, after the official image's contract: on a first
# start (an empty PGDATA) the cluster is created with POSTGRES_USER (default postgres) as
# superuser whose password is POSTGRES_PASSWORD (required), POSTGRES_DB (default: the user)
# is created, and every host may connect with that password (scram-sha-256). Then the server
# runs in the foreground, listening on every address of the container.
set -euo pipefail

user=${POSTGRES_USER:-postgres}
database=${POSTGRES_DB:-$user}
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  if [[ -z ${POSTGRES_PASSWORD:-} ]]; then
    echo "postgres stand-in: POSTGRES_PASSWORD is not set; the first start needs it" >&2
    exit 2
  fi
  secret=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$secret"
  initdb --username="$user" --pwfile="$secret" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$secret"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [[ "$database" != postgres ]]; then
    psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres \
      -c "CREATE DATABASE \"$database\"" >/dev/null
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres stand-in: cluster created for $user, database $database"
fi
if [[ "${1:-}" == postgres ]]; then
  shift
  exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
