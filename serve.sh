#!/usr/bin/env bash
# Run the appliance on this machine: creates .venv, installs the app, serves on
# http://localhost:8080 with its data in ./data. Settings come from the environment or ./.env.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -f .venv/.installed-app ] || [ pyproject.toml -nt .venv/.installed-app ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
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
