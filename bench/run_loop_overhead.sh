#!/usr/bin/env bash
# Builds the loop-overhead benchmark in Release, trains the demo model when it
# is missing, runs the benchmark, writes its JSON and prints a table.
#
#   bench/run_loop_overhead.sh [BUILD_DIR] [-- extra benchmark flags]
#
# BUILD_DIR defaults to build-bench. The demo model goes to BUILD_DIR/demo-model,
# trained by $INFERLOOP_BENCH_PYTHON (default .venv/bin/python). It must be
# loadable by the libxgboost the build links: with Debian's libxgboost 1.7.4 use
# INFERLOOP_BENCH_PYTHON=.venv-xgb17/bin/python, or build against the current
# wheel with INFERLOOP_XGBOOST_LIBRARY=<wheel>/xgboost/lib/libxgboost.so.
# Results: BUILD_DIR/loop_overhead.json.
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
cmake --build "$build" --target inferloop_bench_loop_overhead -j "$jobs"

if [[ ! -f "$build/demo-model/MLmodel" ]]; then
  [[ -x "$python" ]] || { echo "run_loop_overhead.sh: $python not found; run ./scripts/bootstrap or set INFERLOOP_BENCH_PYTHON" >&2; exit 1; }
  "$python" "$root/examples/train_demo_model.py" "$build/demo-model"
fi

json="$build/loop_overhead.json"
"$build/bench/loop_overhead" --model="$build/demo-model" \
  --benchmark_out="$json" --benchmark_out_format=json "$@"

# The table: p50/p90/p99 of every latency benchmark and the overhead vs the anchor.
python3 - "$json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
ctx = data["context"]
print(f"\nmachine: {ctx.get('num_cpus')} CPUs @ {ctx.get('mhz_per_cpu')} MHz; "
      f"xgboost {ctx.get('xgboost')}; model {ctx.get('model')}")
print(f"{'benchmark':64} {'p50 us':>9} {'p90 us':>9} {'p99 us':>9} {'max us':>9} {'+p50 us':>9} {'x p50':>7}")
for b in data["benchmarks"]:
    if "p50_us" in b:
        extra = (f"{b['overhead_p50_us']:9.2f} {b['ratio_p50']:7.2f}" if "ratio_p50" in b else "")
        print(f"{b['name']:64} {b['p50_us']:9.2f} {b['p90_us']:9.2f} {b['p99_us']:9.2f} {b['max_us']:9.2f} {extra}")
    else:
        print(f"{b['name']:64} {b['real_time']:9.1f} {b['time_unit']} per call")
PY
