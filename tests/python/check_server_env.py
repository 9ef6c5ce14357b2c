#!/usr/bin/env python3
"""Checks the environment of every server a test fixture started, read back
from /proc: each process of each server's process group must carry the
settings of scripts/server_env.py (telemetry, usage stats and job workers
off), so that nothing a test starts talks to anything but loopback.

  check_server_env.py --state WORK/state.json [--state ...]

A state file is the one tests/python/mlflow_fixtures.py or
remote_fixtures.py writes: a top-level "pgid" (the MLflow tracking server)
and/or "servers": {name: {"pgid": ...}}. Exits 1 naming every process that
lacks a setting, or a server with no process to check.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from server_env import offline_problems  # noqa: E402


def process_group_members(pgid):
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def environment_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        raw = f.read()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def title_rewritten(pid):
    """Whether `pid` wrote a new title over its command line (setproctitle pads
    it with NUL bytes; a command line of real arguments has no such run)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"\0\0\0\0" in f.read()
    except OSError:
        return False


def describe(pid):
    """Parent pid and command line of `pid`, for a failure message."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "(gone)"
    parent = stat[stat.rfind(")") + 2:].split()[1]
    return f"(parent {parent}: {command[:200]})"


def servers_in(state):
    if state.get("pgid"):
        yield "mlflow tracking server", state["pgid"]
    for name, server in state.get("servers", {}).items():
        yield name, server.get("pgid")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", action="append", required=True)
    args = parser.parse_args()
    failures = []
    checked = 0
    for path in args.state:
        with open(path) as f:
            state = json.load(f)
        servers = list(servers_in(state))
        if not servers:
            failures.append(f"{path}: names no server")
        for name, pgid in servers:
            members = process_group_members(pgid) if pgid else []
            if not members:
                failures.append(f"{name}: no running process in its group {pgid}")
            checked_before = checked
            for pid in members:
                try:
                    environ = environment_of(pid)
                except OSError as error:  # exited meanwhile
                    print(f"{name}: process {pid} gone ({error})")
                    continue
                if title_rewritten(pid) or "PATH" not in environ:
                    # A process that rewrote its title over its argument and
                    # environment block (setproctitle: Ray's ray::DashboardAgent,
                    # ray::RuntimeEnvAgent) shows in /proc only what the title
                    # left of the environment, a different part from run to run
                    # (the order of the variables changes): its parent, checked
                    # too, passed the whole environment on.
                    print(f"{name}: process {pid} {describe(pid)}: retitled, its environment "
                          "is not readable from /proc, skipped")
                    continue
                problems = offline_problems(environ)
                checked += 1
                for problem in problems:
                    failures.append(f"{name}: process {pid} {describe(pid)}: {problem}")
            if members and checked == checked_before:
                failures.append(f"{name}: no process whose environment could be read")
    for failure in failures:
        print("FAIL:", failure)
    print(f"{checked} server processes checked, {len(failures)} failures")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
