"""Export a runner dataset to a model's own training layout.

    python -m datagen.export PATH_OR_URL --format void --to DIR [--limit N] [--relative-paths]

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
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from datagen.runner.sample_io import SampleError, decode_bytes, decode_mp4
from datagen.runner.store import SUMMARY, Store

VOID_MANIFEST = "void_train.json"
VOID_FILES = {"input": "rgb_full.mp4", "target": "rgb_removed.mp4", "mask": "mask.mp4",
              "metadata": "metadata.json", "caption": "caption.txt"}


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def encode_mask_mp4(mask: np.ndarray, fps: float) -> bytes:
    """Lossless mp4 of a uint8 (T,H,W) mask: libx264rgb at -qp 0 in rgb24 (value in all three channels).
    Any mp4 reader that converts to rgb24 (ffmpeg, imageio, decord, mediapy) gets the values back exactly."""
    mask = np.asarray(mask)
    if mask.dtype != np.uint8 or mask.ndim != 3:
        raise ValueError(f"mask must be uint8 (T,H,W), got {mask.dtype} {mask.shape}")
    t, h, w = mask.shape
    rgb = np.ascontiguousarray(np.repeat(mask[..., None], 3, axis=-1))
    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        cmd = [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "pipe:0",
               "-c:v", "libx264rgb", "-qp", "0", "-preset", "veryslow", "-pix_fmt", "rgb24",
               "-x264-params", "threads=1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
               "-movflags", "+faststart", path]
        proc = subprocess.run(cmd, input=rgb.tobytes(), capture_output=True)
        if proc.returncode != 0:
            raise SampleError(f"ffmpeg failed to encode a {t}x{h}x{w} mask: {proc.stderr.decode()[-300:].strip()}")
        return Path(path).read_bytes()
    finally:
        os.unlink(path)


def read_mask_mp4(path: str | Path) -> np.ndarray:
    """uint8 (T,H,W) mask from a mask mp4 (first channel of the rgb24 decode)."""
    return decode_mp4(Path(path).read_bytes())[..., 0]


def _iter_raw(url: str, limit: int | None):
    from datagen.runner.reader import open_dataset

    ds = open_dataset(url, decode=None, shardshuffle=False, split_by_node=False, split_by_worker=False)
    for n, raw in enumerate(ds):
        if limit is not None and n >= limit:
            break
        yield raw


def export_void(url: str, out: str | Path, *, limit: int | None = None, relative_paths: bool = False,
                verify: bool = True) -> Path:
    """Write VOID's training layout for the samples of a ``datagen.void_counterfactuals`` dataset;
    returns the manifest path. ``verify`` decodes each written mask.mp4 and checks it is bit-exact."""
    summary = Store(url).read_json(SUMMARY)
    if summary.get("generator") != "datagen.void_counterfactuals":
        raise ValueError(f"{url}: generator is {summary.get('generator')!r}, not datagen.void_counterfactuals")
    fps = float(summary["config"]["render"]["fps"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for raw in _iter_raw(url, limit):
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m datagen.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="dataset directory or fsspec URL (a runner output)")
    parser.add_argument("--format", choices=["void"], default="void")
    parser.add_argument("--to", required=True, help="output directory")
    parser.add_argument("--limit", type=int, default=None, help="export only the first N samples")
    parser.add_argument("--relative-paths", action="store_true",
                        help="manifest file_path relative to --to (default: absolute, as VOID's converter)")
    args = parser.parse_args(argv)
    manifest = export_void(args.path, args.to, limit=args.limit, relative_paths=args.relative_paths)
    n = len(json.loads(manifest.read_text()))
    print(f"exported {n} pairs to {args.to}; manifest {manifest}")


if __name__ == "__main__":
    main()
