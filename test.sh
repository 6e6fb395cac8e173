#!/usr/bin/env bash
# Run every test on this machine: creates .venv with the app and its test tools, installs what
# the tests drive (Node.js for the real JSON.stringify, Debian's Chromium for the browser tests,
# a PostgreSQL server for the DATABASE_URL=postgresql:// test, LibreOffice Calc to open the
# exports as a spreadsheet would),
# checks style with ruff and types with mypy (strict), then runs pytest. Arguments go to pytest.
# The container tests fetch their own Docker engine through ../shared/tools/container-env.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-calc-nogui)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${missing[*]} from Debian"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: ${missing[*]} missing; install them (sudo apt-get install ${missing[*]})" >&2
  fi
fi

if [ ! -f .venv/.installed-test ] || [ pyproject.toml -nt .venv/.installed-test ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]'
  touch .venv/.installed-test .venv/.installed-app
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
