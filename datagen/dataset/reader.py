"""The one reader of a dataset's shards (local path or fsspec URL), used by the dataset tools (preview,
audit, export, validate's tar checks), by ``training/core/clips.py`` and by ``training/precompute.py``.

    from datagen.dataset.reader import open_dataset
    ds = open_dataset("s3://bucket/toy", members=("video", "mask"), decode="torch", shuffle=256, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=4)

    from datagen.dataset.reader import iter_samples
    for sample in iter_samples("s3://bucket/toy", limit=8): ...   # the tools: every sample, shard order

One definition of the order: every epoch the shard list is reshuffled from ``(seed, epoch)``
(``epoch_shards``). With at least as many shards as ranks each rank reads its own shards (as
WebDataset's ``split_by_node``); otherwise every rank reads all shards and keeps every ``world``-th
sample, so tiny datasets still feed every rank. DataLoader workers split a rank's shards the same
way. Samples are decoded by file suffix (``datagen.dataset.sample_io``): videos to uint8 (T,H,W,3),
masks/arrays to their stored dtype, json to Python objects, text to str; ``decode="torch"`` makes
arrays tensors of the same dtype and layout, ``decode=None`` yields raw bytes. Each sample also
carries ``__key__`` and ``__url__``. Tars are read with ``sample_io.iter_tar``, which rejects
absolute or ``..`` member names and truncated data.

``SampleStream`` is the trainers' view: one rank's endless stream whose position (epoch, samples
taken) is part of every checkpoint, so a resumed run sees exactly the samples the uninterrupted run
would have seen.
"""
from __future__ import annotations

import itertools
import random
from typing import Iterable, Iterator

import fsspec
from torch.utils.data import IterableDataset

from datagen.dataset.sample_io import decode_sample, iter_tar
from datagen.dataset.store import SHARD_RE, SUMMARY, Store


class DataError(ValueError):
    """Unusable data (e.g. a rank that gets no samples at all); the message is one line."""


def shard_urls(url: str, include_partial: bool = True) -> list[str]:
    """URLs of the finished shards of a dataset (those with a stats file; ``partial`` ones — some samples
    failed — only if ``include_partial``), in shard order."""
    store = Store(url)
    listing = store.listing()
    names = []
    for name in sorted(listing):
        m = SHARD_RE.match(name)
        if m and m.group(2) == "tar" and f"shard-{m.group(1)}.stats.json" in listing:
            names.append(name)
    if not include_partial:
        names = [n for n in names if store.read_json(n[:-4] + ".stats.json")["status"] == "ok"]
    if not names:
        what = "dataset.json but no finished shards" if SUMMARY in listing else "no finished shards"
        raise FileNotFoundError(f"{url}: {what}")
    return [store.full_url(n) for n in names]


def epoch_shards(urls: list[str], seed: int, epoch: int, rank: int = 0, world: int = 1,
                 shuffle: bool = True) -> tuple[list[str], bool]:
    """The shards rank ``rank`` of ``world`` reads in ``epoch`` and whether it must keep only every
    ``world``-th sample of them (fewer shards than ranks)."""
    urls = list(urls)
    if shuffle:
        random.Random(seed * 1_000_003 + epoch).shuffle(urls)
    if len(urls) >= world:
        return urls[rank::world], False
    return urls, True


