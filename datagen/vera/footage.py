"""User-supplied footage for the synthetic family: a VideoMatte240K-style matte folder and a folder
of background videos. Nothing here is downloaded; point the config at folders you have.

Matte folder (VideoMatte240K layout)::

    ROOT/fgr/NAME.mp4    foreground colour video (any ffmpeg-readable container)
    ROOT/pha/NAME.mp4    its alpha matte, same name and length (grey; the luma is the alpha)
    ROOT/fgr/NAME.txt    optional: a phrase describing the subject ("a woman in a red coat")

Background folder: any video files directly under ROOT (``.mp4 .mov .mkv .webm .avi .m4v``).

Clips are read with imageio-ffmpeg's ffmpeg, scaled by ffmpeg (area filter), and resampled in time to
the clip's frame rate: output frame i shows the source frame at ``start + i / fps`` seconds; a source
shorter than the clip plays forward and backward (ping-pong) so motion stays continuous.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

# imageio-ffmpeg warns whenever ffmpeg scales, which is the point here
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


def video_files(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTS and p.is_file())


def probe(path) -> dict:
    """``{"width", "height", "fps", "duration"}`` from the container (fps/duration may be 0)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    finally:
        reader.close()
    w, h = meta["size"]
    return {"width": int(w), "height": int(h), "fps": float(meta.get("fps") or 0.0),
            "duration": float(meta.get("duration") or 0.0)}


def source_indices(frames: int, fps: float, src_fps: float, start: float = 0.0) -> np.ndarray:
    """Source frame index shown at each output frame (before ping-pong)."""
    src_fps = src_fps or fps
    return np.round((start + np.arange(frames) / fps) * src_fps).astype(int)


def ping_pong(indices: np.ndarray, length: int) -> np.ndarray:
    """Indices folded into ``0..length-1`` by playing forward and backward."""
    if length <= 1:
        return np.zeros_like(indices)
    period = 2 * (length - 1)
    j = np.mod(indices, period)
    return np.where(j >= length, period - j, j)


def read_clip(path, frames: int, fps: float, start: float = 0.0, size: tuple[int, int] | None = None,
              crop: tuple[int, int] | None = None, gray: bool = False) -> np.ndarray:
    """uint8 (T, h, w, 3) — or (T, h, w) with ``gray`` — frames of a video at ``fps`` from ``start``
    seconds, scaled to ``size`` (w, h) and centre-cropped to ``crop`` (w, h) if given."""
    import imageio_ffmpeg

    info = probe(path)
    want = source_indices(frames, fps, info["fps"], start)
    filters = []
    if size is not None:
        filters.append(f"scale={int(size[0])}:{int(size[1])}:flags=area")
    if crop is not None:
        filters.append(f"crop={int(crop[0])}:{int(crop[1])}")
    params = ["-sws_flags", "area+accurate_rnd+full_chroma_int"] + (["-vf", ",".join(filters)] if filters else [])
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="gray" if gray else "rgb24",
                                        bits_per_pixel=8 if gray else 24, output_params=params)
    try:
        w, h = next(reader)["size"]
        shape = (h, w) if gray else (h, w, 3)
        last, got = int(want.max()), []
        for k, buf in enumerate(reader):
            got.append(np.frombuffer(buf, np.uint8).reshape(shape))
            if k >= last:
                break
    finally:
        reader.close()
    if not got:
        raise ValueError(f"{path}: no frames")
    return np.stack([got[i] for i in ping_pong(want, len(got))])


def _start(rng, info: dict, frames: int, fps: float) -> float:
    spare = info["duration"] - frames / fps
    return float(rng.uniform(0.0, spare)) if spare > 0 else 0.0


def even(x: float) -> int:
    """The nearest even integer >= 2 (video sizes must be even)."""
    return max(2, int(round(x / 2)) * 2)


class MatteFolder:
    """Foreground clips with mattes: ``fgr/NAME.*`` and ``pha/NAME.*`` (VideoMatte240K's layout)."""

    def __init__(self, root):
        self.root = Path(root)
        fgr = {p.stem: p for p in video_files(self.root / "fgr")}
        pha = {p.stem: p for p in video_files(self.root / "pha")}
        missing = sorted(set(fgr) ^ set(pha))
        if missing:
            raise ValueError(f"{self.root}: fgr/ and pha/ must hold the same clip names; unmatched: {missing[:5]}")
        if not fgr:
            raise ValueError(f"{self.root}: no videos under fgr/ and pha/")
        self.fgr, self.pha = fgr, pha
        self.names = sorted(fgr)

    def describe(self, name: str) -> str | None:
        text = self.root / "fgr" / f"{name}.txt"
        return text.read_text().strip() or None if text.is_file() else None

    def load(self, name: str, frames: int, fps: float, height: int, rng=None, start: float | None = None
             ) -> tuple[np.ndarray, np.ndarray, dict]:
        """(fgr uint8 (T,h,w,3), pha uint8 (T,h,w), info) scaled to ``height`` (aspect kept)."""
        info = probe(self.fgr[name])
        if start is None:
            start = _start(rng if rng is not None else np.random.default_rng(0), info, frames, fps)
        size = (even(info["width"] * height / info["height"]), even(height))
        fgr = read_clip(self.fgr[name], frames, fps, start, size)
        pha = read_clip(self.pha[name], frames, fps, start, size, gray=True)
        return fgr, pha, {"name": name, "start": round(start, 4), "source_fps": info["fps"],
                          "source_size": [info["width"], info["height"]]}


class VideoFolder:
    """Background clips: every video file directly under ``root``."""

    def __init__(self, root):
        self.root = Path(root)
        self.paths = {p.stem: p for p in video_files(self.root)}
        if not self.paths:
            raise ValueError(f"{self.root}: no videos ({' '.join(VIDEO_EXTS)})")
        self.names = sorted(self.paths)

    def load(self, name: str, frames: int, fps: float, width: int, height: int, rng=None,
             start: float | None = None) -> tuple[np.ndarray, dict]:
        """uint8 (T, height, width, 3): scaled to cover the frame, centre-cropped."""
        info = probe(self.paths[name])
        if start is None:
            start = _start(rng if rng is not None else np.random.default_rng(0), info, frames, fps)
        scale = max(width / info["width"], height / info["height"])
        size = (max(width, int(np.ceil(info["width"] * scale))), max(height, int(np.ceil(info["height"] * scale))))
        clip = read_clip(self.paths[name], frames, fps, start, size, crop=(width, height))
        return clip, {"name": name, "start": round(start, 4), "source_fps": info["fps"],
                      "source_size": [info["width"], info["height"]]}
