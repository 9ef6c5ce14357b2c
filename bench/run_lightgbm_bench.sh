#!/usr/bin/env bash
# ForestPredictor against LightGBM's own C API (LightGBMPredictor) on LightGBM
# models, in one build and one run (docs/lightgbm.md has the figures):
#
#   bench/run_lightgbm_bench.sh [BUILD_DIR] [-- extra Google Benchmark flags]
#
# BUILD_DIR defaults to build-bench (Release). The models and rows are trained
# by $INFERLOOP_BENCH_PYTHON (default .venv/bin/python, the venv whose lightgbm
# wheel LightGBMPredictor loads) into BUILD_DIR/lightgbm-bench-models.
# Results: BUILD_DIR/lightgbm_bench.json and the printed summary.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-bench}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
venv="${INFERLOOP_VENV:-$root/.venv}"
python="${INFERLOOP_BENCH_PYTHON:-$venv/bin/python}"
jobs="${INFERLOOP_JOBS:-$(nproc)}"
[[ -x "$python" ]] || { echo "run_lightgbm_bench.sh: $python not found; run ./scripts/bootstrap or set INFERLOOP_BENCH_PYTHON" >&2; exit 1; }

# shellcheck source=../scripts/lib.sh
source "$root/scripts/lib.sh"
include="$("$INFERLOOP_SYSTEM_PYTHON" "$root/scripts/fetch_lightgbm_headers.py" "$venv")"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DINFERLOOP_BUILD_TESTS=OFF -DINFERLOOP_BUILD_EXAMPLES=OFF -DINFERLOOP_BUILD_BENCHMARKS=ON \
  -DINFERLOOP_BUILD_PYTHON=OFF "-DINFERLOOP_LIGHTGBM_INCLUDE_DIR=$include" \
  "-DINFERLOOP_LIGHTGBM_LIBRARY=$(inferloop_wheel_liblightgbm "$venv")" >/dev/null
cmake --build "$build" -j "$jobs" --target inferloop_bench_lightgbm

models="$build/lightgbm-bench-models"
"$python" "$root/bench/make_lightgbm_models.py" --out "$models"
echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
INFERLOOP_LIGHTGBM_BENCH_MODELS="$models" "$build/bench/lightgbm_bench" \
  --benchmark_out="$build/lightgbm_bench.json" --benchmark_out_format=json "$@"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
