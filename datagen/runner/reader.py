"""The trainers' reader: a WebDataset pipeline over a runner output (local path or fsspec URL).

    from datagen.runner.reader import open_dataset
    ds = open_dataset("s3://bucket/toy", members=("video", "mask"), decode="torch", shuffle=256, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=4)

Shards are shuffled per epoch (same order on every node and worker for a given seed and epoch), split
across ``torch.distributed`` ranks (``split_by_node``) and DataLoader workers (``split_by_worker``), read
with fsspec, grouped into samples and decoded by file suffix (``datagen.runner.sample_io``): videos to
uint8 (T,H,W,3), masks/arrays to their stored dtype, json to Python objects, text to str; with
``decode="torch"`` arrays become tensors of the same dtype and layout. ``decode=None`` yields raw bytes.
Each sample also carries ``__key__`` and ``__url__``.
"""
from __future__ import annotations

import random
from typing import Iterable, Iterator

import webdataset as wds
from torch.utils.data import IterableDataset

from datagen.runner.sample_io import decode_sample
from datagen.runner.store import SHARD_RE, SUMMARY, Store


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


class ShardList(IterableDataset):
    """Shard URLs, reshuffled every epoch with ``seed + epoch`` when ``shuffle`` (each iteration is an
    epoch; ``set_epoch`` overrides the counter)."""

    def __init__(self, urls: list[str], shuffle: bool, seed: int):
        super().__init__()
        self.urls, self.shuffle, self.seed, self.epoch = list(urls), shuffle, seed, -1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch - 1

    def __iter__(self) -> Iterator[dict]:
        self.epoch += 1
        urls = list(self.urls)
        if self.shuffle:
            random.Random(self.seed + self.epoch).shuffle(urls)
        for url in urls:
            yield {"url": url}


def _open_urls(items: Iterable[dict]) -> Iterator[dict]:
    import fsspec

    for item in items:
        with fsspec.open(item["url"], "rb") as stream:
            yield {**item, "stream": stream}


def _decoder(members, decode):
    wanted = None if members is None else set(members)

    def run(raw: dict) -> dict:
        files = {k: v for k, v in raw.items() if k.startswith("__") or wanted is None or k.split(".")[0] in wanted}
        if decode is None:
            return files
        sample = decode_sample(files)
        if decode == "torch":
            import numpy as np
            import torch

            sample = {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v for k, v in sample.items()}
        return sample
    return run


def open_dataset(url: str | list[str], *, members: Iterable[str] | None = None, decode: str | None = "numpy",
                 shuffle: int = 0, shardshuffle: bool = True, seed: int = 0, split_by_node: bool = True,
                 split_by_worker: bool = True, include_partial: bool = True) -> wds.DataPipeline:
    """A WebDataset pipeline yielding decoded sample dicts (see the module docstring).

    ``url``: dataset directory/URL (its finished shards are read) or an explicit list of shard URLs.
    ``members``: names to keep (others are not decoded). ``shuffle``: sample shuffle buffer (0: off).
    """
    if decode not in ("numpy", "torch", None):
        raise ValueError(f"decode must be 'numpy', 'torch' or None, got {decode!r}")
    urls = shard_urls(url, include_partial) if isinstance(url, str) else list(url)
    stages = [ShardList(urls, shardshuffle, seed)]
    if split_by_node:
        stages.append(wds.split_by_node)
    if split_by_worker:
        stages.append(wds.split_by_worker)
    stages += [_open_urls, wds.tariterators.tar_file_expander, wds.tariterators.group_by_keys]
    if shuffle:
        stages.append(wds.shuffle(shuffle, initial=min(shuffle, 100), rng=random.Random(seed)))
    stages.append(wds.map(_decoder(members, decode)))
    return wds.DataPipeline(*stages)
