"""Check a dataset written by the runner: every sample of every shard against its generator's schema
and invariants, and every shard against its stats file.

    python -m datagen.validate PATH_OR_URL [--generator MODULE]

Prints one line per failure — a sample (all its problems on one line) or a shard-level problem
(missing, incomplete, truncated or corrupt tar, checksum mismatch, samples that failed during
generation) — then ``N passed, M failed`` (N samples passed, M failure lines), and exits 1 if M > 0,
2 (one line ``error: ...``) if PATH_OR_URL holds no dataset or names an unregistered generator. The
generator is found from ``dataset.json``; only registered generators are imported
(``datagen.dataset.generators``), and ``--generator`` may name another registered one.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Callable

from datagen.core.cli import command
from datagen.runner.config import task_config
from datagen.runner.generator import Generator, load_generator
from datagen.dataset.sample_io import (INFO, SampleError, check_value, decode_bytes, iter_tar, key_index,
                                      sample_key)
from datagen.core.seeds import derive_seed
from datagen.runner.shards import plan_shards
from datagen.dataset.store import SHARD_RE, SUMMARY, Store, shard_name


class DatasetError(ValueError):
    """PATH_OR_URL is not a runner output (nothing to validate)."""


class _HashingReader:
    def __init__(self, fileobj):
        self.fileobj, self.sha256, self.size = fileobj, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.fileobj.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class Validator:
    def __init__(self, url: str, generator: str | None = None, emit: Callable[[str], None] = print):
        self.store, self.emit = Store(url), emit
        self.listing = self.store.listing()
        if SUMMARY not in self.listing:
            raise DatasetError(f"no {SUMMARY} under {url}: not a dataset written by datagen.runner")
        self.summary = self.store.read_json(SUMMARY)
        if not isinstance(self.summary, dict) or not isinstance(self.summary.get("config"), dict):
            raise DatasetError(f"{url}: {SUMMARY} has no 'config' object: not a dataset written by datagen.runner")
        self.gen: Generator = load_generator(generator or self.summary.get("generator"))
        self.plain = self.summary["config"]
        self.cfg = task_config(self.plain, threads=1)
        self.exts = {f"{n}.{m.ext}": (n, m) for n, m in self.gen.schema.items()}
        self.passed = self.failed = 0
        self.seen: set[str] = set()

    def fail(self, where: str, message: str) -> None:
        self.failed += 1
        self.emit(f"{where}: {message}")

    def run(self) -> tuple[int, int]:
        plan = plan_shards(self.plain["num_samples"], self.plain["samples_per_shard"])
        planned = {f"{shard_name(s)}.{suffix}" for s, _, _ in plan for suffix in ("tar", "stats.json")}
        for name in sorted(self.listing):
            if SHARD_RE.match(name) and name not in planned:
                self.fail(name, "not part of the planned dataset (num_samples/samples_per_shard changed?)")
        for shard, start, stop in plan:
            self.check_shard(shard, start, stop)
        return self.passed, self.failed

    def check_shard(self, shard: int, start: int, stop: int) -> None:
        tar, stats_name = f"{shard_name(shard)}.tar", f"{shard_name(shard)}.stats.json"
        stats = None
        if stats_name in self.listing:
            try:
                stats = self.store.read_json(stats_name)
            except Exception as e:
                self.fail(stats_name, f"unreadable stats file: {type(e).__name__}: {e}")
        if tar not in self.listing:
            self.fail(tar, f"missing (samples {start}-{stop - 1})")
            return
        expected = set(range(start, stop))
        if stats is None:
            self.fail(tar, "no stats file: the shard is incomplete (rerun the generator)")
        else:
            if stats.get("config_hash") != self.summary.get("config_hash"):
                self.fail(stats_name, "made with another data config than dataset.json records")
            for f in stats.get("failed", []):
                self.fail(f"{tar} {f['key']}", f"failed during generation: {f['error']}")
                expected.discard(f["index"])
        seen_here: set[int] = set()
        try:
            with self.store.fs.open(self.store.path(tar), "rb") as raw:
                reader = _HashingReader(raw)
                for key, files in iter_tar(reader):
                    index = key_index(key)
                    if index is not None:
                        seen_here.add(index)
                    self.check_sample(tar, key, index, files, start, stop)
                reader.drain()
        except Exception as e:  # truncated or corrupt tar: report and go on with the next shard
            self.fail(tar, f"corrupt or truncated tar: {type(e).__name__}: {e}")
            return
        if stats is not None and (reader.size, reader.sha256.hexdigest()) != (stats.get("bytes"), stats.get("sha256")):
            self.fail(tar, "size or sha256 differs from its stats file (changed after it was written)")
        for index in sorted(expected - seen_here):
            self.fail(f"{tar} {sample_key(index)}", "missing from the shard")

    def check_sample(self, tar: str, key: str, index: int | None, files: dict, start: int, stop: int) -> None:
        errors = []
        if index is None or not start <= index < stop:
            errors.append(f"key outside this shard's samples {start}-{stop - 1}")
        if key in self.seen:
            errors.append("duplicate key")
        self.seen.add(key)
        errors += [f"{fname.split('.')[0]}: missing member" for fname in self.exts if fname not in files]
        errors += [f"{fname}: unexpected file" for fname in files if fname not in self.exts and fname != f"{INFO}.json"]
        sample = {}
        for fname, data in files.items():
            name, _, ext = fname.partition(".")
            try:
                sample[name] = decode_bytes(ext, data)
            except SampleError as e:
                errors.append(f"{name}: {e}")
        for fname, (name, member) in self.exts.items():
            if name in sample:
                errors += check_value(name, member, sample[name])
        errors += self.check_info(sample.get(INFO), index)
        if not errors:
            for invariant in self.gen.invariants:
                try:
                    errors += list(invariant(sample, self.cfg))
                except Exception as e:
                    errors.append(f"invariant {getattr(invariant, '__name__', invariant)} raised "
                                  f"{type(e).__name__}: {e}")
        if errors:
            self.fail(f"{tar} {key}", "; ".join(errors))
        else:
            self.passed += 1

    def check_info(self, info, index: int | None) -> list[str]:
        if not isinstance(info, dict):
            return [f"{INFO}: missing or not a JSON object"]
        expected = (index, derive_seed(self.plain["seed"], index)) if index is not None else None
        if expected and (info.get("index"), info.get("seed")) != expected:
            return [f"{INFO}: index/seed {info.get('index')}/{info.get('seed')} do not match key {index} and run seed"]
        return []


def validate(url: str, generator: str | None = None, emit: Callable[[str], None] = print) -> tuple[int, int]:
    """``(passed, failed)`` for the dataset at ``url``; one ``emit`` call per failure."""
    return Validator(url, generator, emit).run()


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datagen.validate", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", metavar="PATH_OR_URL", help="dataset directory or fsspec URL (s3://, gs://, ...)")
    parser.add_argument("--generator", help="generator module (default: the one dataset.json names)")
    args = parser.parse_args(argv)
    passed, failed = validate(args.url, args.generator)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
