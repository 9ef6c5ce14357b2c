#!/usr/bin/env bash
# ForestModel (ForestPredictor's evaluator) beside tl2cgen's compiled C and the
# XGBoost C API of 1.7.4 and of the current wheel, in one process, one run
# (docs/benchmarks.md, "The forest evaluator against tl2cgen and XGBoost"):
#
#   bench/run_forest_compare.sh [BUILD_DIR] [-- forest_compare flags, e.g. --repetitions 11]
#
# 1. makes the bench venv (.venv-bench, bench/requirements-forest-compare.txt:
#    tl2cgen, treelite, xgboost 1.7.4) when it is missing or its pins changed;
# 2. trains the models into BUILD_DIR/forest-bench-models with xgboost 1.7.4
#    (bench/make_forest_models.py, by $INFERLOOP_VENV_XGB17's python);
# 3. writes tl2cgen's C and xgboost's reference predictions for each model
#    (bench/forest_compare_prepare.py), then compiles the C with gcc -O3 (the
#    flags of tl2cgen's own gcc toolchain) into forest_<T>x<D>.so;
# 4. builds bench/forest_compare in BUILD_DIR (Release; default build-forest-compare)
#    and runs it with Debian's libxgboost 1.7.4 and the libxgboost of the
#    xgboost wheel in $INFERLOOP_VENV (3.2.0).
# Results: BUILD_DIR/forest_compare/{results.json,table.txt,machine.txt}.
# Takes about 5 minutes on 2 cores once the venv and the build exist
# (compiling the 1000x8 model's C is most of it the first time).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
build="${1:-$root/build-forest-compare}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
jobs="${INFERLOOP_JOBS:-2}"
bench_venv="${INFERLOOP_VENV_BENCH:-$root/.venv-bench}"
requirements="$root/bench/requirements-forest-compare.txt"
# tl2cgen's gcc toolchain (tl2cgen/contrib/gcc.py) compiles with these.
tl2cgen_cflags=(-O3 -fPIC -std=c99)

# 1. The bench venv, remade only when the pinned requirements change.
stamp="$bench_venv/.requirements-forest-compare.txt"
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
  [[ -d "$bench_venv" ]] || inferloop_run "$INFERLOOP_SYSTEM_PYTHON" -m venv "$bench_venv"
  inferloop_run "$bench_venv/bin/pip" install --quiet -r "$requirements"
  cp "$requirements" "$stamp"
fi
bench_python="$(inferloop_venv_python "$bench_venv")"
train_python="$(inferloop_venv_python "$INFERLOOP_VENV_XGB17")"
[[ -x "$train_python" ]] || inferloop_die "$train_python not found; run ./scripts/bootstrap or set INFERLOOP_VENV_XGB17"

# 2-3. Models, tl2cgen's C, reference predictions, compiled models.
models="$build/forest-bench-models"
mkdir -p "$models"
"$train_python" "$root/bench/make_forest_models.py" --out "$models"
"$bench_python" "$root/bench/forest_compare_prepare.py" --models "$models"
for model in forest_100x6 forest_500x6 forest_1000x8; do
  c_dir="$models/$model.tl2cgen"
  if [[ ! -f "$models/$model.so" || "$c_dir/main.c" -nt "$models/$model.so" ]]; then
    inferloop_log "compiling $model (gcc ${tl2cgen_cflags[*]})"
    find "$c_dir" -name '*.c' -print0 |
      xargs -0 -P "$jobs" -I{} gcc -c "${tl2cgen_cflags[@]}" {} -o {}.o
    gcc -shared "${tl2cgen_cflags[@]}" -o "$models/$model.so" "$c_dir"/*.c.o
  fi
done

# 4. The benchmark: Release, linking neither libxgboost (it dlopens both).
cmake_args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
            -DINFERLOOP_BUILD_TESTS=OFF -DINFERLOOP_BUILD_EXAMPLES=OFF
            -DINFERLOOP_BUILD_BENCHMARKS=ON -DINFERLOOP_BUILD_CLI=OFF -DINFERLOOP_BUILD_PYTHON=OFF)
cmake "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j "$jobs" --target inferloop_bench_forest_compare
binary="$build/bench/forest_compare"
if ldd "$binary" | grep -q libxgboost; then
  inferloop_die "$binary links a libxgboost; it must dlopen both versions instead"
fi

old_library=/usr/lib/x86_64-linux-gnu/libxgboost.so
new_library="$(inferloop_wheel_libxgboost "$INFERLOOP_VENV")"
out="$build/forest_compare"
mkdir -p "$out"
{
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs;" \
       "$(grep -o -w -E 'avx2|avx512f|avx512bw|avx512vl' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "compiler: $(gcc --version | head -1); tl2cgen C: gcc ${tl2cgen_cflags[*]};" \
       "inferloop: CMAKE_BUILD_TYPE=Release ($(sed -n 's/^CMAKE_CXX_FLAGS_RELEASE:[A-Z]*=//p' "$build/CMakeCache.txt"))"
  echo "bench venv: $("$bench_python" -m pip freeze | grep -E '^(tl2cgen|treelite|xgboost)==' | tr '\n' ' ')"
  echo "load before: $(uptime)"
} | tee "$out/machine.txt"
"$binary" --models "$models" --xgboost-old "$old_library" --xgboost-new "$new_library" \
  --json "$out/results.json" "$@" | tee "$out/table.txt"
echo "load after: $(uptime)" | tee -a "$out/machine.txt"
