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

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
# no system cluster: the test runs initdb itself, in a temporary folder
as_root mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/data-platform-no-main.conf >/dev/null
apt_install postgresql
ls -d /usr/lib/postgresql/*/bin
