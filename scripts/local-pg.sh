#!/usr/bin/env bash
# A throwaway PostgreSQL kept inside the project directory (.pg/, git-ignored), for the make
# targets when DEMO_DATABASE_URL / TEST_DATABASE_URL are not set. It holds the bundled demo
# database (seedsnap_demo) and an empty test database with the same schema (seedsnap_test).
#
#   scripts/local-pg.sh ensure        start it, creating cluster and databases on first use
#   scripts/local-pg.sh url demo|test print a connection string (libpq key=value)
#   scripts/local-pg.sh conn          print the connection string without a database name
#   scripts/local-pg.sh bindir        print the server binaries' directory
#   scripts/local-pg.sh stop          stop the server
#   scripts/local-pg.sh clean         stop it and remove .pg/
#
# The server runs from the installed binaries (Debian: /usr/lib/postgresql/<v>/bin), listens on
# a Unix socket only, and, when run as root, as the 'postgres' OS user (it refuses root).
# SEEDSNAP_LOCAL_PGDIR puts the cluster elsewhere (as root it must be a place the 'postgres' OS
# user can enter; the script says so when it cannot).
# DEMO_SCALE (default 0.01) sets the size of the generated demo data on first creation. Both
# databases are rebuilt when fixtures/demo/*.sql (or the scale) changed since they were built.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pgdir="${SEEDSNAP_LOCAL_PGDIR:-$root/.pg}"
data="$pgdir/data"
log="$pgdir/server.log"
port="${SEEDSNAP_LOCAL_PORT:-54329}"
scale="${DEMO_SCALE:-0.01}"
sock="$pgdir/run"
# Unix socket paths are limited to about 107 bytes.
if [ $(( ${#sock} + 20 )) -gt 100 ]; then
  sock="/tmp/seedsnap-$(printf '%s' "$root" | md5sum | cut -c1-12)"
fi

die() { echo "local-pg: $*" >&2; exit 1; }

find_bindir() {
  if [ -n "${SEEDSNAP_PG_BINDIR:-}" ]; then echo "$SEEDSNAP_PG_BINDIR"; return; fi
  local best
  best=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$best" ] && [ -x "$best/initdb" ]; then echo "$best"; return; fi
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  if command -v initdb >/dev/null; then dirname "$(command -v initdb)"; return; fi
  die "PostgreSQL server binaries (initdb, pg_ctl) not found.
  Install them:  sudo apt-get install postgresql     (Debian, Ubuntu)
                 brew install postgresql              (macOS)
  or set SEEDSNAP_PG_BINDIR to the directory holding initdb and pg_ctl."
}

bindir=$(find_bindir)

# Run a server binary, as 'postgres' when we are root.
as_server() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user (apt-get install postgresql creates it)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

url() {
  printf "host=%s port=%s user=seedsnap dbname=%s\n" "$sock" "$port" "$1"
}

psql_local() {
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -d "$(url "$1")" "${@:2}"
}

db_exists() {
  [ "$("$bindir/psql" -X -tA -d "$(url postgres)" -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]
}

# As root, the server runs as 'postgres', which must be able to enter every directory above
# $pgdir: a checkout under a 0700 home or temporary directory is out of its reach, and initdb
# would only say "Permission denied".
check_reachable() {
  [ "$(id -u)" = 0 ] || return 0
  local dir blocked=()
  dir=$(dirname "$pgdir")
  while :; do
    if [ -d "$dir" ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
      blocked=("$dir" "${blocked[@]}")
    fi
    [ "$dir" = / ] && break
    dir=$(dirname "$dir")
  done
  [ ${#blocked[@]} = 0 ] && return 0
  local modes=""
  for dir in "${blocked[@]}"; do modes+=" $dir ($(stat -c %a "$dir"))"; done
  die "the local server runs as the 'postgres' OS user (PostgreSQL refuses to run as root),
  and that user cannot enter${modes}, so it cannot use $pgdir.
  Either let it through:          chmod o+x ${blocked[*]}
  or keep the cluster elsewhere:  SEEDSNAP_LOCAL_PGDIR=/var/tmp/seedsnap-pg make ...
  or use servers of your own:     DEMO_DATABASE_URL=... TEST_DATABASE_URL=... make ..."
}

start() {
  check_reachable
  mkdir -p "$pgdir" "$sock"
  if [ "$(id -u)" = 0 ]; then chown postgres "$pgdir" "$sock"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    echo "local-pg: creating a throwaway cluster in $data" >&2
    as_server "$bindir/initdb" -D "$data" -U seedsnap --auth=trust --no-locale -E UTF8 >/dev/null
  fi
  if ! as_server "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_server "$bindir/pg_ctl" -D "$data" -l "$log" -w -s \
      -o "-k $sock -p $port -c listen_addresses= -c fsync=off -c synchronous_commit=off -c max_locks_per_transaction=1024" start \
      || die "the server did not start; see $log"
  fi
}

# Which fixture a database was built from: the schema and generator files and the scale. A
# database built from older files is rebuilt (both are throwaway databases of this cluster).
fixture_id() {
  cat "$root/fixtures/demo/schema.sql" "$root/fixtures/demo/generate.sql" | sha256sum | cut -c1-16
}

db_fixture() {
  "$bindir/psql" -X -tA -d "$(url postgres)" \
    -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$1'"
}

drop_if_stale() {
  local db=$1 want=$2
  if db_exists "$db" && [ "$(db_fixture "$db")" != "$want" ]; then
    echo "local-pg: $db was built from other fixture files; rebuilding it" >&2
    "$bindir/psql" -X -q -d "$(url postgres)" -c "DROP DATABASE $db"
  fi
}

ensure() {
  start
  local id
  id=$(fixture_id)
  drop_if_stale seedsnap_demo "$id scale=$scale"
  drop_if_stale seedsnap_test "$id"
  if ! db_exists seedsnap_demo; then
    echo "local-pg: creating seedsnap_demo (demo data at scale $scale; scale 1 takes about a minute)" >&2
    "$bindir/psql" -X -q -d "$(url postgres)" -c "SET client_min_messages = warning" \
      -c "DROP DATABASE IF EXISTS seedsnap_demo_building"
    "$bindir/psql" -X -q -d "$(url postgres)" -c "CREATE DATABASE seedsnap_demo_building"
    psql_local seedsnap_demo_building -f "$root/fixtures/demo/schema.sql"
    psql_local seedsnap_demo_building -v scale="$scale" -f "$root/fixtures/demo/generate.sql" >/dev/null
    "$bindir/psql" -X -q -d "$(url postgres)" -c "ALTER DATABASE seedsnap_demo_building RENAME TO seedsnap_demo"
    "$bindir/psql" -X -q -d "$(url postgres)" -c "COMMENT ON DATABASE seedsnap_demo IS '$id scale=$scale'"
  fi
  if ! db_exists seedsnap_test; then
    echo "local-pg: creating seedsnap_test (demo schema, no rows)" >&2
    "$bindir/psql" -X -q -d "$(url postgres)" -c "CREATE DATABASE seedsnap_test"
    psql_local seedsnap_test -f "$root/fixtures/demo/schema.sql"
    # Migrated like the demo, as a team's test database is after its migrations ran: the
    # schema is the demo's, and so is the migration history the import compares.
    "$bindir/psql" -X -q -d "$(url seedsnap_demo)" -c "COPY public.schema_migrations TO STDOUT" |
      "$bindir/psql" -X -q -d "$(url seedsnap_test)" -c "COPY public.schema_migrations FROM STDIN"
    "$bindir/psql" -X -q -d "$(url postgres)" -c "COMMENT ON DATABASE seedsnap_test IS '$id'"
  fi
}

stop() {
  if [ -f "$data/PG_VERSION" ]; then
    as_server "$bindir/pg_ctl" -D "$data" -m fast -w -s stop 2>/dev/null || true
  fi
}

case "${1:-}" in
  ensure) ensure ;;
  start) start ;;
  url) url "seedsnap_${2:?usage: url demo|test}" ;;
  conn) printf "host=%s port=%s user=seedsnap\n" "$sock" "$port" ;;
  bindir) echo "$bindir" ;;
  stop) stop ;;
  clean) stop; rm -rf "$pgdir"; [ "$sock" = "$pgdir/run" ] || rm -rf "$sock" ;;
  *) die "usage: $0 ensure|start|url demo|test|conn|bindir|stop|clean" ;;
esac
