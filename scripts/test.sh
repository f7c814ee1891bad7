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
# The speech tests synthesise utterances with Debian's espeak-ng (and add noise with sox); install them
# once where we can (those tests skip, saying why, where we cannot).
if ! command -v espeak-ng >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    (apt-get install -y -qq espeak-ng sox || (apt-get update -qq && apt-get install -y -qq espeak-ng sox)) \
        >/dev/null 2>&1 || echo "scripts/test.sh: could not install espeak-ng/sox; the speech synthesis tests will skip"
fi
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    (apt-get install -y -qq chromium chromium-driver || (apt-get update -qq && apt-get install -y -qq chromium \
        chromium-driver)) >/dev/null 2>&1 || echo "scripts/test.sh: could not install chromium; the serve page's browser test will skip"
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/lint-imports --no-cache             # the one-way layers of docs/architecture.md (pyproject.toml)
.venv/bin/python -m pytest "$@"