def read_shard(url: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, {"name.ext": bytes})`` of every sample of one shard, streamed; a truncated, corrupt or
    unsafe tar is a one-line ``DataError`` naming the shard."""
    import tarfile
    import zlib

    try:
        with fsspec.open(url, "rb") as f:
            yield from iter_tar(f)
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise DataError(f"{url}: corrupt or truncated shard ({type(e).__name__}: {e})".splitlines()[0]) from None


def _select(files: dict, members) -> dict:
    if members is None:
        return files
    return {k: v for k, v in files.items() if k.startswith("__") or k.split(".")[0] in members}


class SampleStream:
    """One rank's endless sample stream; ``state_dict``/``load_state_dict`` give its exact position.
    Samples inside a shard are shuffled from ``(seed, epoch, shard)``."""

    def __init__(self, url: str, members: tuple[str, ...] | None, rank: int = 0, world: int = 1,
                 seed: int = 0, shuffle: bool = True):
        self.urls = shard_urls(url)
        self.members, self.rank, self.world = members, rank, world
        self.seed, self.shuffle = seed, shuffle
        self.epoch, self.position = 0, 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def _raw_epoch(self) -> Iterator[dict]:
        urls, by_sample = epoch_shards(self.urls, self.seed, self.epoch, self.rank, self.world, self.shuffle)
        index = 0
        for url in urls:
            samples = [files | {"__key__": key} for key, files in read_shard(url)]
            if self.shuffle:
                random.Random(f"{self.seed}/{self.epoch}/{url.rsplit('/', 1)[-1]}").shuffle(samples)
            for files in samples:
                mine = index % self.world == self.rank if by_sample else True
                index += 1
                if mine:
                    yield files

    def __iter__(self) -> Iterator[dict]:
        while True:
            taken = 0
            for files in self._raw_epoch():
                if taken < self.position:  # resuming: skip what was already used, undecoded
                    taken += 1
                    continue
                taken += 1
                self.position = taken
                yield decode_sample(files, self.members)
            if taken == 0:
                raise DataError(f"rank {self.rank} of {self.world} got no samples from {len(self.urls)} shard(s)")
            self.epoch, self.position = self.epoch + 1, 0


def _node() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _worker() -> tuple[int, int]:
    import torch.utils.data

    info = torch.utils.data.get_worker_info()
    return (info.id, info.num_workers) if info is not None else (0, 1)


class ShardDataset(IterableDataset):
    """``open_dataset``'s result: each iteration is one epoch over this rank's and worker's shards
    (``set_epoch`` overrides the counter)."""

    def __init__(self, urls: list[str], *, members, decode, shuffle: int, shardshuffle: bool, seed: int,
                 split_by_node: bool, split_by_worker: bool):
        super().__init__()
        self.urls, self.members, self.decode = list(urls), None if members is None else set(members), decode
        self.shuffle, self.shardshuffle, self.seed = shuffle, shardshuffle, seed
        self.split_by_node, self.split_by_worker = split_by_node, split_by_worker
        self.epoch = -1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch - 1

    def _raw(self, epoch: int) -> Iterator[dict]:
        rank, world = _node() if self.split_by_node else (0, 1)
        urls, by_sample = epoch_shards(self.urls, self.seed, epoch, rank, world, self.shardshuffle)
        worker, workers = _worker() if self.split_by_worker else (0, 1)
        if len(urls) >= workers:
            urls, keep_every = urls[worker::workers], 1
        else:
            keep_every = workers
        index = kept = 0
        for url in urls:
            for key, files in read_shard(url):
                index += 1
                if by_sample and (index - 1) % world != rank:
                    continue
                kept += 1
                if (kept - 1) % keep_every != worker % keep_every:
                    continue
                yield {"__key__": key, "__url__": url, **_select(files, self.members)}

    def _shuffled(self, items: Iterator[dict], epoch: int) -> Iterator[dict]:
        rng, buffer = random.Random(f"{self.seed}/{epoch}"), []
        for item in items:
            buffer.append(item)
            if len(buffer) >= self.shuffle:
                yield buffer.pop(rng.randrange(len(buffer)))
        while buffer:
            yield buffer.pop(rng.randrange(len(buffer)))

    def __iter__(self) -> Iterator[dict]:
        self.epoch += 1
        items = self._raw(self.epoch)
        if self.shuffle:
            items = self._shuffled(items, self.epoch)
        for raw in items:
            yield _decoded(raw, self.decode)


def _decoded(raw: dict, decode: str | None) -> dict:
    if decode is None:
        return raw
    sample = decode_sample(raw)
    if decode == "torch":
        import numpy as np
        import torch

        sample = {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v for k, v in sample.items()}
    return sample


def open_dataset(url: str | list[str], *, members: Iterable[str] | None = None, decode: str | None = "numpy",
                 shuffle: int = 0, shardshuffle: bool = True, seed: int = 0, split_by_node: bool = True,
                 split_by_worker: bool = True, include_partial: bool = True) -> ShardDataset:
    """An iterable of decoded sample dicts (see the module docstring).

    ``url``: dataset directory/URL (its finished shards are read) or an explicit list of shard URLs.
    ``members``: names to keep (others are not decoded). ``shuffle``: sample shuffle buffer (0: off).
    """
    if decode not in ("numpy", "torch", None):
        raise ValueError(f"decode must be 'numpy', 'torch' or None, got {decode!r}")
    urls = shard_urls(url, include_partial) if isinstance(url, str) else list(url)
    return ShardDataset(urls, members=members, decode=decode, shuffle=shuffle, shardshuffle=shardshuffle,
                        seed=seed, split_by_node=split_by_node, split_by_worker=split_by_worker)


def iter_samples(url: str | list[str], *, members: Iterable[str] | None = None, decode: str | None = "numpy",
                 limit: int | None = None) -> Iterator[dict]:
    """Every sample of a dataset in shard order (no shuffling, no split between ranks or workers), the first
    ``limit`` of them (all when None): how the tools (preview, audit, export, evaluation, inference over
    shards) read a dataset. ``members`` and ``decode`` as in ``open_dataset``; a missing dataset raises here."""
    dataset = open_dataset(url, members=members, decode=decode, shardshuffle=False, split_by_node=False,
                           split_by_worker=False)
    return iter(dataset) if limit is None else itertools.islice(dataset, limit)
