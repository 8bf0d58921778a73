#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # single-quoted bash -c bodies; cleanup runs from a trap
# refundbot test runner: `make test` runs this.
#
# Finds (or starts) a Redis and a PostgreSQL for the tests, exports REDIS_URL
# and DATABASE_URL, then runs `go test -race -count=1` on ./... (or on the
# arguments given, e.g. `deploy/test.sh -run Dialog ./flows/...`). Without
# arguments it then also runs deploy/k8s's tests (the manifests' module) and
# checks and unit-tests the Prometheus alert rules with promtool (Debian's
# prometheus package, installed like Redis and PostgreSQL when missing).
#
# Resolution order, for each service:
#   1. REDIS_URL / DATABASE_URL already set: used as they are.
#   2. A server answering on 127.0.0.1 (Redis :6379, PostgreSQL :5432).
#   3. A private, throw-away server on a free port in a temp dir, stopped and
#      removed when this script exits. Installed with apt-get first if missing
#      (only as root, and only when REFUNDBOT_NO_INSTALL is unset).
#
# Environment knobs:
#   REDIS_URL, DATABASE_URL     use these servers, skip discovery
#   REFUNDBOT_TEST_REDIS_PORT   port probed for a running Redis (default 6379)
#   REFUNDBOT_TEST_PG_PORT      port probed for a running PostgreSQL (default 5432)
#                               (point them at an unused port to force private servers)
#   REFUNDBOT_NO_INSTALL        if set (any value), never apt-get install anything
#   PROMTOOL                    promtool to use, skip discovery
set -euo pipefail

REDIS_PROBE_PORT="${REFUNDBOT_TEST_REDIS_PORT:-6379}"
PG_PROBE_PORT="${REFUNDBOT_TEST_PG_PORT:-5432}"

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- cleanup ---
REDIS_TMP=""
REDIS_PIDFILE=""
PG_TMP=""
PG_DATA=""
PG_CTL=""

# Stops the private servers quietly: go test's summary stays the last output.
cleanup() {
	local rc=$?
	set +e
	if [[ -n "$REDIS_PIDFILE" && -s "$REDIS_PIDFILE" ]]; then
		local pid
		pid="$(cat "$REDIS_PIDFILE")"
		if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		fi
	fi
	if [[ -n "$PG_DATA" && -f "$PG_DATA/postmaster.pid" ]]; then
		local pid
		pid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null)"
		(cd "$PG_TMP" && as_pg "$PG_CTL" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1)
		if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
			kill -QUIT "$pid" 2>/dev/null
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		fi
	fi
	[[ -n "$REDIS_TMP" ]] && rm -rf "$REDIS_TMP"
	[[ -n "$PG_TMP" ]] && rm -rf "$PG_TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers ---
is_root() { [[ "$(id -u)" == 0 ]]; }

APT_UPDATED=""
# apt_install PKG...: install Debian packages if we are allowed to.
apt_install() {
	if [[ -n "${REFUNDBOT_NO_INSTALL+x}" ]]; then
		return 1
	fi
	if ! is_root || ! have apt-get; then
		return 1
	fi
	log "installing $* with apt-get"
	if [[ -z "$APT_UPDATED" ]]; then
		apt-get update >&2 || return 1
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2
}

