#!/usr/bin/env bash
# Builds the metrics-overhead benchmark in Release, trains the demo model when
# it is missing, and measures the loop's publish-to-visible latency with
# Prometheus metrics off and on (served, scraped every second) in one run.
#
#   bench/run_metrics_overhead.sh [BUILD_DIR] [-- extra benchmark flags]
#
# BUILD_DIR defaults to build-bench. The demo model goes to BUILD_DIR/demo-model,
# trained by $INFERLOOP_BENCH_PYTHON (default .venv/bin/python; with Debian's
# libxgboost 1.7.4 use .venv-xgb17/bin/python). The machine's load average is
# printed before and after: on a shared machine, say how loaded it was.
# Results: BUILD_DIR/metrics_overhead.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-bench}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
python="${INFERLOOP_BENCH_PYTHON:-$root/.venv/bin/python}"
jobs="${INFERLOOP_JOBS:-$(nproc)}"

cmake_args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
            -DINFERLOOP_BUILD_TESTS=OFF -DINFERLOOP_BUILD_EXAMPLES=OFF
            -DINFERLOOP_BUILD_BENCHMARKS=ON -DINFERLOOP_BUILD_CLI=OFF)
[[ -n "${INFERLOOP_XGBOOST_LIBRARY:-}" ]] &&
  cmake_args+=("-DINFERLOOP_XGBOOST_LIBRARY=$INFERLOOP_XGBOOST_LIBRARY")
cmake "${cmake_args[@]}"
cmake --build "$build" --target inferloop_bench_metrics_overhead -j "$jobs"

if [[ ! -f "$build/demo-model/MLmodel" ]]; then
  [[ -x "$python" ]] || { echo "run_metrics_overhead.sh: $python not found; run ./scripts/bootstrap or set INFERLOOP_BENCH_PYTHON" >&2; exit 1; }
  "$python" "$root/examples/train_demo_model.py" "$build/demo-model"
fi

echo "uptime before: $(uptime)"
grep -m1 "model name" /proc/cpuinfo || true
echo "CPUs: $(nproc); compiler flags: Release ($(grep -m1 CMAKE_CXX_FLAGS_RELEASE: "$build/CMakeCache.txt" | cut -d= -f2))"
"$build/bench/metrics_overhead" --model="$build/demo-model" --json="$build/metrics_overhead.json" "$@"
echo "uptime after: $(uptime)"
