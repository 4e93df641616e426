#!/usr/bin/env bash
# Installs Debian's chromium for the browser test of the Dagster UI (data_platform_tests/test_ui_browser.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root (or sudo) and apt.
# The test drives this browser with the `playwright` Python package; never run `playwright install`
# (it downloads its own browser builds).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
    exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
apt_install chromium
/usr/bin/chromium --version 2>/dev/null | head -1
