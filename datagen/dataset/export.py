"""Export a runner dataset to a model's own training layout.

    python -m datagen.export PATH_OR_URL --format void|vera --to DIR [--limit N] [--relative-paths]

``--format void`` writes Netflix/void-model's ``video_mask_tuple`` layout (what its
``videox_fun/utils/video_tuple_loader.py`` reads): one folder per pair with

    DIR/<key>/rgb_full.mp4      input video (A, every object) — the shard's mp4 bytes, copied unchanged
    DIR/<key>/rgb_removed.mp4   target video (B, removed objects absent) — copied unchanged
    DIR/<key>/mask.mp4          quadmask as a lossless RGB video (libx264rgb -qp 0, rgb24, the value
                                repeated in R, G and B): decodes bit-exactly to 0/63/127/255
    DIR/<key>/metadata.json     key, index, seed, caption, source dataset and the sample's ``meta``
    DIR/<key>/caption.txt       dense caption of the target video

and ``DIR/void_train.json``, a JSON list of ``{"file_path": ..., "text": caption, "type":
"video_mask_tuple"}`` entries (the fields VOID's dataset-json converter writes; it writes absolute
folder paths, which we also do unless ``--relative-paths``: then paths are relative to DIR, for a
loader given ``data_root=DIR``). Extra keys (``key``, ``family``, ``negative``) are ignored by VOID's loader.

``--format vera`` writes the layout of Vera's public dataset card: one folder per clip with

    DIR/<key>/input_video.mp4, edit_rgb.mp4, composite.mp4   the shard's mp4 bytes, copied unchanged
    DIR/<key>/edit_alpha.mp4, mask.mp4    lossless RGB videos (as mask.mp4 above): bit-exact 0..255 alpha
                                          and 0/255 subject mask
    DIR/<key>/edit_instruction.txt, metadata.json

and ``DIR/vera_train.jsonl`` + ``DIR/vera_train.csv``: one row per clip with ``edit_instruction``,
``input_video``, ``edit_rgb``, ``edit_alpha``, ``mask``, ``composite`` (paths relative to DIR), ``key``,
``task``, ``family``. Each clip folder is written under a temporary name and renamed when complete;
the manifests are written last, so an interrupted export never lists a half-written clip.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np

from datagen.core.cli import command
from datagen.dataset.generators import VERA, VOID
from datagen.dataset.media import encode_mask_mp4, read_mask_mp4
from datagen.dataset.sample_io import SampleError, decode_bytes
from datagen.dataset.store import SUMMARY, Store

VOID_MANIFEST = "void_train.json"
VOID_FILES = {"input": "rgb_full.mp4", "target": "rgb_removed.mp4", "mask": "mask.mp4",
              "metadata": "metadata.json", "caption": "caption.txt"}


def export_void(url: str, out: str | Path, *, limit: int | None = None, relative_paths: bool = False,
                verify: bool = True) -> Path:
    """Write VOID's training layout for the samples of a ``datagen.void_counterfactuals`` dataset;
    returns the manifest path. ``verify`` decodes each written mask.mp4 and checks it is bit-exact."""
    from datagen.dataset.reader import iter_samples  # deferred: it imports torch

    summary = _check_generator(url, VOID)
    fps = float(summary["config"]["render"]["fps"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for raw in iter_samples(url, decode=None, limit=limit):
        key = raw["__key__"]
        folder = out / key
        folder.mkdir(exist_ok=True)
        mask = decode_bytes("npy.gz", raw["quadmask.npy.gz"])
        meta = decode_bytes("json", raw["meta.json"])
        info = decode_bytes("json", raw["info.json"])
        caption = decode_bytes("txt", raw["caption.txt"]).strip()
        (folder / VOID_FILES["input"]).write_bytes(raw["input_video.mp4"])
        (folder / VOID_FILES["target"]).write_bytes(raw["target_video.mp4"])
        (folder / VOID_FILES["mask"]).write_bytes(encode_mask_mp4(mask, fps))
        if verify and not np.array_equal(read_mask_mp4(folder / VOID_FILES["mask"]), mask):
            raise SampleError(f"{key}: mask.mp4 does not decode to the stored quadmask")
        (folder / VOID_FILES["caption"]).write_text(caption + "\n", encoding="utf-8")
        metadata = {"key": key, "index": info["index"], "seed": info["seed"], "caption": caption,
                    "source_dataset": str(url), "source_url": raw.get("__url__"), "fps": fps,
                    "frames": int(mask.shape[0]), "height": int(mask.shape[1]), "width": int(mask.shape[2]),
                    "files": {k: v for k, v in VOID_FILES.items() if k != "metadata"}, "meta": meta}
        (folder / VOID_FILES["metadata"]).write_text(json.dumps(metadata, sort_keys=True, indent=1), encoding="utf-8")
        entries.append({"file_path": key if relative_paths else str(folder.resolve()), "text": caption,
                        "type": "video_mask_tuple", "key": key, "family": meta.get("family"),
                        "negative": bool(meta.get("negative", False))})
    manifest = out / VOID_MANIFEST
    manifest.write_text(json.dumps(entries, indent=2), encoding="utf-8")
    return manifest


VERA_MANIFEST = "vera_train"
VERA_VIDEOS = ("input_video", "edit_rgb", "composite")  # copied from the shard
VERA_MASKS = ("edit_alpha", "mask")                     # re-encoded as lossless mp4
VERA_FIELDS = ("key", "edit_instruction", "input_video", "edit_rgb", "edit_alpha", "mask", "composite",
               "task", "family")


def _check_generator(url: str, wanted: str) -> dict:
    summary = Store(url).read_json(SUMMARY)
    if summary.get("generator") != wanted:
        raise ValueError(f"{url}: generator is {summary.get('generator')!r}, not {wanted}")
    return summary


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def export_vera(url: str, out: str | Path, *, limit: int | None = None, verify: bool = True) -> Path:
    """Write Vera's card layout for a ``datagen.vera_layers`` dataset; returns the JSONL manifest path."""
    from datagen.dataset.reader import iter_samples  # deferred: it imports torch

    summary = _check_generator(url, VERA)
    fps = float(summary["config"]["render"]["fps"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for raw in iter_samples(url, decode=None, limit=limit):
        key = raw["__key__"]
        tmp = out / f"{key}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        meta = decode_bytes("json", raw["meta.json"])
        info = decode_bytes("json", raw["info.json"])
        instruction = decode_bytes("txt", raw["edit_instruction.txt"]).strip()
        row = {"key": key, "edit_instruction": instruction, "task": meta.get("task"), "family": meta.get("family")}
        for name in VERA_VIDEOS:
            (tmp / f"{name}.mp4").write_bytes(raw[f"{name}.mp4"])
            row[name] = f"{key}/{name}.mp4"
        for name in VERA_MASKS:
            values = decode_bytes("npy.gz", raw[f"{name}.npy.gz"])
            (tmp / f"{name}.mp4").write_bytes(encode_mask_mp4(values, fps))
            if verify and not np.array_equal(read_mask_mp4(tmp / f"{name}.mp4"), values):
                raise SampleError(f"{key}: {name}.mp4 does not decode to the stored {name}")
            row[name] = f"{key}/{name}.mp4"
        (tmp / "edit_instruction.txt").write_text(instruction + "\n", encoding="utf-8")
        metadata = {"key": key, "index": info["index"], "seed": info["seed"], "source_dataset": str(url),
                    "source_url": raw.get("__url__"), "fps": fps, **row, "meta": meta}
        (tmp / "metadata.json").write_text(json.dumps(metadata, sort_keys=True, indent=1), encoding="utf-8")
        shutil.rmtree(out / key, ignore_errors=True)
        tmp.rename(out / key)
        rows.append({f: row[f] for f in VERA_FIELDS})
    jsonl = out / f"{VERA_MANIFEST}.jsonl"
    _write_atomic(jsonl, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=VERA_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_atomic(out / f"{VERA_MANIFEST}.csv", buf.getvalue().encode("utf-8"))
    return jsonl


@command
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m datagen.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="dataset directory or fsspec URL (a runner output)")
    parser.add_argument("--format", choices=["void", "vera"], required=True)
    parser.add_argument("--to", required=True, help="output directory")
    parser.add_argument("--limit", type=int, default=None, help="export only the first N samples")
    parser.add_argument("--relative-paths", action="store_true",
                        help="manifest file_path relative to --to (default: absolute, as VOID's converter)")
    args = parser.parse_args(argv)
    if args.format == "vera":
        manifest = export_vera(args.path, args.to, limit=args.limit)
        n = len(manifest.read_text().splitlines())
    else:
        manifest = export_void(args.path, args.to, limit=args.limit, relative_paths=args.relative_paths)
        n = len(json.loads(manifest.read_text()))
    print(f"exported {n} {'clips' if args.format == 'vera' else 'pairs'} to {args.to}; manifest {manifest}")


if __name__ == "__main__":
    import sys

    sys.exit(main())
