"""The inputs of inference: clips of any size, found without decoding and decoded at their working size.

Inputs (``read_clips``): a dataset written by our generators (a folder with ``dataset.json``), VOID's
per-clip layout as VOID publishes it (``datagen.void.layout.scan_clips``: ``input_video.mp4`` with
``quadmask_0.mp4``, ``trimask_quadmask.mp4`` or per-object ``mask_*.mp4``, and ``prompt.json`` with
``{"bg": "<the scene after removal>"}``), or a folder of videos (``NAME.mp4``, the prompt in ``NAME.txt``
or ``infer.prompt``; for VOID the quadmask in ``NAME.quadmask.mp4``). The affect model needs only the
object's mask: a segmenter's white-on-black ``object_mask.mp4`` in a clip folder or ``NAME.mask.mp4``
beside a video (else the 0/63 pixels of the quadmask, which is what our shards give). A clip that cannot
be used is skipped with one line saying why.

**Any size, bounded memory.** A clip is decoded at its *working size* (``working_size``: long side at
most ``infer.max_side``, by default the size the model was trained at), resized by ffmpeg while it
decodes, and run at every frame (repeated to 4k+1, long clips in temporal windows). Outputs are written
back at the input's own size and frame count, frame by frame (``training/inference/writing.py``): delivered
source pixels and the object's 0/63 pixels come from the full-resolution input, probabilities, alpha and
edits are upsampled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from datagen.void.layout import QUADMASK, VIDEO


VOID_LAYOUT = (VIDEO, QUADMASK)
SIDE_VIDEOS = (".quadmask.mp4", ".mask.mp4", ".alpha.mp4")  # beside NAME.mp4 in a folder of videos: not inputs
OBJECT_MASK = "object_mask.mp4"  # affect input: the removed object white (>= 128) on black, as segmenters export


class InputError(ValueError):
    """An input that cannot be run; the message is one line naming the file."""


@dataclass(frozen=True)
class ClipReads:
    """What a model kind reads of a clip; its task declares it (``training/tasks/``: ``Task.reads``)."""
    kind: str  # the model's name, for messages
    mask: str  # "quadmask": needs one | "object": the object's mask (or a quadmask) | "optional": used if present
    prompt_required: bool  # a clip without a prompt cannot be run
    prompt_member: str  # the shard member that holds the prompt
    truth: tuple[str, ...] = ()  # shard members kept as ground truth (validation, evaluation)
    flow: bool = False  # the shard's render flow (``target_forward_flow``), kept when no resize is needed

    def __post_init__(self):
        if self.mask not in ("quadmask", "object", "optional"):
            raise ValueError(f"ClipReads.mask={self.mask!r}: quadmask, object or optional")


if TYPE_CHECKING:
    from datagen.dataset.media import VideoInfo


@dataclass
class Clip:
    """One input: uint8 (T, H, W, 3) video, its prompt, and what the model kind needs."""
    name: str
    video: np.ndarray
    prompt: str
    quadmask: np.ndarray | None = None  # VOID: uint8 (T, H, W), snapped to 0/63/127/255
    flow: np.ndarray | None = None  # VOID from our shards: the render's forward flow (T, h, w, 2)
    truth: dict = field(default_factory=dict)  # ground-truth members when the input came from our shards
    fps: float = 16.0
    path: Path | None = None  # the video file it was read from (None for our shards)
    full_size: tuple[int, int] | None = None  # (width, height) of the input; None: the working size
    full_video: np.ndarray | None = None  # our shards: the input at full size (files are read again instead)
    full_masks: Callable[[tuple[int, int] | None], Iterator[np.ndarray]] | None = None  # full-size quadmask

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the input as given; outputs are written at this size."""
        return self.full_size or (self.video.shape[2], self.video.shape[1])

    def source_frames(self) -> Iterator[np.ndarray]:
        """The input's frames at full size, one at a time."""
        if self.path is not None:
            from datagen.dataset.media import read_frames

            return read_frames(self.path)
        return iter(self.full_video if self.full_video is not None else self.video)

    def mask_frames(self) -> Iterator[np.ndarray]:
        """The quadmask (or the object's mask as 0/255) at full size, one frame at a time."""
        if self.full_masks is not None:
            return self.full_masks(None)
        return iter(self.quadmask)


@dataclass(frozen=True)
class ClipInput:
    """One input found on disk, not yet decoded: its files, prompt and size (``scan_inputs``)."""
    name: str
    video: Path
    info: "VideoInfo"
    prompt: str
    masks: Callable[[tuple[int, int] | None], Iterator[np.ndarray]] | None = None  # quadmask frames at a size


