"""The fault suite: what each fault costs a run, in samples and seconds.

    python benchmarks/faults.py [--samples 12] [--per-shard 3] [--sleep 0.3]

Faults (toy generator, a local Ray with 2 CPUs; node removal on a 3-raylet ray.cluster_utils.Cluster):
  kill -9     a worker process dies in the middle of a shard (Ray retries the task, the rest is reused)
  node        a worker node of a 2-worker cluster is removed mid-run
  corrupt     a finished shard is truncated; the same command is run again
  disk full   a sample hits "no space left on device" once (retried inside its task)
  hang        a sample never returns (runner.sample_timeout_s ends it; it is recorded failed with its seed)
Per fault: samples planned, written, recorded as failed (a rerun retries them), lost (neither written nor
recorded) and duplicated, and the recovery time (the run's wall time minus a clean run's, after a warm-up
run; for "corrupt", the rerun's whole time; small negative values are noise of a 2-core machine).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import ray

from datagen.core.cli import command
from datagen.runner import load_config, run


def keys(out: Path) -> list[str]:
    found = []
    for p in sorted(out.glob("shard-*.tar")):
        with tarfile.open(p) as tar:
            found += sorted({n.split(".")[0] for n in tar.getnames()})
    return found


def config(out: Path, a, *extra):
    return load_config("toy_shapes", [f"out={out}", f"num_samples={a.samples}", f"samples_per_shard={a.per_shard}",
                                      "runner.mode=ray", "runner.progress=false", "runner.retries=4",
                                      f"debug.sleep_s={a.sleep}", *extra])


def tally(out: Path, a, result) -> dict:
    found = keys(out)
    failed = {f["index"] for f in result.failures if "index" in f}
    written = set(found)
    planned = {f"{i:08d}" for i in range(a.samples)}
    return {"planned": a.samples, "written": len(written), "failed": len(failed),
            "lost": len(planned - written - {f"{i:08d}" for i in failed}), "duplicated": len(found) - len(written)}


def timed(fn) -> tuple[object, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


@command
def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=12)
    p.add_argument("--per-shard", type=int, default=3)
    p.add_argument("--sleep", type=float, default=0.3, help="extra seconds per sample (faults strike mid-run)")
    a = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cf-faults-") as tmp:
        tmp = Path(tmp)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        run(config(tmp / "warm-up", a))  # worker processes and imports warm, so the clean time is fair
        clean, base = timed(lambda: run(config(tmp / "clean", a)))
        rows.append(("none (clean run)", tally(tmp / "clean", a, clean), 0.0))
        marker = tmp / "crashed"
        r, t = timed(lambda: run(config(tmp / "kill", a, "debug.crash_once_index=4", f"debug.crash_marker={marker}")))
        rows.append(("kill -9 a worker mid-shard", tally(tmp / "kill", a, r), t - base))
        r = run(config(tmp / "corrupt", a))
        shard = tmp / "corrupt" / "shard-000001.tar"
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 3])
        r, t = timed(lambda: run(config(tmp / "corrupt", a)))
        rows.append(("corrupt a shard, rerun", tally(tmp / "corrupt", a, r), t))
        r, t = timed(lambda: run(config(tmp / "enospc", a, "debug.enospc_once_index=2",
                                        f"debug.crash_marker={tmp / 'enospc-marker'}")))
        rows.append(("temp dir full once", tally(tmp / "enospc", a, r), t - base))
        r, t = timed(lambda: run(config(tmp / "hang", a, "debug.hang_indices=[5]", "runner.sample_timeout_s=3")))
        rows.append(("hang a sample (timeout 3 s)", tally(tmp / "hang", a, r), t - base))
        ray.shutdown()
        rows.append(("remove a worker node", *node_removal(tmp / "node", a, base)))
    print(f"{a.samples} samples in shards of {a.per_shard}, +{a.sleep} s each; clean run {base:.1f} s")
    print(f"{'fault':<30} planned written failed lost duplicated recovery_s")
    for name, tl, rec in rows:
        print(f"{name:<30} {tl['planned']:7d} {tl['written']:7d} {tl['failed']:6d} {tl['lost']:4d} "
              f"{tl['duplicated']:10d} {rec:10.1f}")


def node_removal(out: Path, a, base: float):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    try:
        env = {**os.environ, "RAY_ADDRESS": cluster.address}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "datagen/toy_shapes.py", f"out={out}", f"num_samples={a.samples}",
                                 f"samples_per_shard={a.per_shard}", "runner.progress=false", "runner.retries=4",
                                 f"debug.sleep_s={a.sleep}"], cwd=Path(__file__).resolve().parents[1], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def remove():
            while proc.poll() is None and not list(out.glob("shard-*.stats.json")):
                time.sleep(0.1)
            cluster.remove_node(workers[1])
        threading.Thread(target=remove, daemon=True).start()
        proc.communicate(timeout=900)
        wall = time.perf_counter() - t0
        summary = json.loads((out / "dataset.json").read_text())
        found = keys(out)
        failed = {f["index"] for f in summary["failures"] if "index" in f}
        lost = a.samples - len(set(found)) - len(failed)
        return ({"planned": a.samples, "written": len(set(found)), "failed": len(failed), "lost": lost,
                 "duplicated": len(found) - len(set(found))}, wall - base)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
