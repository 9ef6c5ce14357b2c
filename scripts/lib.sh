# shellcheck shell=bash
# Helpers shared by scripts/bootstrap and scripts/test. Source it; it defines
# functions and variables only and changes no shell options of the caller.

INFERLOOP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The venvs live in the checkout by default; CI or a developer can move them.
INFERLOOP_VENV="${INFERLOOP_VENV:-$INFERLOOP_ROOT/.venv}"
INFERLOOP_VENV_XGB17="${INFERLOOP_VENV_XGB17:-$INFERLOOP_ROOT/.venv-xgb17}"
INFERLOOP_VENV_KSERVE="${INFERLOOP_VENV_KSERVE:-$INFERLOOP_ROOT/.venv-kserve}"
# Debian's interpreter, never a pyenv/conda python3 that happens to be first on
# PATH: the venvs must be reproducible on a fresh Debian 12.
INFERLOOP_SYSTEM_PYTHON="${INFERLOOP_SYSTEM_PYTHON:-/usr/bin/python3}"

# Nothing the project runs may talk to any address but loopback: MLflow's
# telemetry, Ray's usage stats and MLflow's job workers are off for every
# process the scripts start (scripts/server_env.py does the same for servers
# that Python code starts, whatever its environment).
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true RAY_USAGE_STATS_ENABLED=0 \
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false

inferloop_log() { printf '[inferloop] %s\n' "$*" >&2; }
inferloop_die() { printf '[inferloop] error: %s\n' "$*" >&2; exit 1; }

# Prints the command, then runs it.
inferloop_run() {
  printf '[inferloop] + %s\n' "$*" >&2
  "$@"
}

# Runs a command as root: directly when already root, else through sudo.
inferloop_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    inferloop_run "$@"
  elif command -v sudo >/dev/null 2>&1; then
    inferloop_run sudo "$@"
  else
    inferloop_die "need root to run '$*' and sudo is not installed; run it as root"
  fi
}

# The python inside a venv directory.
inferloop_venv_python() { printf '%s/bin/python\n' "$1"; }

# Path of libxgboost.so shipped inside the xgboost wheel of a venv.
inferloop_wheel_libxgboost() {
  "$(inferloop_venv_python "$1")" -c \
    'import xgboost, os; print(os.path.join(os.path.dirname(xgboost.__file__), "lib", "libxgboost.so"))'
}

# The lib_lightgbm.so inside the lightgbm wheel of a venv, and the folder
# scripts/fetch_lightgbm_headers.py puts that version's C headers in.
inferloop_wheel_liblightgbm() {
  "$(inferloop_venv_python "$1")" -c \
    'import lightgbm, os; print(os.path.join(os.path.dirname(lightgbm.__file__), "lib", "lib_lightgbm.so"))'
}
inferloop_venv_lightgbm_include() {
  printf '%s/include/lightgbm-%s\n' "$1" \
    "$("$(inferloop_venv_python "$1")" -c 'import lightgbm; print(lightgbm.__version__)')"
}

# The CMake options every build tree of scripts/test (and scripts/fuzz) starts
# from: the venvs' interpreters for the tests that need python, and every
# optional part ON. Sets the array INFERLOOP_COMMON_OPTIONS.
inferloop_common_options() {
  INFERLOOP_COMMON_OPTIONS=(
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
    -DINFERLOOP_BUILD_TESTS=ON
    "-DINFERLOOP_PYTHON=$(inferloop_venv_python "$INFERLOOP_VENV")"
    "-DINFERLOOP_PYTHON_XGB17=$(inferloop_venv_python "$INFERLOOP_VENV_XGB17")"
    "-DINFERLOOP_PYTHON_KSERVE=$(inferloop_venv_python "$INFERLOOP_VENV_KSERVE")"
    # Explicit, not the defaults: scripts/demo configures build/ with these OFF,
    # and a cached OFF would silently drop the CLI, example and benchmark builds
    # and their tests from a test run.
    -DINFERLOOP_BUILD_CLI=ON -DINFERLOOP_BUILD_EXAMPLES=ON -DINFERLOOP_BUILD_BENCHMARKS=ON
    # The Python package's module, built against $INFERLOOP_VENV's python
    # (nanobind from that venv); its tests have the label python.
    -DINFERLOOP_BUILD_PYTHON=ON
  )
  # LightGBMPredictor: the headers of the venv's lightgbm (scripts/bootstrap
  # fetches them) and the wheel's C library it loads by default.
  local lightgbm_include lightgbm_library
  if lightgbm_include="$(inferloop_venv_lightgbm_include "$INFERLOOP_VENV")" &&
    lightgbm_library="$(inferloop_wheel_liblightgbm "$INFERLOOP_VENV")" &&
    [[ -f "$lightgbm_include/LightGBM/c_api.h" ]]; then
    INFERLOOP_COMMON_OPTIONS+=("-DINFERLOOP_LIGHTGBM_INCLUDE_DIR=$lightgbm_include"
      "-DINFERLOOP_LIGHTGBM_LIBRARY=$lightgbm_library")
  fi
  # Through ccache (scripts/bootstrap installs it), so that a second tree with
  # the same compiler and flags, build-xgb-current/ beside build/, reuses the
  # first one's objects instead of compiling everything again.
  if command -v ccache >/dev/null 2>&1; then
    INFERLOOP_COMMON_OPTIONS+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
}

# ccache keys: paths under the checkout taken relative to the build folder, and
# the folder itself left out, so that build/ and build-xgb-current/ share hits.
export CCACHE_BASEDIR="$INFERLOOP_ROOT" CCACHE_NOHASHDIR=1

# The clang AddressSanitizer + UndefinedBehaviorSanitizer tree: scripts/test
# runs the unit and fuzz tests there and scripts/fuzz fuzzes there, so the
# libFuzzer targets and the sanitized tests share one compilation. Empty
# INFERLOOP_XGBOOST_LIBRARY: the system libxgboost, whatever a cache held.
INFERLOOP_ASAN_TREE_OPTIONS=(
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
  -DINFERLOOP_SANITIZE=address,undefined -DINFERLOOP_BUILD_FUZZERS=ON
  -DINFERLOOP_DEBUG_CHECKS=ON -DINFERLOOP_XGBOOST_LIBRARY=
  -DINFERLOOP_BUILD_CLI=OFF -DINFERLOOP_BUILD_EXAMPLES=OFF -DINFERLOOP_BUILD_BENCHMARKS=OFF
  -DINFERLOOP_BUILD_PYTHON=OFF
)

# inferloop_configure_asan_tree DIR
inferloop_configure_asan_tree() {
  inferloop_common_options
  inferloop_run cmake -S "$INFERLOOP_ROOT" -B "$1" "${INFERLOOP_COMMON_OPTIONS[@]}" \
    "${INFERLOOP_ASAN_TREE_OPTIONS[@]}"
}
