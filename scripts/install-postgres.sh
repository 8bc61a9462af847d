#!/usr/bin/env bash
# PostgreSQL for the test suite (the traffic-log sink and the admin API run against
# a real server): Debian's `postgresql` package, installed only when no server
# binaries are found. The tests start their own throwaway server from these
# binaries on a free loopback port; nothing here starts or configures a cluster.
set -euo pipefail

have_server() {
    command -v initdb >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_server; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: no PostgreSQL server binaries (initdb) and no apt-get;" \
        "install PostgreSQL 13 or later with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-postgres: run as root, or install the postgresql package yourself" >&2
        exit 1
    fi
    SUDO="sudo"
fi

echo "install-postgres: installing Debian's postgresql package for the tests" >&2
# The tests run their own server: no default cluster is created (or started) by the package.
$SUDO mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" |
    $SUDO tee /etc/postgresql-common/createcluster.d/gpt2giga-tests.conf >/dev/null
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null

have_server || { echo "install-postgres: initdb still missing after the install" >&2; exit 1; }
