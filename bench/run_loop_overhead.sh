#!/usr/bin/env bash
# The loop core's figures in one command, one build, one run (docs/benchmarks.md):
#   1. handover_latency: the two-thread ping-pong floor, then publish-to-visible
#      minus the bare predict per wait strategy, 1 and 2 replicas, paced and
#      back to back (ForestPredictor);
#   2. loop_overhead: publish-to-visible against a direct XGBoosterPredictFromDense
#      call (XGBoostPredictor; Google Benchmark);
#   3. backtest_throughput: backtest rows/s beside the same predictor's plain
#      batch rows/s on the same rows and threads;
#   4. `inferloop backtest --threads 2` end to end on 1,000,000 rows (reading the
#      CSV, simulating, predicting, writing the results), timed as a whole process.
#
#   bench/run_loop_overhead.sh [BUILD_DIR] [-- extra loop_overhead flags]
#
# BUILD_DIR defaults to build-bench (Release). The model is the demo model
# (100 trees, depth 6, 8 features) in BUILD_DIR/demo-model, trained with its
# 1,000,000-row feature CSV by $INFERLOOP_BENCH_PYTHON (default
# .venv-xgb17/bin/python: the xgboost of Debian's libxgboost 1.7.4, which the
# default build links; with INFERLOOP_XGBOOST_LIBRARY=<wheel>/xgboost/lib/libxgboost.so
# use .venv/bin/python). Results: BUILD_DIR/loop_core/*.json and the printed tables.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-bench}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
python="${INFERLOOP_BENCH_PYTHON:-$root/.venv-xgb17/bin/python}"
jobs="${INFERLOOP_JOBS:-$(nproc)}"

cmake_args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
            -DINFERLOOP_BUILD_TESTS=OFF -DINFERLOOP_BUILD_EXAMPLES=OFF
            -DINFERLOOP_BUILD_BENCHMARKS=ON -DINFERLOOP_BUILD_CLI=ON -DINFERLOOP_BUILD_PYTHON=OFF)
[[ -n "${INFERLOOP_XGBOOST_LIBRARY:-}" ]] &&
  cmake_args+=("-DINFERLOOP_XGBOOST_LIBRARY=$INFERLOOP_XGBOOST_LIBRARY")
cmake "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j "$jobs" --target inferloop_bench_loop_overhead \
  inferloop_bench_handover_latency inferloop_bench_backtest_throughput inferloop_cli

model="$build/demo-model"
features="$build/demo-features-1m.csv"
if [[ ! -f "$model/MLmodel" || ! -f "$features" ]]; then
  [[ -x "$python" ]] || { echo "run_loop_overhead.sh: $python not found; run ./scripts/bootstrap or set INFERLOOP_BENCH_PYTHON" >&2; exit 1; }
  "$python" "$root/examples/train_demo_model.py" "$model" --features-csv "$features" --csv-rows 1000000
fi
out="$build/loop_core"
mkdir -p "$out"

echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== 1. hand-over against the ping-pong floor (ForestPredictor)"
"$build/bench/handover_latency" --model="$model" --json="$out/handover_latency.json"

echo
echo "== 2. loop overhead against a direct XGBoost C API call (XGBoostPredictor)"
"$build/bench/loop_overhead" --model="$model" \
  --benchmark_out="$out/loop_overhead.json" --benchmark_out_format=json "$@" >/dev/null
python3 - "$out/loop_overhead.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
print(f"{'benchmark':64} {'p50 us':>9} {'p90 us':>9} {'p99 us':>9} {'+p50 us':>9} {'x p50':>7}")
for b in data["benchmarks"]:
    if "p50_us" in b:
        extra = (f"{b['overhead_p50_us']:9.2f} {b['ratio_p50']:7.2f}" if "ratio_p50" in b else "")
        print(f"{b['name']:64} {b['p50_us']:9.2f} {b['p90_us']:9.2f} {b['p99_us']:9.2f} {extra}")
    else:
        print(f"{b['name']:64} {b['real_time']:9.1f} {b['time_unit']} per call")
PY

echo
echo "== 3. backtest rows/s beside batch rows/s (ForestPredictor, same rows and threads)"
"$build/bench/backtest_throughput" --model="$model" --benchmark_color=false \
  --benchmark_out="$out/backtest_throughput.json" --benchmark_out_format=json

echo
echo "== 4. inferloop backtest --threads 2, 1,000,000 rows, end to end (ForestPredictor)"
config="$out/backtest.yaml"
printf 'model_uri: %s\npredictor_class_name: ForestPredictor\nnum_replicas: 1\n' "$model" >"$config"
start_ns="$(date +%s%N)"
"$build/tools/inferloop/inferloop" backtest "$config" --features "$features" --latency zero \
  --results "$out/backtest-results.csv" --threads 2
end_ns="$(date +%s%N)"
rows="$(($(wc -l <"$features") - 1))"
python3 -c "import sys; rows, ns = int(sys.argv[1]), int(sys.argv[2]); \
print(f'whole process: {rows} rows in {ns / 1e9:.2f} s = {rows / (ns / 1e9) / 1e6:.2f} M rows/s')" \
  "$rows" "$((end_ns - start_ns))"
