"""Video files through one ffmpeg: ``probe`` a file, ``read_frames`` one frame at a time (resized by ffmpeg
when asked), ``FrameWriter`` encodes one frame at a time. The streaming readers and the writer never hold a
whole clip, so a 4K phone clip costs a few frames of memory, not the clip (``docs/inference.md``).

Whole clips in memory (a shard's videos, exported masks): ``encode_mp4`` / ``decode_mp4`` (H.264, the
shard's ``mp4`` member), ``encode_rgb_lossless`` / ``encode_mask_mp4`` / ``read_mask_mp4`` (lossless RGB,
bit-exact on decode). The encoders are ``FrameWriter`` fed a whole clip, so every mp4 written here comes
from one ffmpeg command line.

Every frame the decoder gives is one output frame (``-fps_mode passthrough``: no frames duplicated or
dropped for variable frame rate phone clips) after the file's rotation is applied, as every player shows
it. Encoding uses the same x264 arguments as the shard writer (``sample_io``), so a clip written frame by
frame has the bytes it would have had written whole.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

# x264 output depends on its thread count; one thread keeps outputs byte-identical on every machine.
# ``-tune psnr`` turns off x264's psychovisual tuning (which spends bits on grain-like detail instead
# of fidelity): videos here are training targets whose layers must add up after decoding.
X264_ARGS = ["-c:v", "libx264", "-threads", "1", "-tune", "psnr", "-pix_fmt", "yuv420p",
             "-vf", "scale=out_color_matrix=bt709:out_range=tv", "-sws_flags", "accurate_rnd+full_chroma_int",
             "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
             "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", "-movflags", "+faststart"]
# lossless RGB: libx264rgb at -qp 0 in rgb24; any reader that converts to rgb24 gets the pixels back exactly.
# One reference frame: veryslow's 16 cost x264 ~2.3 GB at 4K (0.8 GB with one) for no smaller masks.
LOSSLESS_ARGS = ["-c:v", "libx264rgb", "-qp", "0", "-preset", "veryslow", "-pix_fmt", "rgb24",
                 "-x264-params", "threads=1:ref=1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
                 "-movflags", "+faststart"]
DEFAULT_CRF = 18
DEFAULT_PRESET = "medium"
DECODE_ARGS = ["-sws_flags", "accurate_rnd+full_chroma_int"]
# ffmpeg scale filter flags per resampling mode: area averages when shrinking; nearest keeps mask levels
SCALE_FLAGS = {"area": "area+accurate_rnd+full_chroma_int", "nearest": "neighbor+accurate_rnd+full_chroma_int"}


class MediaError(ValueError):
    """A video that cannot be probed, read or written; the message is one line naming the file."""


def ffmpeg_exe() -> str:
    """The ffmpeg every reader and writer here runs (imageio-ffmpeg's, so no system package is needed)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as players show it (rotation applied)."""
    width: int
    height: int
    frames: int
    fps: float

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3


_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: .*?(?:, |\s)(\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"([\d.]+) (?:fps|tbr)")
_ROTATE = re.compile(r"(?:rotate\s*:\s*|rotation of )(-?[\d.]+)")
_FRAMES = re.compile(r"frame=\s*(\d+)")


def _run(cmd: list[str], path: Path, what: str) -> str:
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
    text = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise MediaError(f"{path}: cannot {what} ({_last_line(text)})")
    return text


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "ffmpeg failed"


def probe(path: str | Path) -> VideoInfo:
    """Size (after rotation), frame count and frame rate of a video file. Frames are counted from the
    stream's packets (no decoding), which is what ``read_frames`` then yields."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    text = _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy",
                 "-f", "null", "-"], path, "read the video (not a video file?)")
    stream = next((ln for ln in text.splitlines() if "Stream #" in ln and "Video:" in ln), None)
    match = _STREAM.search(stream or "")
    if match is None:
        raise MediaError(f"{path}: no video stream")
    w, h = int(match.group(1)), int(match.group(2))
    rotate = _ROTATE.search(text)
    if rotate and round(abs(float(rotate.group(1)))) % 180 == 90:
        w, h = h, w
    fps = _FPS.search(stream)
    counts = _FRAMES.findall(text)
    frames = int(counts[-1]) if counts else 0
    if frames < 1:
        raise MediaError(f"{path}: the video has no frames")
    return VideoInfo(w, h, frames, float(fps.group(1)) if fps else 0.0)


def read_frames(path: str | Path, size: tuple[int, int] | None = None, *, mode: str = "area",
                info: VideoInfo | None = None) -> Iterator[np.ndarray]:
    """uint8 (H, W, 3) frames of a video file, one at a time; ``size=(width, height)`` resizes in ffmpeg
    (``mode`` ``area`` for pictures, ``nearest`` for masks, whose levels must survive)."""
    path = Path(path)
    info = info or probe(path)
    w, h = size or (info.width, info.height)
    vf = [] if size is None or size == (info.width, info.height) else \
        ["-vf", f"scale={w}:{h}:flags={SCALE_FLAGS[mode]}"]
    err = tempfile.TemporaryFile()
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path), "-map", "0:v:0",
           *vf, *DECODE_ARGS, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                            bufsize=w * h * 3)
    n = w * h * 3
    count = 0
    try:
        while True:
            data = proc.stdout.read(n)
            if not data:
                break
            if len(data) < n:
                raise MediaError(f"{path}: frame {count} is cut short")
            count += 1
            yield np.frombuffer(data, np.uint8).reshape(h, w, 3)
        if proc.wait() != 0:
            err.seek(0)
            raise MediaError(f"{path}: cannot decode frame {count} ({_last_line(err.read().decode(errors='replace'))})")
        if count == 0:
            raise MediaError(f"{path}: the video has no frames")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.wait()
        err.close()


def read_mask_frames(path: str | Path, size: tuple[int, int] | None = None,
                     info: VideoInfo | None = None) -> Iterator[np.ndarray]:
    """uint8 (H, W) frames of a mask video (its first channel), resized by nearest neighbour."""
    for frame in read_frames(path, size, mode="nearest", info=info):
        yield np.ascontiguousarray(frame[..., 0])


class FrameWriter:
    """An mp4 written one frame at a time: H.264 as the shard writer encodes (``crf``), or lossless RGB
    (``lossless=True``, bit-exact on decode). Written to ``path`` + ``.part`` and renamed by ``close``;
    on an error (or ``abort``) nothing is left. Accepts uint8 (H, W, 3) or grey (H, W) frames."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float, *, lossless: bool = False,
                 crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET):
        self.path, self.size, self.frames = Path(path), (int(width), int(height)), 0
        self.part = self.path.with_name(self.path.name + ".part")
        codec = LOSSLESS_ARGS if lossless else [*X264_ARGS, "-crf", str(int(crf)), "-preset", preset]
        self._err = tempfile.TemporaryFile()
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "pipe:0",
               *codec, "-f", "mp4", str(self.part)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._err)

    def write(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame)
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, -1)
        if frame.dtype != np.uint8 or frame.shape != (self.size[1], self.size[0], 3):
            self.abort()
            raise MediaError(f"{self.path}: frame {self.frames} is {frame.dtype} {frame.shape}, "
                             f"expected uint8 ({self.size[1]}, {self.size[0]}, 3)")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            self.abort()
            raise MediaError(f"{self.path}: ffmpeg stopped ({self._stderr()})") from None
        self.frames += 1

    def _stderr(self) -> str:
        self._err.seek(0)
        return _last_line(self._err.read().decode(errors="replace"))

    def close(self) -> Path:
        self._proc.stdin.close()
        code = self._proc.wait()
        if code != 0 or self.frames == 0:
            message = self._stderr() if code else "no frames written"
            self.abort()
            raise MediaError(f"{self.path}: cannot encode ({message})")
        self._err.close()
        os.replace(self.part, self.path)
        return self.path

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        self._proc.wait()
        self._err.close()
        self.part.unlink(missing_ok=True)

    def __enter__(self) -> "FrameWriter":
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


