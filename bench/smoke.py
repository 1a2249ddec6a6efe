"""Smoke-run cost per arch: `python train.py arch=<a> trainer.max_steps=6` with and without the end metrics.

    python bench/smoke.py                          # every arch, both ways, one after the other
    python bench/smoke.py --archs dcgan,resnet --threads 1

"after" is the command as a user types it: a smoke run stopped by `trainer.max_steps` skips the end-of-run
metrics with one line. "before" adds `metrics.at_end=true`, which is what every such run did until issue 23:
the full end evaluation (5,000 samples against the bundled digits for MNIST). Each row prints the wall and
CPU seconds (user + system of the child, from its rusage, which a shared machine's load changes far less than
the wall time) and the evaluation's own "took ... s (...)" line from train.log. `--n-samples N` runs "before"
with N samples instead of the default, for the nets whose 5,000 samples cost too much to measure: the row then
says so, and the generate and features parts scale linearly in the number of samples.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

# arch -> what else its smoke run needs (mlp trains on a 2-D toy, began needs its loss)
EXTRA = {"mlp": ["dataset=ring"], "began": ["loss=began"]}
ARCHS = ("dcgan", "sndcgan", "mlp", "resnet", "resnet19", "sagan", "selfmod", "biggan", "stylegan", "stylegan2",
         "r3gan", "pggan", "began")


def run(arch: str, out: Path, before: bool, threads: int, n_samples: int | None) -> dict:
    """One smoke run in a child process: wall and CPU seconds, exit status, the end evaluation's line."""
    folder = out / f"{arch}-{'before' if before else 'after'}"
    args = [sys.executable, "train.py", f"arch={arch}", *EXTRA.get(arch, []), "trainer.max_steps=6",
            f"hydra.run.dir={folder}"]
    if before:
        args.append("metrics.at_end=true")
        if n_samples:
            args.append(f"metrics.n_samples={n_samples}")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "WANDB_MODE": "disabled"}
    start_usage, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - start_usage.ru_utime - start_usage.ru_stime
    log = (folder / "train.log").read_text() if (folder / "train.log").exists() else ""
    took = re.findall(r"took [^)]*\)", log)
    skipped = "metrics: skipped" in done.stdout + done.stderr + log
    return {"arch": arch, "way": "before" if before else "after", "wall_s": time.time() - start, "cpu_s": cpu,
            "rc": done.returncode, "eval": took[-1] if took else ("skipped, one line" if skipped else "none"),
            "n_samples": n_samples if before and n_samples else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each run")
    parser.add_argument("--n-samples", default="", help="arch:N pairs for 'before' runs with N samples, e.g. "
                        "stylegan2:500,r3gan:500 (the rest use the default)")
    parser.add_argument("--out", default="outputs/bench_smoke")
    args = parser.parse_args()
    reduced = dict(pair.split(":") for pair in args.n_samples.split(",") if pair)
    print("| arch | after: wall s | CPU s | before: wall s | CPU s | the end evaluation (before) |", flush=True)
    print("|---|---|---|---|---|---|", flush=True)
    for arch in args.archs.split(","):
        after = run(arch, Path(args.out), False, args.threads, None)
        before = run(arch, Path(args.out), True, args.threads, int(reduced[arch]) if arch in reduced else None)
        note = before["eval"] + (f"; {before['n_samples']} samples, not 5,000" if before["n_samples"] else "")
        failed = [f"{r['way']} exit {r['rc']}" for r in (after, before) if r["rc"]]
        print(f"| {arch} | {after['wall_s']:.1f} | {after['cpu_s']:.1f} | {before['wall_s']:.1f} | "
              f"{before['cpu_s']:.1f} | {note}{'; ' + ', '.join(failed) if failed else ''} |", flush=True)


if __name__ == "__main__":
    main()
