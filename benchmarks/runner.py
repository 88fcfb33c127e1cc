"""Runner scaling benchmark: the toy generator under the runner with 1 and 2 concurrent Ray workers
on a local Ray (and in-process, for the runner's own overhead). Prints the figures and checks that 2
workers reach >= 90% of twice the 1-worker throughput (exit 1 if not).

The modes run interleaved ``--repeats`` times and the best run of each counts: on a shared machine
other processes steal CPU from some runs (the load average is printed with every run).

    .venv/bin/python benchmarks/runner.py [--samples 24] [--repeats 3] [--per-shard 4] [--spp 64] [--size 192]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ray  # noqa: E402

from datagen.core.cli import command  # noqa: E402
from datagen.runner import load_config, run  # noqa: E402


def measure(root: Path, label: str, overrides: list[str]) -> dict:
    out = root / "".join(c if c.isalnum() else "_" for c in label)
    cfg = load_config("toy_shapes", [f"out={out}", "runner.progress=false", *overrides])
    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = run(cfg)
    wall = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"{label}: run failed: {result.failures[:3]}")
    made = result.summary["run"]["samples_made"]
    timings = result.summary["timings"]
    shutil.rmtree(out)
    return {"label": label, "samples": made, "wall_s": wall, "rate": made / wall, "load": load,
            "make_s": timings["make_sample"]["mean_s"], "encode_s": timings["encode"]["mean_s"]}


MODES = {"local (in-process)": ["runner.mode=local"], "ray, 1 worker": ["runner.max_in_flight=1"],
         "ray, 2 workers": ["runner.max_in_flight=2"]}


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-shard", type=int, default=4)
    parser.add_argument("--spp", type=int, default=64)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args(argv)
    sizes = [f"render.width={args.size}", f"render.height={args.size}", f"render.frames={args.frames}",
             f"render.spp={args.spp}", f"samples_per_shard={args.per_shard}", f"num_samples={args.samples}"]
    print(f"toy_shapes {args.size}x{args.size}, {args.frames} frames, spp {args.spp}; {args.samples} samples in "
          f"shards of {args.per_shard}; machine: {os.cpu_count()} CPUs")
    print(f"{'mode':<20} {'samples':>7} {'wall s':>8} {'samples/s':>10} {'make s':>8} {'encode s':>9} {'load':>5}")
    root = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    best: dict[str, dict] = {}
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        # Warm-up: start both worker processes and import everything once.
        measure(root, "warmup", sizes + ["num_samples=4", "samples_per_shard=1", "runner.max_in_flight=2", "seed=99"])
        for _ in range(args.repeats):
            for label, overrides in MODES.items():
                r = measure(root, label, sizes + overrides)
                print(f"{r['label']:<20} {r['samples']:>7} {r['wall_s']:>8.2f} {r['rate']:>10.3f} "
                      f"{r['make_s']:>8.3f} {r['encode_s']:>9.3f} {r['load']:>5.2f}", flush=True)
                if label not in best or r["rate"] > best[label]["rate"]:
                    best[label] = r
    finally:
        ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    local, one, two = (best[label]["rate"] for label in MODES)
    efficiency = two / (2 * one)
    print(f"best of {args.repeats}: in-process {local:.3f}, 1 worker {one:.3f}, 2 workers {two:.3f} samples/s")
    print(f"2 workers / (2 x 1 worker) = {efficiency:.1%} (target >= 90%); "
          f"runner overhead at 1 worker vs in-process: {1 - one / local:+.1%}")
    return 0 if efficiency >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
