"""Precompute the frozen encoders' outputs once: VAE latents and text embeddings of every sample,
written as latent shards the trainer reads directly (``data.path=`` the output).

    python training/precompute.py model=void data.path=DIR precompute.out=LATENTS vae.path=... text.path=...
    torchrun --nproc_per_node=8 training/precompute.py ...     (shards are divided among the processes)

Same layout as the generators' output: ``shard-N.tar`` per source shard (same keys, float32 ``.npy``
members named after the task's latent keys; the affect model's masks and frames as gzipped uint8),
``shard-N.stats.json`` written last (a rerun skips finished shards), ``dataset.json`` with ``generator:
latents``. Latents use the VAE posterior mean, so training on them equals training with on-the-fly
encoding.
"""
from __future__ import annotations

import io
import logging

import fsspec
import numpy as np
from omegaconf import DictConfig, OmegaConf


log = logging.getLogger("precompute")


def precompute(cfg: DictConfig) -> dict:
    from datagen.dataset.reader import shard_urls
    from datagen.dataset.sample_io import decode_sample, encode_npy, iter_tar, tar_writer
    from datagen.dataset.store import SUMMARY, Store
    from training.core.clips import LATENT_GENERATOR, check_dataset, collate
    from training.core.runtime import barrier, init_runtime
    from training.tasks import load_encoders, make_task

    rt = init_runtime(cfg.trainer.device, cfg.trainer.dtype)
    task = make_task(cfg.model)
    if check_dataset(str(cfg.data.path), task):
        raise ValueError(f"data.path={cfg.data.path}: already latents")
    encoders = load_encoders(cfg, rt)
    store = Store(str(cfg.precompute.out))
    urls = shard_urls(str(cfg.data.path))
    done = store.listing()
    written = 0
    for url in urls[rt.rank::rt.world]:
        name = url.rsplit("/", 1)[-1][:-len(".tar")]
        if f"{name}.stats.json" in done:
            continue
        buf = io.BytesIO()
        writer = tar_writer(buf)
        count = 0
        with fsspec.open(url, "rb") as f:
            for key, files in iter_tar(f):
                sample = decode_sample(files, task.members)
                lat = task.encode(collate([task.clip(sample, cfg.data)]), *encoders)
                record = {"__key__": key}
                for k in task.latent_keys:
                    value = lat[k][0].cpu().numpy()
                    if k in task.pixel_keys:  # masks and frames on the pixel grid: uint8, gzip
                        value = value.astype(np.uint8)
                    small = k == "context" or k in task.pixel_keys
                    record[f"{k}.npy.gz" if small else f"{k}.npy"] = encode_npy(value, compress=small)
                writer.write(record)
                count += 1
        writer.close()
        store.write_bytes(f"{name}.tar", buf.getvalue())
        store.write_json(f"{name}.stats.json", {"status": "ok", "samples": count, "source": url})
        written += count
        log.info("%s: %d samples", name, count)
    barrier(rt)
    summary = {"generator": LATENT_GENERATOR, "model": task.name, "source": str(cfg.data.path),
               "latent_keys": list(task.latent_keys),
               "config": {"generator": LATENT_GENERATOR, **OmegaConf.to_container(cfg, resolve=True)}}
    if rt.is_main:
        store.write_json(SUMMARY, summary)
    return {"written": written}
