"""What the CLI checks against the test tracking server share
(resolve_cli_check.py, best_run_cli_check.py): their arguments and running
the CLI with its exit status and output."""
import argparse
import subprocess


def parse_check_args(description):
    """--inferloop (the CLI), --work (the server fixture's folder), --cache (emptied by the caller)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--inferloop", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--cache", required=True)
    return parser.parse_args()


def run(cmd):
    """Exit status and stdout + stderr of `cmd` (at most 120 s)."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr
