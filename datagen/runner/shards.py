"""Shards: the unit of work. A shard is a contiguous range of sample indices; making it means making
each sample from its derived seed, writing a WebDataset tar under a temporary name, renaming it into
place, and writing its stats file last (the stats file marks the shard done)."""
from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

from datagen.runner.config import task_config
from datagen.runner.generator import Generator, load_generator
from datagen.dataset.sample_io import (DEFAULT_PRESET, HashingWriter, encode_sample, iter_tar, key_index,
                                      sample_key, tar_writer)
from datagen.core.seeds import derive_seed
from datagen.dataset.store import Store, shard_name
from datagen.core.timing import TimingTotals, collect

Report = Callable[[int, int, "int | None"], None]  # (shard, samples finished, index in progress)


@dataclass(frozen=True)
class ShardJob:
    """Everything a task needs to make one shard (picklable, small)."""
    shard: int
    start: int
    stop: int
    out: str
    generator: str
    config: dict
    config_hash: str
    cpus: int = 1
    sample_retries: int = 1
    reuse: tuple[int, ...] = field(default=())  # indices whose bytes an earlier partial run already wrote
    sample_timeout_s: float | None = None  # Ray mode: a sample running longer ends its worker (execute.py)

    @property
    def name(self) -> str:
        return shard_name(self.shard)

    @property
    def tar_name(self) -> str:
        return f"{self.name}.tar"

    @property
    def stats_name(self) -> str:
        return f"{self.name}.stats.json"

    @property
    def num_samples(self) -> int:
        return self.stop - self.start


def plan_shards(num_samples: int, samples_per_shard: int) -> list[tuple[int, int, int]]:
    """``(shard, first index, stop index)`` for every shard of a run."""
    return [(s, start, min(start + samples_per_shard, num_samples))
            for s, start in enumerate(range(0, num_samples, samples_per_shard))]


