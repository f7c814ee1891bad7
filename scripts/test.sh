#!/usr/bin/env bash
# The README's test command: set up, lint, run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The PostgreSQL tune test starts a throwaway server of its own; install Debian's once where we can
# (it skips, saying why, where we cannot).
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
        && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    (apt-get install -y -qq postgresql || (apt-get update -qq && apt-get install -y -qq postgresql)) \
        >/dev/null 2>&1 || echo "scripts/test.sh: could not install postgresql; its tune test will skip"
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest "$@"
