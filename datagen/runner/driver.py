"""The driver: plan shards, skip the done ones, run the rest (Ray or in-process), write ``dataset.json``."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from omegaconf import DictConfig

from datagen.runner.config import ConfigError, check_config, config_hash, to_plain
from datagen.runner.execute import Progress, connect, run_local, run_ray
from datagen.runner.generator import load_generator
from datagen.runner.shards import ShardJob, plan_shards
from datagen.dataset.store import SHARD_RE, SUMMARY, TMP_MARK, LockedError, Store, shard_name
from datagen.runner.summary import ATTRIBUTION, attribution, build_summary


@dataclass
class RunResult:
    out: str
    summary: dict
    made: list[int] = field(default_factory=list)     # shards made (or attempted) by this run
    skipped: list[int] = field(default_factory=list)  # shards that were already done

    @property
    def failures(self) -> list[dict]:
        return self.summary["failures"]

    @property
    def ok(self) -> bool:
        return not self.failures


def run(cfg: DictConfig | dict) -> RunResult:
    """Make every sample of the run described by ``cfg`` (see ``configs/datagen/base.yaml``) that is not
    already in ``cfg.out``. Raises ConfigError for bad configs; sample failures are in the result."""
    plain = to_plain(cfg)
    check_config(plain)
    runner = plain["runner"]
    _check_render_device(plain)
    try:
        gen = load_generator(plain["generator"])
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if gen.check_config is not None:
        from omegaconf import OmegaConf
        try:
            gen.check_config(OmegaConf.create(plain))
        except (ValueError, FileNotFoundError) as e:
            raise ConfigError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    store = Store(plain["out"])
    if runner["mode"] == "ray" and store.is_memory:
        raise ConfigError("out=memory://... lives in one process; use runner.mode=local with it")
    try:
        with store.lock():
            return _run_locked(plain, runner, gen, store)
    except LockedError as e:
        raise ConfigError(str(e)) from None


def _run_locked(plain: dict, runner: dict, gen, store: Store) -> "RunResult":
    """The run itself, with the output locked against a second run."""
    chash = config_hash(plain)
    plan = plan_shards(plain["num_samples"], plain["samples_per_shard"])
    done, todo = _scan(store, plan, chash)
    run_info = {"mode": runner["mode"], "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "shards_skipped": len(done), "shards_to_make": len(todo)}
    store.write_json(SUMMARY, build_summary(status="running", plain=plain, config_hash=chash, gen=gen, plan=plan,
                                            stats=done, task_failures=[], run_info=run_info))
    jobs = [ShardJob(shard=s, start=a, stop=b, out=plain["out"], generator=gen.name, config=plain,
                     config_hash=chash, cpus=int(runner["cpus_per_task"]),
                     sample_retries=int(runner["sample_retries"]), reuse=reuse,
                     sample_timeout_s=runner.get("sample_timeout_s")) for s, a, b, reuse in todo]
    stats, task_failures = dict(done), []

    def on_done(job: ShardJob, shard_stats: dict) -> None:
        stats[job.shard] = shard_stats

    def on_fail(job: ShardJob, error: str) -> None:
        task_failures.append({"shard": job.shard, "tar": job.tar_name, "indices": [job.start, job.stop - 1],
                              "error": f"task failed after {runner['retries']} retries: {error}"})

    progress = Progress(total=plan[-1][2], initial=sum(s["num_written"] for s in done.values()),
                        enabled=bool(runner.get("progress", True)))
    started = time.perf_counter()
    try:
        if jobs and runner["mode"] == "ray":
            run_info["ray"] = connect(runner)
            run_info["connect_s"] = round(time.perf_counter() - started, 3)
            started = time.perf_counter()
            run_ray(jobs, runner, progress, on_done, on_fail)
        elif jobs:
            run_local(jobs, progress, on_done, on_fail)
    finally:
        progress.close()
    wall = time.perf_counter() - started  # making shards only (not connecting to Ray)
    made = sum(stats[j.shard]["num_written"] - stats[j.shard]["num_reused"] for j in jobs if j.shard in stats)
    run_info.update(wall_s=round(wall, 3), samples_made=made, samples_per_s=round(made / wall, 4) if wall else None)
    _remove_leftovers(store)
    failed = task_failures or any(s["status"] != "ok" for s in stats.values())
    summary = build_summary(status="failed" if failed else "complete", plain=plain, config_hash=chash, gen=gen,
                            plan=plan, stats=stats, task_failures=task_failures, run_info=run_info)
    store.write_json(SUMMARY, summary)
    if gen.credits is not None:
        store.write_bytes(ATTRIBUTION, attribution(summary).encode())
    return RunResult(out=plain["out"], summary=summary, made=[j.shard for j in jobs],
                     skipped=sorted(done))


def _check_render_device(plain: dict) -> None:
    """``render.device=cuda|optix`` where there is no such GPU fails here, in one line, before any work:
    in-process runs ask Cycles on this machine, Ray runs ask the cluster for GPU resources."""
    render, runner = plain.get("render") or {}, plain["runner"]
    device = render.get("device", "cpu")
    if device == "cpu":
        return
    if runner["mode"] == "local":
        from datagen.scene.devices import DeviceError, check

        try:
            check(device, tuple(render.get("gpus") or ()))
        except DeviceError as e:
            raise ConfigError(str(e)) from None
        return
    import ray

    connect(runner)
    if not ray.cluster_resources().get("GPU"):
        raise ConfigError(f"render.device={device}: the Ray cluster has no GPUs (add a GPU node type, see "
                          "docs/scaling.md, or use render.device=cpu)")


def _scan(store: Store, plan: list, chash: str) -> tuple[dict[int, dict], list[tuple]]:
    """Stats of the shards already done, and ``(shard, start, stop, reusable indices)`` of the others.
    A shard is done when its stats say ``ok`` and its tar has the size the stats record."""
    listing = store.listing()
    if SUMMARY in listing:
        previous = store.read_json(SUMMARY).get("config_hash")
        if previous != chash:
            raise ConfigError(f"{store.url} holds a dataset made with another data config (config_hash "
                              f"{previous} != {chash}); use a new out= or delete it")
    names = [n for n in listing if (m := SHARD_RE.match(n)) and m.group(2) == "stats.json"]
    blobs = store.fs.cat([store.path(n) for n in names]) if names else {}  # concurrent on object stores
    blobs = {path.rsplit("/", 1)[-1]: data for path, data in blobs.items()}
    existing = {}
    for name in names:
        s = json.loads(blobs[name])
        if s.get("config_hash") != chash:
            raise ConfigError(f"{store.full_url(name)} was made with another data config; use a new out= "
                              "or delete the old shards")
        existing[s["shard"]] = s
    done, todo = {}, []
    for shard, start, stop in plan:
        s = existing.get(shard)
        tar_ok = s is not None and listing.get(f"{shard_name(shard)}.tar") == s.get("bytes")
        if tar_ok and s["status"] == "ok":
            done[shard] = s
            continue
        reuse = ()
        if tar_ok:
            failed = {f["index"] for f in s.get("failed", [])}
            reuse = tuple(i for i in range(start, stop) if i not in failed)
        todo.append((shard, start, stop, reuse))
    return done, todo


def _remove_leftovers(store: Store) -> None:
    """Temporary files of attempts that died (a worker killed mid-shard). Assumes one run per ``out``."""
    for name in store.listing():
        if TMP_MARK in name:
            store.remove(name)


def report(result: RunResult) -> int:
    """Print the outcome (one line per failure) and return the process exit code (0 ok, 1 failures)."""
    s = result.summary
    c, r = s["counts"], s["run"]
    rate = f", {r['samples_per_s']:.3g} samples/s" if r.get("samples_per_s") else ""
    print(f"{s['generator']}: {c['written_samples']}/{c['planned_samples']} samples in {c['planned_shards']} "
          f"shards at {result.out} (made {len(result.made)} shards, {len(result.skipped)} already done{rate})")
    for f in result.failures:
        if "index" in f:
            where = f" [{f['where']}]" if f.get("where") else ""
            print(f"FAILED {f['tar']} sample {f['index']} (key {f['key']}): {f['error']}{where}")
        else:
            first, last = f["indices"]
            print(f"FAILED {f['tar']} samples {first}-{last}: {f['error']}")
    if result.failures:
        print(f"{c['failed_samples']} samples failed; rerun the same command to retry only them")
        return 1
    return 0