# tcp_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
tcp_open() {
	timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# free_port: print a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$(( 20000 + RANDOM % 40000 ))
		if ! tcp_open "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# redact URL: hide the password part of scheme://user:password@host.
redact() {
	sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"
}

# ------------------------------------------------------------------ Go -----
if ! have go && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="$PATH:/usr/local/go/bin"
fi
have go || die "go not found on PATH (nor /usr/local/go/bin/go)"

# -race needs cgo, and cgo needs a C compiler.
cc_bin="$(go env CC)"
cc_bin="${cc_bin%% *}"
if ! have "${cc_bin:-gcc}"; then
	apt_install gcc libc6-dev || die "-race needs a C compiler ('${cc_bin:-gcc}' not found); install gcc"
fi
export CGO_ENABLED=1

# ----------------------------------------------------------------- Redis ---
redis_ping() { # redis_ping PORT
	local port="$1" out
	if have redis-cli; then
		out="$(timeout 5 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" || return 1
		[[ "$out" == PONG* ]]
	else
		timeout 5 bash -c '
			exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
			printf "PING\r\n" >&3
			IFS= read -r -t 3 line <&3 || exit 1
			[[ "$line" == +PONG* ]]
		' _ "$port" 2>/dev/null
	fi
}

find_redis_server() {
	local c
	for c in "$(command -v redis-server 2>/dev/null || true)" /usr/bin/redis-server /usr/local/bin/redis-server; do
		if [[ -n "$c" && -x "$c" ]]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

start_private_redis() {
	local bin port
	if ! bin="$(find_redis_server)"; then
		apt_install redis-server || die "no Redis: set REDIS_URL, run one on 127.0.0.1:$REDIS_PROBE_PORT, or install redis-server"
		bin="$(find_redis_server)" || die "redis-server still not found after install"
	fi
	REDIS_TMP="$(mktemp -d "${TMPDIR:-/tmp}/refundbot-redis.XXXXXX")"
	REDIS_PIDFILE="$REDIS_TMP/redis.pid"
	for _ in 1 2 3; do
		port="$(free_port)" || die "no free TCP port for Redis"
		if "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
			--daemonize yes --dir "$REDIS_TMP" --pidfile "$REDIS_PIDFILE" \
			--logfile "$REDIS_TMP/redis.log" >/dev/null 2>&1; then
			for _ in $(seq 1 100); do
				if redis_ping "$port"; then
					export REDIS_URL="redis://127.0.0.1:$port/0"
					REDIS_SOURCE="private redis-server, pid $(cat "$REDIS_PIDFILE" 2>/dev/null || echo '?')"
					return 0
				fi
				# Gave up starting (e.g. port taken meanwhile): try another port.
				if [[ -s "$REDIS_PIDFILE" ]] && ! kill -0 "$(cat "$REDIS_PIDFILE")" 2>/dev/null; then
					break
				fi
				sleep 0.1
			done
		fi
		log "private Redis did not come up on port $port; log:"
		tail -n 20 "$REDIS_TMP/redis.log" >&2 2>/dev/null || true
		if [[ -s "$REDIS_PIDFILE" ]]; then
			kill -TERM "$(cat "$REDIS_PIDFILE")" 2>/dev/null || true
			rm -f "$REDIS_PIDFILE"
		fi
	done
	die "could not start a private Redis"
}

REDIS_SOURCE=""
if [[ -n "${REDIS_URL:-}" ]]; then
	REDIS_SOURCE="from REDIS_URL"
elif redis_ping "$REDIS_PROBE_PORT"; then
	export REDIS_URL="redis://127.0.0.1:$REDIS_PROBE_PORT/0"
	REDIS_SOURCE="running server"
else
	log "no Redis answers on 127.0.0.1:$REDIS_PROBE_PORT; starting a private one"
	start_private_redis
fi

# ------------------------------------------------------------ PostgreSQL ---
pg_up() { # pg_up PORT: something accepts PostgreSQL connections on PORT
	if have pg_isready; then
		timeout 10 pg_isready -q -h 127.0.0.1 -p "$1" -t 5
	else
		tcp_open "$1"
	fi
}

# as_pg CMD...: run CMD as the postgres user when we are root (initdb and
# pg_ctl refuse to run as root), as ourselves otherwise.
as_pg() {
	if ! is_root; then
		"$@"
	elif have runuser; then
		runuser -u postgres -- "$@"
	else
		su postgres -s /bin/sh -c '"$0" "$@"' -- "$@"
	fi
}

find_pg_bindir() {
	local d
	# Debian layout: highest version first.
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
			echo "$d"
			return 0
		fi
	done
	if have initdb && have pg_ctl; then
		dirname "$(readlink -f "$(command -v initdb)")"
		return 0
	fi
	return 1
}

start_private_pg() {
	local bindir port
	if ! bindir="$(find_pg_bindir)"; then
		apt_install postgresql || die "no PostgreSQL: set DATABASE_URL, run one on 127.0.0.1:$PG_PROBE_PORT, or install postgresql"
		bindir="$(find_pg_bindir)" || die "initdb/pg_ctl still not found after install"
	fi
	PG_CTL="$bindir/pg_ctl"
	PG_TMP="$(mktemp -d "${TMPDIR:-/tmp}/refundbot-pg.XXXXXX")"
	PG_DATA="$PG_TMP/data"
	if is_root; then
		if ! id postgres >/dev/null 2>&1; then
			log "creating system user postgres"
			useradd --system --user-group --home-dir /nonexistent --no-create-home \
				--shell /usr/sbin/nologin postgres \
				|| die "could not create user postgres"
		fi
		chown postgres: "$PG_TMP"
	fi
	chmod 0700 "$PG_TMP"
	(cd "$PG_TMP" && as_pg "$bindir/initdb" -D "$PG_DATA" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C --no-sync >"$PG_TMP/initdb.log" 2>&1) \
		|| { cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }
	for _ in 1 2 3; do
		port="$(free_port)" || die "no free TCP port for PostgreSQL"
		if (cd "$PG_TMP" && as_pg "$PG_CTL" -D "$PG_DATA" -l "$PG_TMP/postgres.log" -w -t 60 \
			-o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
			start >/dev/null 2>&1); then
			for _ in $(seq 1 100); do
				if have pg_isready; then
					pg_isready -q -h 127.0.0.1 -p "$port" -t 2 && break
				else
					tcp_open "$port" && break
				fi
				sleep 0.1
			done
			export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			PG_SOURCE="private cluster, pid $(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo '?')"
			return 0
		fi
		log "private PostgreSQL did not come up on port $port; log:"
		tail -n 20 "$PG_TMP/postgres.log" >&2 2>/dev/null || true
	done
	die "could not start a private PostgreSQL"
}

PG_SOURCE=""
if [[ -n "${DATABASE_URL:-}" ]]; then
	PG_SOURCE="from DATABASE_URL"
elif pg_up "$PG_PROBE_PORT"; then
	for url in \
		"postgres://postgres@127.0.0.1:$PG_PROBE_PORT/test?sslmode=disable" \
		"postgres://root@127.0.0.1:$PG_PROBE_PORT/test?sslmode=disable" \
		"postgres://postgres@127.0.0.1:$PG_PROBE_PORT/postgres?sslmode=disable" \
		"postgres://root@127.0.0.1:$PG_PROBE_PORT/postgres?sslmode=disable"; do
		if ! have psql; then
			# Nothing to check with: take the first candidate.
			export DATABASE_URL="$url"
			PG_SOURCE="running server (unchecked: no psql)"
			break
		fi
		if PGCONNECT_TIMEOUT=5 psql "$url" -XqAt -w -c 'select 1' </dev/null >/dev/null 2>&1; then
			export DATABASE_URL="$url"
			PG_SOURCE="running server"
			break
		fi
	done
	if [[ -z "${DATABASE_URL:-}" ]]; then
		log "PostgreSQL on 127.0.0.1:$PG_PROBE_PORT refused every default login; starting a private one"
		start_private_pg
	fi
else
	log "no PostgreSQL answers on 127.0.0.1:$PG_PROBE_PORT; starting a private one"
	start_private_pg
fi

# -------------------------------------------------------------- promtool ---
find_promtool() {
	local c
	for c in "${PROMTOOL:-}" "$(command -v promtool 2>/dev/null || true)" /usr/bin/promtool /usr/local/bin/promtool; do
		if [[ -n "$c" && -x "$c" ]]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# install_promtool: Debian ships promtool in the prometheus package, whose
# install would also enable and start a Prometheus server (and recommend a
# node exporter). Only the tool is wanted: no recommends, and while no
# policy-rc.d exists, a temporary one that refuses to start services.
install_promtool() {
	local guard="" rc=0
	if is_root && [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\n# refundbot deploy/test.sh: installing promtool only\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		guard=1
	fi
	apt_install --no-install-recommends prometheus || rc=$?
	if [[ -n "$guard" ]]; then
		rm -f /usr/sbin/policy-rc.d
	fi
	return "$rc"
}

# ------------------------------------------------------------------ tests ---
log "Redis:      $(redact "$REDIS_URL") ($REDIS_SOURCE)"
log "PostgreSQL: $(redact "$DATABASE_URL") ($PG_SOURCE)"

# Plain `make test` also checks the Kubernetes manifests: deploy/k8s is a
# module of its own (k8s.io/api stays out of the bot's go.mod), so ./... above
# does not include it.
K8S_TESTS=""
PROMTOOL_BIN=""
if [[ $# -gt 0 ]]; then
	set -- -race -count=1 "$@"
else
	set -- -race -count=1 ./...
	K8S_TESTS=1
	# Found (or installed) before the Go tests, so a machine without it
	# fails in seconds rather than after them.
	if ! PROMTOOL_BIN="$(find_promtool)"; then
		install_promtool || die "no promtool: install Debian's prometheus package (apt-get install --no-install-recommends prometheus) or set PROMTOOL"
		PROMTOOL_BIN="$(find_promtool)" || die "promtool still not found after installing prometheus"
	fi
	log "promtool:   $PROMTOOL_BIN"
fi
log "go test $*"

set +e
go test "$@"
status=$?
if [[ -n "$K8S_TESTS" ]]; then
	log "go test -count=1 ./... (in deploy/k8s)"
	(cd deploy/k8s && go test -count=1 ./...)
	k8s_status=$?
	if [[ "$status" -eq 0 ]]; then
		status=$k8s_status
	fi
	log "promtool check rules / test rules (deploy/prometheus)"
	"$PROMTOOL_BIN" check rules deploy/prometheus/alerts.yaml \
		&& (cd deploy/prometheus && "$PROMTOOL_BIN" test rules alerts_test.yaml)
	prom_status=$?
	if [[ "$status" -eq 0 ]]; then
		status=$prom_status
	fi
fi
set -e
exit "$status"
