#!/usr/bin/env bash
# Set up both virtual environments, idempotently.
#   .venv      Python 3.11: torch==2.13.0 (CPU) first, then menpai and its dependencies
#   .venv-bot  Python 3.10: rasa==3.6.21 + rasa-sdk (Rasa does not support 3.11)
# Each venv is keyed on a hash of its dependency list (stamp files under var/),
# so a second run with nothing changed takes a second or two.
# Usage: scripts/setup.sh [--browser | --nginx]   (--browser also installs Debian's chromium,
# --nginx Debian's nginx for make demo-scale)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/stamps var/log

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

find_python() {  # $1 = version like 3.11
  local v=$1 cand
  for cand in "python$v" "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/$v."*/bin/"python$v" \
              /usr/bin/"python$v" /usr/local/bin/"python$v"; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 || [ -x "$cand" ]; then
      if "$cand" -c "import sys, venv; assert sys.version_info[:2] == tuple(map(int, '$v'.split('.')))" >/dev/null 2>&1; then
        command -v "$cand" 2>/dev/null || echo "$cand"; return 0
      fi
    fi
  done
  return 1
}

# ---- .venv (web, knowledge, tests)
web_key=$(hash_of pyproject.toml)
if [ "$(cat var/stamps/venv 2>/dev/null)" != "$web_key" ] || [ ! -x .venv/bin/menpai ]; then
  PY311=$(find_python 3.11) || { echo "error: Python 3.11 is required for the web side. Install it (e.g. 'pyenv install 3.11') and rerun." >&2; exit 1; }
  say "setting up .venv with $PY311"
  [ -x .venv/bin/python ] || "$PY311" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip wheel setuptools
  # torch first and pinned: the CPU build. Any unpinned torch pulls GBs of CUDA packages.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$web_key" > var/stamps/venv
else
  say ".venv up to date"
fi

# ---- .venv-bot (Rasa + action server)
bot_key=$(hash_of bot/requirements.txt)
if [ "$(cat var/stamps/venv-bot 2>/dev/null)" != "$bot_key" ] || [ ! -x .venv-bot/bin/rasa ]; then
  PY310=$(find_python 3.10) || {
    cat >&2 <<'MSG'
error: Python 3.10 is required for Rasa Open Source 3.6.21 (it supports Python 3.8-3.10 only).
Install it, then rerun 'make setup':
  - with pyenv:   pyenv install 3.10.13
  - on Debian/Ubuntu: apt-get install python3.10 python3.10-venv  (deadsnakes PPA on Ubuntu)
MSG
    exit 1; }
  say "setting up .venv-bot with $PY310"
  [ -x .venv-bot/bin/python ] || "$PY310" -m venv .venv-bot
  .venv-bot/bin/python -m pip install -q --upgrade pip wheel "setuptools<81"
  .venv-bot/bin/python -m pip install -q -r bot/requirements.txt
  echo "$bot_key" > var/stamps/venv-bot
else
  say ".venv-bot up to date"
fi

# ---- headless Chromium for the browser tests (Debian package)
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian's chromium for browser tests"
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk) > var/log/apt.log 2>&1 \
      || { echo "error: apt-get install chromium failed, see var/log/apt.log" >&2; exit 1; }
  else
    echo "error: browser tests need Debian's chromium: sudo apt-get install chromium fonts-noto-cjk" >&2; exit 1
  fi
fi

# ---- nginx in front of several copies (make demo-scale; Debian package)
if [ "${1:-}" = "--nginx" ] && ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian's nginx for make demo-scale"
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx) >> var/log/apt.log 2>&1 \
      || { echo "error: apt-get install nginx failed, see var/log/apt.log" >&2; exit 1; }
  else
    echo "error: make demo-scale needs Debian's nginx: sudo apt-get install nginx" >&2; exit 1
  fi
fi
