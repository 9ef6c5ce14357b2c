#!/usr/bin/env bash
# inferloop vs the reference Ray Serve loop, in one run (docs/benchmarks.md,
# "inferloop vs the reference Ray Serve loop"):
#
#   bench/run_compare.sh [BUILD_DIR] [-- run.py flags, e.g. --update-docs, --quick]
#
# Builds compare_latency in Release (BUILD_DIR defaults to build-perf), trains
# the models (100 to 2000 trees) into BUILD_DIR/compare-models when missing,
# then bench/compare/run.py measures every system, starts and stops the Ray
# Serve and MLflow servers, and writes BUILD_DIR/compare/{results.json,
# section.md,*.png}. --update-docs also rewrites the generated part of
# docs/benchmarks.md and docs/img/compare_*.png. Takes about 10-15 minutes.
#
# Interpreters: INFERLOOP_BENCH_PYTHON (default .venv/bin/python) runs the
# harness, the clients and the servers and needs ray[serve], mlflow, requests
# and matplotlib. INFERLOOP_TRAIN_PYTHON trains the models and must have an
# xgboost whose models the linked libxgboost loads: default
# .venv-xgb17/bin/python (xgboost 1.7.4, Debian's libxgboost). When building
# against the wheel's library (INFERLOOP_XGBOOST_LIBRARY=<venv>/.../
# xgboost/lib/libxgboost.so) set INFERLOOP_TRAIN_PYTHON=.venv/bin/python.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-perf}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
python="${INFERLOOP_BENCH_PYTHON:-$root/.venv/bin/python}"
train_python="${INFERLOOP_TRAIN_PYTHON:-$root/.venv-xgb17/bin/python}"
jobs="${INFERLOOP_JOBS:-2}"
for interpreter in "$python" "$train_python"; do
  [[ -x "$interpreter" ]] || {
    echo "run_compare.sh: $interpreter not found; run ./scripts/bootstrap or set" \
         "INFERLOOP_BENCH_PYTHON / INFERLOOP_TRAIN_PYTHON" >&2
    exit 1
  }
done

cmake_args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
            -DINFERLOOP_BUILD_TESTS=OFF -DINFERLOOP_BUILD_EXAMPLES=OFF
            -DINFERLOOP_BUILD_BENCHMARKS=ON -DINFERLOOP_BUILD_CLI=OFF)
[[ -n "${INFERLOOP_XGBOOST_LIBRARY:-}" ]] &&
  cmake_args+=("-DINFERLOOP_XGBOOST_LIBRARY=$INFERLOOP_XGBOOST_LIBRARY")
cmake "${cmake_args[@]}" >/dev/null
cmake --build "$build" --target inferloop_bench_compare_latency -j "$jobs"

# exec: an interrupt sent to this script reaches run.py itself, which stops
# every server it started before it exits.
exec "$python" "$root/bench/compare/run.py" --build "$build" --train-python "$train_python" "$@"
