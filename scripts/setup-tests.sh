#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine with Python 3.11: Debian's chromium
# for the browser suite, and a .venv with the app's and the tests' Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  as_root=""; [ "$(id -u)" = 0 ] || as_root="sudo"
  $as_root apt-get update -q
  $as_root apt-get install -y -q chromium
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -r requirements-dev.txt
