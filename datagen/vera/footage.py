"""User-supplied footage for the synthetic family: a VideoMatte240K folder and a folder of background
videos. Nothing here is downloaded; point the config at folders you have.

Matte folder: VideoMatte240K as its producers publish it (BackgroundMattingV2's dataset page; RVM's
``dataset/videomatte.py`` reads the JPEG releases), in either release::

    ROOT/{train,test}/fgr/NAME.mp4        video release: foreground colour
    ROOT/{train,test}/pha/NAME.mp4        its alpha matte, same name (grey; the luma is the alpha)
    ROOT/{train,test}/fgr/NAME/00000.jpg  VideoMatte240K_JPEG_SD / _HD: one folder of frames per clip
    ROOT/{train,test}/pha/NAME/00000.jpg  the matte frames, same clip and frame names

``ROOT`` is the dataset folder (every sub-folder holding ``fgr/`` and ``pha/`` is a split: ``train``
and ``test`` as distributed, ``valid`` if you moved clips out as RVM's training notes say; clips are
then named ``train/0000`` …) or one split folder itself (``ROOT/fgr``, ``ROOT/pha``: what RVM's
``train_config.py`` points at). Frames of a frame folder are taken in sorted name order and paired
with the matte frame of the same name, as RVM does; a frame folder carries no frame rate, so it plays
one frame per output frame. ``fgr/NAME.txt`` beside a clip, optional and not part of the published
dataset, is a phrase describing the subject ("a woman in a red coat"); without it the subject is
"a person".

Background folder: any video files directly under ROOT (``.mp4 .mov .mkv .webm .avi .m4v``).

Clips are read with imageio-ffmpeg's ffmpeg, scaled by ffmpeg (area filter) (frame folders: Pillow's
box filter), and resampled in time to the clip's frame rate: output frame i shows the source frame at
``start + i / fps`` seconds; a source shorter than the clip plays forward and backward (ping-pong) so
motion stays continuous.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

# imageio-ffmpeg warns whenever ffmpeg scales, which is the point here
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")


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


def frame_files(folder: Path) -> list[Path]:
    """The image frames of a frame folder, in sorted name order (RVM's order)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def _clips(folder: Path) -> dict[str, Path]:
    """Clips under ``fgr/`` or ``pha/``: video files (by stem) and frame folders (by name)."""
    if not folder.is_dir():
        return {}
    return {p.stem if p.is_file() else p.name: p for p in sorted(folder.iterdir())
            if (p.is_file() and p.suffix.lower() in VIDEO_EXTS) or (p.is_dir() and not p.name.startswith("."))}


def read_image(path: Path, gray: bool = False, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 (h, w[, 3]) of one frame image, scaled to ``size`` (w, h) with a box (area) filter."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("L" if gray else "RGB")
            if size is not None and im.size != tuple(size):
                im = im.resize((int(size[0]), int(size[1])), Image.BOX)
            return np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from None


def read_frames(folder: Path, names: list[str], frames: int, fps: float, start: float,
                size: tuple[int, int] | None, gray: bool = False) -> np.ndarray:
    """uint8 (T, h, w[, 3]) from a frame folder, one source frame per output frame from ``start``
    seconds at ``fps``, ping-ponged; each frame decoded once."""
    want = ping_pong(source_indices(frames, fps, fps, start), len(names))
    decoded = {i: read_image(folder / names[i], gray, size) for i in sorted(set(want.tolist()))}
    return np.stack([decoded[i] for i in want])


class MatteFolder:
    """Foreground clips with mattes, VideoMatte240K's layouts (see the module docstring): ``fgr/``
    and ``pha/`` in one split folder or in each split folder of the dataset, holding videos or
    folders of frames; clips pair by name, frames by file name."""

    def __init__(self, root):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"{self.root}: not a folder")
        if (self.root / "fgr").is_dir() or (self.root / "pha").is_dir():
            splits = {"": self.root}
        else:
            splits = {p.name: p for p in sorted(self.root.iterdir())
                      if p.is_dir() and ((p / "fgr").is_dir() or (p / "pha").is_dir())}
        if not splits:
            raise ValueError(f"{self.root}: no fgr/ and pha/ folders (VideoMatte240K: ROOT/train/fgr, "
                             "ROOT/train/pha, ... or one split folder)")
        self.fgr, self.pha = {}, {}
        for split, folder in splits.items():
            fgr, pha = _clips(folder / "fgr"), _clips(folder / "pha")
            unmatched = sorted(set(fgr) ^ set(pha))
            if unmatched:
                raise ValueError(f"{folder}: fgr/ and pha/ must hold the same clip names; unmatched: {unmatched[:5]}")
            for name in fgr:
                key = f"{split}/{name}" if split else name
                self.fgr[key], self.pha[key] = fgr[name], pha[name]
        if not self.fgr:
            raise ValueError(f"{self.root}: no clips (videos or frame folders) under fgr/ and pha/")
        self.names = sorted(self.fgr)

    def describe(self, name: str) -> str | None:
        path = self.fgr[name]
        text = path.parent / f"{path.name if path.is_dir() else path.stem}.txt"
        return text.read_text().strip() or None if text.is_file() else None

    def _frames(self, name: str) -> list[str]:
        """The frame names of a frame-folder clip, the same under fgr/ and pha/."""
        fgr, pha = frame_files(self.fgr[name]), frame_files(self.pha[name])
        if not fgr:
            raise ValueError(f"{self.fgr[name]}: no frames ({' '.join(IMAGE_EXTS)})")
        names = [p.name for p in fgr]
        if names != [p.name for p in pha]:
            lost = sorted(set(names) ^ {p.name for p in pha})
            raise ValueError(f"{self.fgr[name]}: its frames and pha/'s differ (e.g. {lost[0]})")
        return names

    def load(self, name: str, frames: int, fps: float, height: int, rng=None, start: float | None = None
             ) -> tuple[np.ndarray, np.ndarray, dict]:
        """(fgr uint8 (T,h,w,3), pha uint8 (T,h,w), info) scaled to ``height`` (aspect kept)."""
        fgr_path, pha_path = self.fgr[name], self.pha[name]
        if fgr_path.is_dir() != pha_path.is_dir():
            raise ValueError(f"{fgr_path}: one of fgr/ and pha/ holds a video, the other frames")
        if fgr_path.is_dir():
            names = self._frames(name)
            h, w = read_image(fgr_path / names[0], gray=True).shape
            info = {"width": w, "height": h, "fps": 0.0, "duration": len(names) / fps}
        else:
            info = probe(fgr_path)
        if start is None:
            start = _start(rng if rng is not None else np.random.default_rng(0), info, frames, fps)
        size = (even(info["width"] * height / info["height"]), even(height))
        if fgr_path.is_dir():
            fgr = read_frames(fgr_path, names, frames, fps, start, size)
            pha = read_frames(pha_path, names, frames, fps, start, size, gray=True)
        else:
            fgr = read_clip(fgr_path, frames, fps, start, size)
            pha = read_clip(pha_path, frames, fps, start, size, gray=True)
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
