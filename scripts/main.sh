#!/usr/bin/env bash
# The README's main command: set up, then run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m rnnkit.demo "$@"
