#!/usr/bin/env python3
"""Writes scripts/gpu-check's summary: OUT/summary.json and OUT/summary.md.

Reads what the run left in OUT (agreement.json from gpu_agreement,
bench.json from gpu_bench, the tail of build.log) and the statuses
scripts/gpu-check passes in. Exits 0 only when the build succeeded, both
programs exited 0, and gpu_agreement compared outputs and none differed:
a run that compared nothing is a failure, not a pass.

Called only by scripts/gpu-check; standard library only (the GPU machine
has no package registry).
"""
import argparse
import json
import os
import sys


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def status_text(status):
    return {"0": "passed", "skipped": "not run"}.get(status, f"failed (exit {status})")


def bench_table(bench):
    # In a dry run the "GPU" columns are the host reference's.
    evaluator = "GPU" if bench.get("evaluator") == "cuda" else "host reference"
    rows = [f"| model | rows | CPU rows/s | {evaluator} rows/s | {evaluator} latency | speedup | "
            "differing |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for entry in bench.get("results", []):
        rows.append(f"| {entry['model']} | {entry['rows']} | {entry['cpu_rows_per_second']:.3g} | "
                    f"{entry['gpu_rows_per_second']:.3g} | {entry['gpu_seconds'] * 1e6:.1f} us | "
                    f"{entry['speedup']:.2f}x | {entry['gpu_differing']} |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["run", "dry-run"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--prepared", required=True)
    parser.add_argument("--build-status", required=True)
    parser.add_argument("--build-seconds", type=int, required=True)
    parser.add_argument("--agreement-status", required=True)
    parser.add_argument("--bench-status", required=True)
    parser.add_argument("--command", required=True)
    args = parser.parse_args()

    agreement = read_json(os.path.join(args.out, "agreement.json"))
    bench = read_json(os.path.join(args.out, "bench.json"))
    problems = []
    if args.build_status != "0":
        problems.append(f"the build failed (exit {args.build_status}): see build.log")
    if args.agreement_status != "0":
        problems.append(f"gpu_agreement {status_text(args.agreement_status)}: see run.log")
    if args.bench_status != "0":
        problems.append(f"gpu_bench {status_text(args.bench_status)}: see run.log")
    if args.build_status == "0":
        if agreement is None:
            problems.append("gpu_agreement wrote no agreement.json")
        elif agreement.get("outputs_compared", 0) == 0:
            problems.append("gpu_agreement compared no outputs")
        elif agreement.get("outputs_differing", 1) != 0:
            problems.append(f"{agreement['outputs_differing']} outputs differ from xgboost")
        if bench is None:
            problems.append("gpu_bench wrote no bench.json")

    dry = args.mode == "dry-run"
    summary = {
        "mode": args.mode,
        "gpu_used": not dry and agreement is not None and agreement.get("evaluator") == "cuda",
        "command": args.command,
        "prepared": read_json(args.prepared),
        "build": {"status": args.build_status, "seconds": args.build_seconds},
        "agreement": {k: v for k, v in (agreement or {}).items() if k != "failures"},
        "agreement_failures": (agreement or {}).get("failures", [])[:10],
        "bench": bench,
        "passed": not problems,
        "problems": problems,
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)

    lines = [f"# scripts/gpu-check {'dry run (host reference, no GPU used)' if dry else 'run'}", "",
             f"Command: `{args.command}`", "",
             f"Result: **{'passed' if not problems else 'FAILED'}**", ""]
    lines += [f"- {problem}" for problem in problems]
    lines += ["", f"Build: {status_text(args.build_status)} in {args.build_seconds} s", ""]
    if agreement is not None:
        lines += [f"Agreement on {agreement['device']}: {agreement['model_files']} model files "
                  f"(xgboost {', '.join(agreement['xgboost_versions'])}), "
                  f"{agreement['outputs_compared']} outputs in {agreement['comparisons']} batches "
                  f"of up to {agreement['largest_batch_rows']} rows, "
                  f"{agreement['outputs_differing']} differing from xgboost.", ""]
    if bench is not None:
        lines += [f"Benchmark on {bench['device']} against ForestModel on {bench['cpu_threads']} "
                  f"CPU threads (median wall time per predict() call, copies included):", "",
                  bench_table(bench), ""]
    if args.build_status != "0":
        lines += ["Build log tail:", "", "```", tail(os.path.join(args.out, "build.log")), "```"]
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