# ------------------------------------------------------------------------------------ whole clips in memory

def _encode(video: np.ndarray, fps: float, **writer) -> bytes:
    """The mp4 bytes ``FrameWriter(**writer)`` writes for every frame of ``video``."""
    t, h, w = video.shape[:3]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "video.mp4"
        try:
            with FrameWriter(path, w, h, fps, **writer) as out:
                for frame in video:
                    out.write(frame)
        except MediaError as e:  # its message names the temporary file: name the video instead
            raise MediaError(f"cannot encode a {t}x{h}x{w} video: {str(e).partition(': ')[2]}") from None
        return path.read_bytes()


def encode_mp4(video: np.ndarray, fps: float, crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET) -> bytes:
    """H.264 mp4 of a uint8 (T,H,W,3) sRGB video; deterministic (one x264 thread, bit-exact muxing)."""
    return _encode(np.asarray(video), fps, crf=crf, preset=preset)


def decode_mp4(data: bytes) -> np.ndarray:
    """uint8 (T,H,W,3) sRGB frames of an mp4."""
    import imageio_ffmpeg

    fd, path = tempfile.mkstemp(suffix=".mp4")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        reader = imageio_ffmpeg.read_frames(path, pix_fmt="rgb24", output_params=DECODE_ARGS)
        try:
            w, h = next(reader)["size"]
            frames = [np.frombuffer(frame, np.uint8).reshape(h, w, 3) for frame in reader]
        except (RuntimeError, StopIteration, OSError) as e:
            first_line = (str(e).strip() or repr(e)).splitlines()[0]
            raise MediaError(f"cannot decode mp4: {first_line}") from None
        finally:
            reader.close()
        if not frames:
            raise MediaError("mp4 has no frames")
        return np.stack(frames)
    finally:
        os.unlink(path)


def encode_rgb_lossless(video: np.ndarray, fps: float) -> bytes:
    """Lossless mp4 of a uint8 (T,H,W,3) video: libx264rgb at -qp 0 in rgb24. Any mp4 reader that converts
    to rgb24 (ffmpeg, imageio, decord, mediapy) gets the pixels back exactly."""
    video = np.asarray(video)
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"video must be uint8 (T,H,W,3), got {video.dtype} {video.shape}")
    return _encode(video, fps, lossless=True)


def encode_mask_mp4(mask: np.ndarray, fps: float) -> bytes:
    """Lossless mp4 of a uint8 (T,H,W) mask (the value in all three channels of ``encode_rgb_lossless``)."""
    mask = np.asarray(mask)
    if mask.dtype != np.uint8 or mask.ndim != 3:
        raise ValueError(f"mask must be uint8 (T,H,W), got {mask.dtype} {mask.shape}")
    return _encode(mask, fps, lossless=True)  # FrameWriter repeats a grey frame in R, G and B


def read_mask_mp4(path: str | Path) -> np.ndarray:
    """uint8 (T,H,W) mask from a mask mp4 (first channel of the rgb24 decode)."""
    return decode_mp4(Path(path).read_bytes())[..., 0]