def make_shard(job: ShardJob, report: Report | None = None, deaths: dict[int, int] | None = None,
               death_reasons: dict[int, str] | None = None) -> dict:
    """Make, write and publish one shard; return its stats (also written as ``<shard>.stats.json``).

    A sample whose ``make_sample`` (or encoding) raises is retried ``job.sample_retries`` times and then
    recorded in the stats' ``failed`` list; the shard is then ``partial`` and a rerun redoes only those
    samples. So is a sample during which earlier attempts of this task died more than
    ``job.sample_retries`` times (``deaths``: index -> count, kept by the Ray driver), so that one
    sample that crashes its process (a renderer segfault) does not take its shard down.
    Anything else that raises (I/O) propagates so that Ray retries the whole task.
    """
    started = time.time()
    gen = load_generator(job.generator)
    cfg = task_config(job.config, job.cpus)
    io_cfg = job.config.get("io") or {}
    encode_opts = dict(fps=float(job.config["render"]["fps"]), crf=io_cfg.get("video_crf"),
                       preset=io_cfg.get("video_preset") or DEFAULT_PRESET)
    store = Store(job.out)
    reused = _reusable_samples(store, job, gen) if job.reuse else {}
    store.remove(job.stats_name)  # from here on the shard is not done until its new stats exist
    store.fs.makedirs(store.root, exist_ok=True)

    totals, failures, member_bytes, num_reused, credits = TimingTotals(), [], {}, 0, {}
    tmp = store.tmp_path(job.tar_name)
    try:
        with store.fs.open(tmp, "wb") as raw:
            sink = HashingWriter(raw)
            with tar_writer(sink) as tar:
                for n, index in enumerate(range(job.start, job.stop)):
                    if report:
                        report(job.shard, n, index)
                    encoded = reused.pop(index, None)
                    num_reused += encoded is not None
                    died = (deaths or {}).get(index, 0)
                    if encoded is None and died > job.sample_retries:
                        why = (death_reasons or {}).get(index) or "the worker process died while making this sample"
                        failures.append(_failure(index, derive_seed(cfg.seed, index), died, f"{why} ({died} times)"))
                        continue
                    if encoded is None:
                        encoded, failure = _make_one(gen, cfg, index, job.sample_retries, encode_opts, totals)
                        if failure:
                            failures.append(failure)
                            continue
                    if gen.credits is not None:
                        for c in gen.credits({k: v for k, v in encoded.items() if not k.startswith("__")}):
                            credits.setdefault(c["id"], c)
                    t = time.perf_counter()
                    tar.write(encoded)
                    totals.add("write", time.perf_counter() - t)
                    for fname, data in encoded.items():
                        if not fname.startswith("__"):
                            member_bytes[fname] = member_bytes.get(fname, 0) + len(data)
        if report:
            report(job.shard, job.num_samples, None)  # no sample in progress while publishing
        t = time.perf_counter()
        store.publish(tmp, job.tar_name)
        totals.add("publish", time.perf_counter() - t)
    except BaseException:
        try:
            store.fs.rm(tmp)
        except Exception:  # the original error matters more than a leftover temporary file
            pass
        raise
    stats = {
        "shard": job.shard, "tar": job.tar_name, "status": "partial" if failures else "ok",
        "generator": job.generator, "config_hash": job.config_hash,
        "first_index": job.start, "num_planned": job.num_samples,
        "num_written": job.num_samples - len(failures), "num_reused": num_reused, "failed": failures,
        "bytes": sink.size, "sha256": sink.sha256.hexdigest(), "member_bytes": dict(sorted(member_bytes.items())),
        "timings": totals.to_json(), "wall_s": round(time.time() - started, 3),
        "credits": [credits[k] for k in sorted(credits)],
        "host": socket.gethostname(), "pid": os.getpid(), "cpus": job.cpus, "node": _ray_node(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    store.write_json(job.stats_name, stats)
    return stats


def _ray_node() -> str | None:
    """The Ray node making this shard (None in-process): which machine of a cluster wrote what."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:
        return None


def _make_one(gen: Generator, cfg, index: int, retries: int, encode_opts: dict, totals: TimingTotals):
    """``(encoded sample, None)`` or ``(None, failure record)`` after ``1 + retries`` attempts."""
    seed = derive_seed(cfg.seed, index)
    error = where = ""
    for attempt in range(1, retries + 2):
        try:
            with collect() as stages:
                t = time.perf_counter()
                sample = gen.make_sample(cfg, index, seed)
                stages["make_sample"] = time.perf_counter() - t
                t = time.perf_counter()
                encoded = encode_sample(sample, gen.schema, index, seed, **encode_opts)
                stages["encode"] = time.perf_counter() - t
            totals.add_sample(stages)
            return encoded, None
        except Exception as e:
            error = f"{type(e).__name__}: {e}".strip().splitlines()[0][:500]
            last = traceback.extract_tb(e.__traceback__)[-1:]
            where = f"{os.path.basename(last[0].filename)}:{last[0].lineno} in {last[0].name}" if last else ""
    return None, _failure(index, seed, retries + 1, error, where)


def _failure(index: int, seed: int, attempts: int, error: str, where: str = "") -> dict:
    """A failed sample as recorded in the stats file."""
    return {"index": index, "key": sample_key(index), "seed": seed, "attempts": attempts, "error": error,
            "where": where}


def _reusable_samples(store: Store, job: ShardJob, gen: Generator) -> dict[int, dict]:
    """Samples an earlier partial run of this shard wrote and that still match the schema; a damaged
    tar just means regenerating more."""
    wanted = set(job.reuse)
    exts = {f"{name}.{m.ext}" for name, m in gen.schema.items()} | {"info.json"}
    found: dict[int, dict] = {}
    try:
        with store.fs.open(store.path(job.tar_name), "rb") as f:
            for key, files in iter_tar(f):
                index = key_index(key)
                if index in wanted and set(files) == exts:
                    found[index] = {"__key__": key, **files}
    except Exception:
        pass
    return found
