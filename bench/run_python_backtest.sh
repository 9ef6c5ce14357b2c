#!/usr/bin/env bash
# Builds the Python module and the CLI in Release and runs
# bench/python_backtest.py: inferloop.backtest() vs `inferloop backtest` vs
# xgboost's inplace_predict on the same 1,000,000 rows (docs/python.md,
# "Benchmark").
#
#   bench/run_python_backtest.sh [BUILD_DIR] [-- extra python_backtest.py flags]
#
# BUILD_DIR defaults to build-bench-python. The Python is $INFERLOOP_BENCH_PYTHON
# (default .venv/bin/python): it needs nanobind, numpy and xgboost.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-bench-python}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
python="${INFERLOOP_BENCH_PYTHON:-$root/.venv/bin/python}"
jobs="${INFERLOOP_JOBS:-$(nproc)}"
[[ -x "$python" ]] || { echo "run_python_backtest.sh: $python not found; run ./scripts/bootstrap or set INFERLOOP_BENCH_PYTHON" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "-DINFERLOOP_PYTHON=$python" \
  -DINFERLOOP_BUILD_PYTHON=ON -DINFERLOOP_BUILD_CLI=ON -DINFERLOOP_BUILD_TESTS=OFF \
  -DINFERLOOP_BUILD_EXAMPLES=OFF -DINFERLOOP_BUILD_BENCHMARKS=OFF
cmake --build "$build" --target inferloop_python inferloop_cli -j "$jobs"
PYTHONPATH="$build/python" PYTHONDONTWRITEBYTECODE=1 "$python" "$root/bench/python_backtest.py" \
  --cli "$build/tools/inferloop/inferloop" --out "$build/python-backtest" "$@"