def working_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size a clip of ``width`` x ``height`` is run at: the same aspect with its long side at most
    ``max_side`` (even numbers, never upscaled)."""
    if max_side < 16:
        raise InputError(f"infer.max_side={max_side}: must be at least 16 pixels")
    scale = min(1.0, max_side / max(width, height))
    if scale == 1.0:
        return width, height
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def working_bytes(frames: int, width: int, height: int) -> int:
    """Host memory a clip needs at its working size: the uint8 frames and the float copies the model
    input, the outputs and the previews make of them: about 50 bytes per working-size pixel value for a
    tiny VOID model on the CPU (``benchmarks/inference_memory.py``), rounded up to 60; the model's own
    weights and activations come on top (``benchmarks/inference_arithmetic.py``)."""
    return int(frames * width * height * 3 * 60)


def available_bytes() -> int | None:
    """Memory this process may still use: the machine's MemAvailable, capped by the container's cgroup
    limit and the process's address-space limit (``ulimit -v``); None where none can be read (not Linux)."""
    import resource

    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if text != "max":
            limits.append(int(text) - used)
    except (OSError, ValueError):
        pass
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    return min(limits) if limits else None


def _object_quadmask(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """A segmenter's mask frames (object white, >= 128) in quadmask terms: object 0, everything else 255."""
    from datagen.labels.quadmask import KEEP, OBJECT

    for f in frames:
        yield np.where(f >= 128, OBJECT, KEEP).astype(np.uint8)


def _mask_file(path: Path, object_mask: bool) -> Callable[[tuple[int, int] | None], Iterator[np.ndarray]]:
    """Quadmask frames of a mask video at a size (nearest neighbour: the levels survive)."""
    from datagen.dataset.media import read_mask_frames
    from datagen.labels.quadmask import snap

    def frames(size=None):
        it = read_mask_frames(path, size)
        return _object_quadmask(it) if object_mask else (snap(f) for f in it)
    return frames


def _probe(path: Path) -> "VideoInfo":
    from datagen.dataset.media import MediaError, probe

    try:
        return probe(path)
    except MediaError as e:
        raise InputError(str(e).splitlines()[0]) from None


def _check_mask(video: Path, info, mask_path: Path) -> None:
    """InputError (one line naming the folder) when the mask video does not match the video's header."""
    from datagen.dataset.media import MediaError
    from datagen.void.layout import mask_mismatch

    try:
        why = mask_mismatch(mask_path, video, info)
    except MediaError as e:
        raise InputError(str(e).splitlines()[0]) from None
    if why:
        raise InputError(f"{video.parent}: {why}")


def scan_inputs(path: str, reads: ClipReads, prompt: str | None = None) -> tuple[list[ClipInput], list[str]]:
    """The clips under ``path`` that can be run (see the module docstring), without decoding them, and one
    line per clip that cannot (skipped). A path that holds no clips at all is an ``InputError``."""
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"infer.input={path}: no such folder")
    from datagen.void.layout import iter_quadmask, scan_clips

    folders, skipped_folders = scan_clips(root, need_mask=False)
    skipped = [f"{p}: {why}" for p, why in skipped_folders]
    inputs: list[ClipInput] = []
    if folders or skipped:
        for c in folders:
            text = c.prompt if c.prompt is not None else (prompt or "")
            if reads.mask == "object" and (c.folder / OBJECT_MASK).is_file():
                try:
                    _check_mask(c.video, c.info, c.folder / OBJECT_MASK)
                except InputError as e:
                    skipped.append(str(e))
                    continue
                inputs.append(ClipInput(c.folder.name, c.video, c.info, text,
                                        _mask_file(c.folder / OBJECT_MASK, True)))
            elif c.masks:
                inputs.append(ClipInput(c.folder.name, c.video, c.info, text,
                                        lambda size=None, c=c: iter_quadmask(c, size)))
            elif reads.mask == "optional":
                inputs.append(ClipInput(c.folder.name, c.video, c.info, text))
            else:
                need = ("the quadmask" if reads.mask == "quadmask"
                        else f"{OBJECT_MASK} or a quadmask (the object's mask)")
                skipped.append(f"{c.folder}: no mask ({reads.kind} needs {need})")
        return inputs, skipped
    videos = sorted(p for p in root.glob("*.mp4") if not p.name.endswith(SIDE_VIDEOS))
    if not videos:
        raise InputError(f"infer.input={path}: no dataset.json, no {VOID_LAYOUT[0]} folders and no .mp4 videos")
    for p in videos:
        side = p.with_suffix(".txt")
        text = side.read_text().strip() if side.is_file() else (prompt or "")
        quad, obj = p.with_name(p.stem + ".quadmask.mp4"), p.with_name(p.stem + ".mask.mp4")
        mask_path, object_mask = (obj, True) if reads.mask == "object" and obj.is_file() else (quad, False)
        try:
            info = _probe(p)
            if reads.mask == "quadmask" and not quad.is_file():
                raise InputError(f"{p}: no {quad.name} beside it ({reads.kind} needs the quadmask)")
            if reads.mask == "object" and not mask_path.is_file():
                raise InputError(f"{p}: no {obj.name} (the object's mask) or {quad.name} beside it")
            if reads.prompt_required and not text:
                raise InputError(f"{p}: no instruction ({side.name} or infer.prompt=...)")
            if mask_path.is_file():
                _check_mask(p, info, mask_path)
        except InputError as e:
            skipped.append(str(e))
            continue
        inputs.append(ClipInput(p.stem, p, info, text,
                                _mask_file(mask_path, object_mask) if mask_path.is_file() else None))
    return inputs, skipped


