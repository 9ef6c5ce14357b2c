#!/usr/bin/env bash
# Runs one libFuzzer target: every input of its seed corpus, then SECONDS of
# fuzzing. Used by the fuzz.* ctests (seconds) and by scripts/fuzz (minutes).
#
# Usage: fuzz/run_fuzzer.sh BINARY SECONDS WORK_DIR SEED_CORPUS
#   WORK_DIR/corpus   new inputs the fuzzer found (the seed corpus is only read)
#   WORK_DIR/crashes  crash-*, timeout-*, oom-* inputs, if any
# Exits non-zero when the target crashed, leaked, timed out or ran out of
# memory on any input; the last lines of its output then name the input.
set -euo pipefail
if (($# != 4)); then
  echo "usage: fuzz/run_fuzzer.sh BINARY SECONDS WORK_DIR SEED_CORPUS" >&2
  exit 2
fi
binary="$1" seconds="$2" work="$3" seeds="$4"
mkdir -p "$work/corpus" "$work/crashes"
# -timeout: an input that takes 10 s is a hang; -rss_limit_mb: a parser must
# not need gigabytes for a small input.
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/crashes/" "$work/corpus" "$seeds"
