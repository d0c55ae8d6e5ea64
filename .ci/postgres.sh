#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store tests (GitHub issue #6, item 4).
#
# The store's PostgreSQL path is for desks that guard many accounts from several daemons, so CI
# tests it against a real server rather than trusting SQLite to stand in for it. This script
# works on a fresh Debian machine (as root, with only the Debian and PyPI mirrors reachable) and
# on a developer's machine (as an ordinary user who has the server binaries).
#
#   .ci/postgres.sh start   install the server if its binaries are missing, initdb a cluster in
#                           a temporary directory, start it on 127.0.0.1 on a free port, create
#                           a database; print `export ...` lines on stdout for `eval`.
#                           Idempotent: a cluster this script already runs is reused.
#   .ci/postgres.sh stop    stop that cluster and delete its directory (no-op if none).
#   .ci/postgres.sh url     print the export lines of the running cluster again.
#
# Usage from .ci/run:
#   eval "$(.ci/postgres.sh start)"
#   trap '.ci/postgres.sh stop' EXIT
#
# Everything the script says goes to stderr; stdout carries only the export lines.
# SIMPLE_RISK_PG_STATE (default: /tmp/simple-risk-ci-pg.state) names the file that remembers
# the running cluster's directory, so `stop` and a second `start` find it.
set -euo pipefail

STATE_FILE="${SIMPLE_RISK_PG_STATE:-${TMPDIR:-/tmp}/simple-risk-ci-pg.state}"
DB_NAME="simple_risk_test"
DB_USER="simple_risk"

say() { echo "postgres.sh: $*" >&2; }

server_bindir() {
    # The newest installed major version wins; `ls` sorts 9.6 after 15, so sort by version.
    local initdb
    initdb="$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$initdb" ] && dirname "$initdb"
}

ensure_server_installed() {
    if [ -z "$(server_bindir)" ]; then
        if [ "$(id -u)" -ne 0 ]; then
            say "PostgreSQL server binaries are missing and this is not root: install 'postgresql'"
            exit 1
        fi
        say "installing postgresql from the Debian mirror"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        # The package's own cluster is not used (ours lives in a temp dir), so do not create it.
        mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/simple-risk-ci.conf
        apt-get install -y -qq --no-install-recommends postgresql >&2
    fi
}

# Run a command as the cluster's owner: postgres refuses to run as root.
run_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$OWNER" -- "$@"
    else
        "$@"
    fi
}

pick_owner() {
    if [ "$(id -u)" -ne 0 ]; then
        OWNER="$(id -un)"
        return
    fi
    OWNER="postgres"
    if ! id "$OWNER" >/dev/null 2>&1; then
        say "creating system user $OWNER"
        useradd --system --no-create-home --shell /usr/sbin/nologin "$OWNER"
    fi
}

free_port() {
    python3 - <<'EOF'
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
EOF
}

print_exports() {
    local dir="$1" port
    port="$(cat "$dir/port")"
    echo "export SIMPLE_RISK_TEST_PG_URL=postgresql+psycopg://${DB_USER}@127.0.0.1:${port}/${DB_NAME}"
    echo "export SIMPLE_RISK_TEST_PG_DIR=${dir}"
}

running_dir() {
    # The directory of a cluster this script started and that still answers, or nothing.
    [ -f "$STATE_FILE" ] || return 0
    local dir bindir
    dir="$(cat "$STATE_FILE")"
    bindir="$(server_bindir)"
    if [ -n "$bindir" ] && [ -f "$dir/port" ] && [ -d "$dir/data" ] \
        && "$bindir/pg_isready" -q -h 127.0.0.1 -p "$(cat "$dir/port")"; then
        echo "$dir"
    fi
}

start() {
    local dir
    dir="$(running_dir)"
    if [ -n "$dir" ]; then
        say "reusing the cluster in $dir"
        print_exports "$dir"
        return
    fi
    stop_quietly
    ensure_server_installed
    pick_owner
    local bindir port
    bindir="$(server_bindir)"
    dir="$(mktemp -d "${TMPDIR:-/tmp}/simple-risk-pg.XXXXXX")"
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown "$OWNER" "$dir"
    echo "$dir" >"$STATE_FILE"
    run_as_owner "$bindir/initdb" -D "$dir/data" -U "$DB_USER" --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || run_as_owner "$bindir/initdb" -D "$dir/data" -U "$DB_USER" --auth=trust -E UTF8 \
            --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # A port can be taken between picking it and binding it; try a few.
    local attempt
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        if run_as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >&2; then
            echo "$port" >"$dir/port"
            break
        fi
        say "start on port $port failed (attempt $attempt)"
        tail -n 5 "$dir/server.log" >&2 || true
        port=""
    done
    if [ -z "$port" ]; then
        say "could not start PostgreSQL"
        exit 1
    fi
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME"
    say "$("$bindir/postgres" --version) on 127.0.0.1:$port ($dir)"
    print_exports "$dir"
}

stop_quietly() {
    [ -f "$STATE_FILE" ] || return 0
    local dir bindir
    dir="$(cat "$STATE_FILE")"
    bindir="$(server_bindir)"
    if [ -n "$bindir" ] && [ -f "$dir/data/postmaster.pid" ]; then
        pick_owner
        run_as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
    fi
    case "$dir" in
        "${TMPDIR:-/tmp}"/simple-risk-pg.*) rm -rf "$dir" ;;
    esac
    rm -f "$STATE_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop_quietly ;;
    url)
        dir="$(running_dir)"
        [ -n "$dir" ] || { say "no running cluster"; exit 1; }
        print_exports "$dir"
        ;;
    *)
        echo "usage: $0 start|stop|url" >&2
        exit 2
        ;;
esac
