"""``dataset.json``: what a run made and how — config, versions, git commit, counts, failures, timings."""
from __future__ import annotations

import importlib.metadata
import platform
import socket
import subprocess
import time

from datagen.core.paths import REPO_ROOT
from datagen.runner.generator import Generator
from datagen.dataset.sample_io import INFO, INFO_MEMBER
from datagen.core.timing import TimingTotals

FORMAT = "counterfactory-shards/1"
PACKAGES = ("counterfactory", "numpy", "ray", "webdataset", "fsspec", "hydra-core", "omegaconf",
            "imageio-ffmpeg", "bpy", "kubric-nightly", "pybullet", "torch")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    try:
        import imageio_ffmpeg

        versions["ffmpeg"] = imageio_ffmpeg.get_ffmpeg_version()
    except Exception:
        pass
    return versions


def git_state() -> dict:
    """Commit and dirtiness of the project checkout (``None`` when it is not a git work tree)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except Exception:
        return {"commit": None, "dirty": None}


def build_summary(*, status: str, plain: dict, config_hash: str, gen: Generator, plan: list,
                  stats: dict[int, dict], task_failures: list[dict], run_info: dict) -> dict:
    """The run summary. ``stats`` holds the stats of every shard that has them (from this run or
    earlier ones), ``task_failures`` the shards whose task failed outright in this run."""
    timings = TimingTotals()
    member_bytes: dict[str, int] = {}
    failures = []
    for shard in sorted(stats):
        s = stats[shard]
        timings.merge(s.get("timings", {}))
        for fname, size in s.get("member_bytes", {}).items():
            member_bytes[fname] = member_bytes.get(fname, 0) + size
        failures += [{"shard": shard, "tar": s["tar"], **f} for f in s.get("failed", [])]
    for f in task_failures:
        failures.append(f)
    written = sum(s["num_written"] for s in stats.values())
    planned = sum(stop - start for _, start, stop in plan)
    return {
        "format": FORMAT,
        "status": status,
        "generator": gen.name,
        "config": plain,
        "config_hash": config_hash,
        "schema": {INFO: INFO_MEMBER.describe(), **{n: m.describe() for n, m in gen.schema.items()}},
        "versions": package_versions(),
        "git": git_state(),
        "host": socket.gethostname(),
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": {
            "planned_samples": planned, "written_samples": written, "failed_samples": planned - written
            if status != "running" else None,
            "planned_shards": len(plan), "done_shards": sum(s["status"] == "ok" for s in stats.values()),
            "partial_shards": sum(s["status"] != "ok" for s in stats.values()),
            "failed_tasks": len(task_failures),
        },
        "failures": failures,
        "run": run_info,
        "timings": timings.to_json(),
        "member_bytes": dict(sorted(member_bytes.items())),
        "shards": [{"tar": stats[s]["tar"], "status": stats[s]["status"], "samples": stats[s]["num_written"],
                    "bytes": stats[s]["bytes"], "sha256": stats[s]["sha256"]} for s in sorted(stats)],
    }
