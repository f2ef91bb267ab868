#!/usr/bin/env bash
# A private PostgreSQL server for the test suite: PostgreSQL is the portal's documented
# production database (SQLite stays the embedded default), so `make test` also runs the
# tests that matter for it on a real one (issue #13). Debian's `postgresql` package,
# installed if missing; its own data directory (var/pgtest), port and socket, so the
# system's cluster (if any) is left alone. fsync is off: test data need not survive a crash.
#
#   etc/devcluster/pgtest.sh start   start it (idempotent) and print the test database URL
#   etc/devcluster/pgtest.sh url     print the URL
#   etc/devcluster/pgtest.sh stop
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${PGTEST_DIR:-$PWD/var/pgtest}
# A port of its own per checkout (a CI clone next to a working tree gets another server).
PORT=${PGTEST_PORT:-$((15433 + $(cksum <<<"$PWD" | cut -d' ' -f1) % 1000))}
DB=portal_test

say() { echo "pgtest: $*" >&2; }
url() { echo "postgresql+psycopg2://portal@127.0.0.1:$PORT/$DB"; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_pg() { if [[ $(id -un) == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi; }
ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

start() {
	if [[ -z $(pg_bin) ]]; then
		say "installing Debian's postgresql"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	fi
	local bin
	bin=$(pg_bin)
	if [[ ! -s $DIR/PG_VERSION ]]; then
		install -d -o postgres -g postgres -m 0700 "$DIR"
		as_pg "$bin/initdb" -D "$DIR" -U postgres -A trust --no-sync >"$DIR.initdb.log" 2>&1 ||
			{ cat "$DIR.initdb.log" >&2; exit 1; }
	fi
	if ! ready; then
		as_pg "$bin/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start -o \
			"-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off \
			 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
	fi
	local psql=("$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qtA)
	[[ $("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='portal'") == 1 ]] ||
		"${psql[@]}" -c "CREATE ROLE portal LOGIN"
	[[ $("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$DB'") == 1 ]] ||
		"${psql[@]}" -c "CREATE DATABASE $DB OWNER portal"
	url
}

stop() {
	[[ -s $DIR/PG_VERSION ]] && ready && as_pg "$(pg_bin)/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null
	return 0
}

case ${1:-} in
start) start ;;
stop) stop ;;
url) url ;;
*) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
