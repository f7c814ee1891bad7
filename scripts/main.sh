#!/usr/bin/env bash
# The README's main command: set up, train a character-level LSTM on Shakespeare for a few
# minutes (at most RNNKIT_MAIN_SECONDS, default 270), then print its validation bits per
# character and a generated sample. Extra arguments override the config (--train.iterations=500).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
seconds=${RNNKIT_MAIN_SECONDS:-270}
run=runs/main/shakespeare_char-$(date +%Y%m%d-%H%M%S)
rnnkit=(.venv/bin/python -m rnnkit)
echo "== training a character-level LSTM on Shakespeare (configs/shakespeare_char.toml) for at most ${seconds}s"
status=0          # SIGINT at the time limit: the run saves a checkpoint and stops (exit 124 from timeout)
timeout -s INT "$seconds" "${rnnkit[@]}" train configs/shakespeare_char.toml --out_dir="$run" "$@" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$status" -ne 130 ]; then exit "$status"; fi
echo "== validation bits per character of $run"
"${rnnkit[@]}" eval "$run"
echo "== generated text (rnnkit generate $run --prompt=ROMEO: --tokens=600 --temperature=0.8 --seed=1)"
"${rnnkit[@]}" generate "$run" --prompt="ROMEO:" --tokens=600 --temperature=0.8 --seed=1
