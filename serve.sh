#!/usr/bin/env bash
# Run the appliance on this machine: creates .venv, installs the app, serves on
# http://localhost:8080 with its data in ./data. Settings come from the environment or ./.env.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -f .venv/.installed-app ] || [ pyproject.toml -nt .venv/.installed-app ]; then
  # pip's progress and setuptools' warnings go to a file: the terminal keeps the start block.
  echo "Installing the inbox into .venv (first run only; the details go to .venv/install.log)…"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  if ! {
    .venv/bin/python -m pip install --upgrade pip &&
      .venv/bin/python -m pip install -e .
  } >.venv/install.log 2>&1; then
    echo "Installing failed; the last lines of .venv/install.log:" >&2
    tail -n 20 .venv/install.log >&2
    exit 1
  fi
  touch .venv/.installed-app
fi
if [ -f .env ]; then
  set -a
  # shellcheck disable=SC1091
  . ./.env
  set +a
fi
export DATA_DIR="${DATA_DIR:-./data}"
exec .venv/bin/python -m app "$@"
