#!/usr/bin/env bash
# Installs the PostgreSQL server binaries (Debian package `postgresql`) for the production-profile test
# (data_platform_tests/test_production_postgres.py), which starts its own throw-away server on a free
# port. Idempotent: does nothing when /usr/lib/postgresql/<major>/bin/initdb already exists.
# The package would create and start a system cluster ("main" on port 5432); the test needs none, so
# the install is told not to create it. Needs root (or sudo) and apt.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "PostgreSQL binaries already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "setup_postgres.sh: PostgreSQL is missing and this is not root (no sudo): install the Debian package 'postgresql'" >&2
        exit 1
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_postgres.sh: no apt-get here; install the PostgreSQL server binaries (initdb, pg_ctl)" >&2
    exit 1
fi

# no system cluster: the test runs initdb itself, in a temporary folder
$SUDO mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/data-platform-no-main.conf >/dev/null

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql
ls -d /usr/lib/postgresql/*/bin
