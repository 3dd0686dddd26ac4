#!/usr/bin/env bash
# Set up everything in .venv/ at the repository root, then run the demo day.
#
#   bash setup.sh             set up and run `monitor demo`
#   bash setup.sh --no-demo   set up only (what CI does before the tests)
#
# Needs only python3 (3.11+). Python packages come from PyPI at the versions in
# requirements.lock. The browser for JavaScript pages is Debian's chromium:
# installed with apt when running as root, otherwise what is skipped is said.
# No browser build is ever downloaded.
set -euo pipefail
cd "$(dirname "$0")"

run_demo=1
[ "${1:-}" = "--no-demo" ] && run_demo=0

say() { printf '[setup] %s\n' "$*"; }
as_root_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "[setup] error: python 3.11 or newer is needed as '$PY'" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $("$PY" --version)"
    if ! "$PY" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if as_root_apt; then
            say "installing Debian's python3-venv"
            apt_install python3-venv
            "$PY" -m venv .venv
        else
            echo "[setup] error: '$PY -m venv' failed; install python3-venv (apt-get install python3-venv)" >&2
            exit 1
        fi
    fi
fi

say "installing Python packages from requirements.lock"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.lock
.venv/bin/python -m pip install -q --no-deps -e .

chromium=${MONITOR_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    if as_root_apt; then
        say "installing Debian's chromium for browser-rendered sources"
        apt_install chromium fonts-noto-cjk
    else
        say "no Chromium at $chromium and no root apt: browser-rendered sources and their tests are skipped (install Debian's chromium or set MONITOR_CHROMIUM)"
    fi
fi

if [ "$run_demo" = 1 ]; then
    say "running the demo day: .venv/bin/monitor demo"
    .venv/bin/monitor demo
fi
