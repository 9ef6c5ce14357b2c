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
