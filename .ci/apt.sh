#!/usr/bin/env bash
# Sourced by the setup scripts: apt_install PACKAGE... installs Debian packages as root (or with sudo),
# or fails with a message saying what to install by hand.
apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "$(basename "$0"): not root and no sudo: install the Debian package(s) $* by hand" >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$(basename "$0"): no apt-get here: install $* (or their equivalent) by hand" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "$@"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