def load_clip(item: ClipInput, max_side: int) -> Clip:
    """An input decoded at its working size (``working_size``): ffmpeg resizes while it decodes, so a 4K
    clip never exists in memory at 4K. The full-size frames are read again, frame by frame, when the
    outputs are written (``Clip.source_frames``, ``Clip.mask_frames``)."""
    from datagen.dataset.media import MediaError, read_frames

    info = item.info
    size = working_size(info.width, info.height, max_side)
    try:
        video = np.stack(list(read_frames(item.video, size, info=info)))
        mask = np.stack(list(item.masks(size))) if item.masks is not None else None
    except MediaError as e:
        raise InputError(str(e).splitlines()[0]) from None
    if mask is not None and mask.shape != video.shape[:3]:
        raise InputError(f"{item.name}: the mask has {len(mask)} frames, the video {len(video)}")
    return Clip(item.name, video, item.prompt, mask, fps=info.fps or 16.0, path=item.video,
                full_size=(info.width, info.height), full_masks=item.masks)


def read_clips(path: str, reads: ClipReads, prompt: str | None = None, limit: int | None = None,
               max_side: int | None = None, skipped: list[str] | None = None) -> Iterator[Clip]:
    """The clips under ``path`` (see the module docstring), in a stable order, at their working size
    (long side at most ``max_side``; None: as stored). Unusable clips are left out, their reasons appended
    to ``skipped`` (or, without a list, the first one raises ``InputError``)."""
    if (Path(path) / "dataset.json").is_file() or "://" in str(path):
        yield from _from_shards(str(path), reads, limit, max_side)
        return
    inputs, bad = scan_inputs(path, reads, prompt)
    if skipped is not None:
        skipped += bad
    elif bad:
        raise InputError(bad[0])
    for item in inputs[:limit]:
        yield load_clip(item, max_side or max(item.info.width, item.info.height))


def resize_frame(frame: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """One frame (H, W[, C]) at ``size`` = (width, height): nearest neighbour for masks, area averaging
    when shrinking, bilinear when enlarging."""
    import cv2

    if (frame.shape[1], frame.shape[0]) == tuple(size):
        return frame
    if nearest:
        mode = cv2.INTER_NEAREST
    else:
        mode = cv2.INTER_AREA if size[0] < frame.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(frame), tuple(size), interpolation=mode)


def resize_frames(video: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    return np.stack([resize_frame(f, size, nearest) for f in video])


def _from_shards(url: str, reads: ClipReads, limit: int | None, max_side: int | None = None) -> Iterator[Clip]:
    from datagen.dataset.reader import iter_samples
    from datagen.dataset.store import SUMMARY, Store

    summary = Store(url).read_json(SUMMARY)
    fps = float(summary["config"]["render"]["fps"])
    for s in iter_samples(url, limit=limit):
        video = s["input_video"]
        h, w = video.shape[1:3]
        size = working_size(w, h, max_side or max(w, h))
        quad = s.get("quadmask")
        if size != (w, h):  # our clips are small: resized in memory, the full-size arrays kept for the outputs
            small = resize_frames(video, size)
            small_quad = resize_frames(quad, size, nearest=True) if quad is not None else None
        else:
            small, small_quad = video, quad
        full = dict(full_size=(w, h), full_video=video, full_masks=(lambda size=None, q=quad: iter(q))
                    if quad is not None else None)
        flow = s.get("target_forward_flow") if reads.flow and size == (w, h) else None
        yield Clip(s["__key__"], small, s[reads.prompt_member], small_quad, flow,
                   truth={k: s[k] for k in reads.truth if k in s}, fps=fps, **full)
