"""Running trained Vera, VOID and affect models on clips of any size: inputs, sampling, exact pixel-space
compositing.

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
back at the input's own size and frame count, frame by frame (``training/infer_run.py``): delivered
source pixels and the object's 0/63 pixels come from the full-resolution input, probabilities, alpha and
edits are upsampled.

Vera: the three experts are sampled jointly from the source; the delivered video is computed in
pixel space, ``alpha * edit + (1 - alpha) * source`` with alpha on 8-bit levels, so every pixel whose
alpha is 0 is the source pixel, bit for bit. Affect: one forward pass (per window) gives every frame's
change probability, and with the object's mask the full quadmask (``Runner.affect``). VOID: pass 1 from
Gaussian noise; optionally every pixel marked 255 outside a dilated edit region is copied from the input;
pass 2 (``void.pass2``) re-samples from noise carried along the optical flow of pass 1's result (OpenCV
DIS, or the render flow stored in our shards), when ``auto`` finds pass 1 morphing
(``training/morphing.py``). Long clips are denoised in overlapping temporal windows blended at every step
(``sampling.windowed``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import torch

from datagen.void.layout import QUADMASK, VIDEO
from training import sampling as S
from training.data import Fit, plan_fit, video_tensor
from training.morphing import DEFAULT_THRESHOLD

VOID_LAYOUT = (VIDEO, QUADMASK)
SIDE_VIDEOS = (".quadmask.mp4", ".mask.mp4", ".alpha.mp4")  # beside NAME.mp4 in a folder of videos: not inputs
OBJECT_MASK = "object_mask.mp4"  # affect input: the removed object white (>= 128) on black, as segmenters export
WAN_NEGATIVE = ("Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, "
                "static, overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, "
                "extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, "
                "fused fingers, still picture, messy background, three legs, many people in the background, "
                "walking backwards")


class InputError(ValueError):
    """An input that cannot be run; the message is one line naming the file."""


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


# -- inputs -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipInput:
    """One input found on disk, not yet decoded: its files, prompt and size (``scan_inputs``)."""
    name: str
    video: Path
    info: "VideoInfo"
    prompt: str
    masks: Callable[[tuple[int, int] | None], Iterator[np.ndarray]] | None = None  # quadmask frames at a size
    object_mask: bool = False  # the masks are a segmenter's object mask (object white), not a quadmask


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


def _check_mask(name: str, info, mask_path: Path) -> None:
    m = _probe(mask_path)
    if (m.width, m.height, m.frames) != (info.width, info.height, info.frames):
        raise InputError(f"{mask_path}: {m.frames} frames of {m.width}x{m.height}, but the video has "
                         f"{info.frames} frames of {info.width}x{info.height}")


def scan_inputs(path: str, model: str, prompt: str | None = None) -> tuple[list[ClipInput], list[str]]:
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
            if model == "affect" and (c.folder / OBJECT_MASK).is_file():
                try:
                    _check_mask(c.folder.name, c.info, c.folder / OBJECT_MASK)
                except InputError as e:
                    skipped.append(str(e))
                    continue
                inputs.append(ClipInput(c.folder.name, c.video, c.info, text,
                                        _mask_file(c.folder / OBJECT_MASK, True), True))
            elif c.masks:
                inputs.append(ClipInput(c.folder.name, c.video, c.info, text,
                                        lambda size=None, c=c: iter_quadmask(c, size)))
            elif model == "vera":
                inputs.append(ClipInput(c.folder.name, c.video, c.info, text))
            else:
                need = "the quadmask" if model == "void" else f"{OBJECT_MASK} or a quadmask (the object's mask)"
                skipped.append(f"{c.folder}: no mask ({model} needs {need})")
        return inputs, skipped
    videos = sorted(p for p in root.glob("*.mp4") if not p.name.endswith(SIDE_VIDEOS))
    if not videos:
        raise InputError(f"infer.input={path}: no dataset.json, no {VOID_LAYOUT[0]} folders and no .mp4 videos")
    for p in videos:
        side = p.with_suffix(".txt")
        text = side.read_text().strip() if side.is_file() else (prompt or "")
        quad, obj = p.with_name(p.stem + ".quadmask.mp4"), p.with_name(p.stem + ".mask.mp4")
        mask_path, object_mask = (obj, True) if model == "affect" and obj.is_file() else (quad, False)
        try:
            info = _probe(p)
            if model == "void" and not quad.is_file():
                raise InputError(f"{p}: no {quad.name} beside it (VOID needs the quadmask)")
            if model == "affect" and not mask_path.is_file():
                raise InputError(f"{p}: no {obj.name} (the object's mask) or {quad.name} beside it")
            if model == "vera" and not text:
                raise InputError(f"{p}: no instruction ({side.name} or infer.prompt=...)")
            if mask_path.is_file():
                _check_mask(p.stem, info, mask_path)
        except InputError as e:
            skipped.append(str(e))
            continue
        inputs.append(ClipInput(p.stem, p, info, text,
                                _mask_file(mask_path, object_mask) if mask_path.is_file() else None, object_mask))
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


def read_clips(path: str, model: str, prompt: str | None = None, limit: int | None = None,
               max_side: int | None = None, skipped: list[str] | None = None) -> Iterator[Clip]:
    """The clips under ``path`` (see the module docstring), in a stable order, at their working size
    (long side at most ``max_side``; None: as stored). Unusable clips are left out, their reasons appended
    to ``skipped`` (or, without a list, the first one raises ``InputError``)."""
    if (Path(path) / "dataset.json").is_file() or "://" in str(path):
        yield from _from_shards(str(path), model, limit, max_side)
        return
    inputs, bad = scan_inputs(path, model, prompt)
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


def _resize_frames(video: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    return np.stack([resize_frame(f, size, nearest) for f in video])


def _from_shards(url: str, model: str, limit: int | None, max_side: int | None = None) -> Iterator[Clip]:
    from datagen.dataset.reader import open_dataset
    from datagen.dataset.store import SUMMARY, Store

    summary = Store(url).read_json(SUMMARY)
    fps = float(summary["config"]["render"]["fps"])
    for n, s in enumerate(open_dataset(url, shardshuffle=False, split_by_node=False, split_by_worker=False)):
        if limit is not None and n >= limit:
            return
        video = s["input_video"]
        h, w = video.shape[1:3]
        size = working_size(w, h, max_side or max(w, h))
        quad = s.get("quadmask")
        if size != (w, h):  # our clips are small: resized in memory, the full-size arrays kept for the outputs
            small = _resize_frames(video, size)
            small_quad = _resize_frames(quad, size, nearest=True) if quad is not None else None
        else:
            small, small_quad = video, quad
        full = dict(full_size=(w, h), full_video=video, full_masks=(lambda size=None, q=quad: iter(q))
                    if quad is not None else None)
        if model == "vera":
            yield Clip(s["__key__"], small, s["edit_instruction"],
                       truth={k: s[k] for k in ("edit_rgb", "edit_alpha", "composite") if k in s}, fps=fps, **full)
        elif model == "affect":
            yield Clip(s["__key__"], small, s["caption"], small_quad, truth={"quadmask": quad}, fps=fps, **full)
        else:
            yield Clip(s["__key__"], small, s["caption"], small_quad,
                       s.get("target_forward_flow") if size == (w, h) else None,
                       truth={"target_video": s["target_video"]} if "target_video" in s else {}, fps=fps, **full)


# -- models -------------------------------------------------------------------------------------------

def resolve_checkpoint(path: str) -> Path:
    """A complete checkpoint folder: ``path`` itself (a ``step-*`` folder), or a run folder's newest."""
    from training.checkpoint import DONE, list_checkpoints

    p = Path(path)
    if not (p / DONE).is_file():
        found = list_checkpoints(p) if p.is_dir() else []
        if not found:
            raise FileNotFoundError(f"infer.checkpoint={path}: no complete checkpoint (no {DONE})")
        p = found[-1]
    return p


def load_weights(model: torch.nn.Module, path: str, ema: str = "auto") -> dict:
    """Weights of a training checkpoint (a ``step-*`` folder, or a run folder: its newest) into an
    unsharded model; EMA weights when saved (``ema=auto``) or demanded (``true``). Returns what was used."""
    import torch.distributed.checkpoint as dcp

    from training.checkpoint import DONE

    p = resolve_checkpoint(path)
    info = json.loads((p / DONE).read_text())
    use_ema = bool(info.get("ema")) if ema == "auto" else ema in (True, "true")
    if use_ema and not info.get("ema"):
        raise ValueError(f"infer.checkpoint={p}: infer.ema=true but the checkpoint has no EMA weights")
    if use_ema:
        from training.optim import EMA

        shadow = EMA(model, 0.0).state_dict()
        state = {"ema": shadow}
        dcp.load(state, checkpoint_id=str(p), no_dist=True)
        model.load_state_dict({**model.state_dict(), **state["ema"]}, strict=True)
    else:
        state = {"model": model.state_dict()}
        dcp.load(state, checkpoint_id=str(p), no_dist=True)
        model.load_state_dict(state["model"], strict=True)
    return {"checkpoint": str(p), "step": int(info["step"]), "ema": use_ema}


@dataclass
class Settings:
    sampler: str = "unipc"
    steps: int = 30
    shift: float = 3.0
    guidance: float = 5.0
    negative_prompt: str = WAN_NEGATIVE
    seed: int = 0
    window: int = 0  # latent frames per temporal window (0: the whole clip at once)
    overlap: int = 4
    alpha_floor: int = 8  # Vera: alpha levels below this (VAE reconstruction noise of an empty layer) are 0

    def schedule(self) -> S.Schedule:
        return S.schedule(self.sampler, int(self.steps), float(self.shift))


@dataclass
class VoidOptions:
    pass2: str = "auto"  # auto | always | never
    flow: str = "dis"  # dis | stored (the render flow our shards store)
    keep_region: bool = False
    keep_dilation: int = 8
    morph_threshold: float = DEFAULT_THRESHOLD
    pass2_model: torch.nn.Module | None = None  # None: the pass-1 model

    def __post_init__(self):
        if self.pass2 not in ("auto", "always", "never"):
            raise ValueError(f"void.pass2={self.pass2!r}; choose from auto, always, never")
        if self.flow not in ("dis", "stored"):
            raise ValueError(f"void.flow={self.flow!r}; choose from dis, stored")


class Runner:
    """A model with its VAE and text encoder on one device, and the sampling settings."""

    def __init__(self, task, model, vae, text, settings: Settings, device, dtype, data_cfg):
        self.task, self.model, self.vae, self.text = task, model.eval(), vae, text
        self.settings, self.device, self.dtype, self.data_cfg = settings, device, dtype, data_cfg

    def plan(self, video: np.ndarray) -> "Plan":
        """How a working-size clip becomes the model's input and back (``Plan``)."""
        n, h, w = video.shape[:3]
        resize = bool(self.data_cfg.height or self.data_cfg.width)
        top, bottom, left, right = (0, 0, 0, 0) if resize else grid_padding(h, w)
        t = (n - 1 + 3) // 4 * 4 + 1  # the next 4k+1
        fit = plan_fit(h + top + bottom, w + left + right, self.data_cfg.height, self.data_cfg.width)
        return Plan(n, h, w, t, ((0, t - n), (top, bottom), (left, right)), fit)

    def fit(self, clip: Clip) -> tuple[int, Fit]:
        plan = self.plan(clip.video)
        return plan.frames, plan.fit

    def pixels(self, video: np.ndarray, t: int, fit: Fit) -> np.ndarray:
        """The clip as the model sees it, in uint8: every frame (repeated to 4k+1), padded to the 16-pixel
        grid (or resized like training)."""
        x = video_tensor(self.plan(video).pad(video), t, fit)  # [-1, 1]
        return np.round((x.permute(1, 2, 3, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)

    def _context(self, prompt: str):
        return (self.text.encode([prompt]).to(self.device, self.dtype),
                self.text.encode([self.settings.negative_prompt or ""]).to(self.device, self.dtype))

    def _decode(self, latent) -> np.ndarray:
        video = self.vae.decode(latent.float())[0]  # (3, T, H, W) in [-1, 1]
        return np.round((video.permute(1, 2, 3, 0).cpu().numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)

    def _sample(self, predict, noise, window_frames: int):
        st = self.settings
        if st.window and window_frames > st.window:
            predict = S.windowed(predict, window_frames, int(st.window), int(st.overlap))
        else:
            base = predict
            predict = lambda x, t: base(x, t, 0)  # noqa: E731
        return S.sample(predict, noise, st.schedule())

    # -- Vera -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def vera(self, clip: Clip) -> dict:
        """The three layers at the clip's working size, and the delivered video ``final``."""
        plan = self.plan(clip.video)
        t, fit = plan.frames, plan.fit
        source = self.pixels(clip.video, t, fit)
        src_lat = self.vae.encode(video_tensor(source, t, Fit(0, 0, fit.out_hw, fit.out_hw))[None]).to(self.device)
        ctx, neg = self._context(clip.prompt)
        branches = self.model.branches
        noise = {b: S.initial_noise(src_lat.shape, self.settings.seed + k, self.device) for k, b in enumerate(branches)}
        frames = src_lat.shape[2]

        def predict(x, timestep, start, conditional=True):
            n = next(iter(x.values())).shape[2]
            src = src_lat[:, :, start:start + n].to(self.dtype)
            out = self.model({b: v.to(self.dtype) for b, v in x.items()}, src,
                             timestep.reshape(1).to(self.device, self.dtype), ctx if conditional else neg)
            return {b: v.float() for b, v in out.items()}

        guided = self._guided(predict)
        latents = self._sample(guided, noise, frames)
        out = {b: plan.unfit(self._decode(latents[b])) for b in branches}
        alpha = None
        if "alpha" in out:
            alpha = np.round(out["alpha"].astype(np.float32).mean(-1)).astype(np.uint8)
            alpha[alpha < self.settings.alpha_floor] = 0  # an empty layer is exactly empty
        result = {"source": clip.video, "edit": out.get("edit"), "alpha": alpha, "composite": out.get("composite"),
                  "latents": latents}
        if alpha is not None and "edit" in out:
            result["final"] = composite_exact(clip.video, out["edit"], alpha)
        return result

    # -- VOID -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def void_pass(self, clip: Clip, noise: torch.Tensor | None = None, model=None) -> tuple[np.ndarray, dict]:
        """One sampling pass: (uint8 video at the working size, what the model used: its input pixels,
        quadmask, latents, the model-size output)."""
        from training.models.void_inpaint import quadmask_to_condition

        model = model or self.model
        plan = self.plan(clip.video)
        t, fit = plan.frames, plan.fit
        video = self.pixels(clip.video, t, fit)
        same = Fit(0, 0, fit.out_hw, fit.out_hw)
        mask = _fit_mask(plan.pad(clip.quadmask), fit)
        cond = quadmask_to_condition(torch.from_numpy(mask), keep_overlap=bool(self.task.cfg.keep_overlap))
        mask_px = (cond.float().unsqueeze(0) * 2 - 1).expand(3, -1, -1, -1)
        vid_lat = self.vae.encode(video_tensor(video, t, same)[None]).to(self.device)
        mask_lat = self.vae.encode(mask_px[None]).to(self.device)
        ctx, neg = self._context(clip.prompt)
        if noise is None:
            noise = S.initial_noise(vid_lat.shape, self.settings.seed, self.device)

        def predict(x, timestep, start, conditional=True):
            n = x.shape[2]
            inp = torch.cat([x, mask_lat[:, :, start:start + n], vid_lat[:, :, start:start + n]], 1).to(self.dtype)
            return model(inp, timestep.reshape(1).to(self.device, self.dtype), ctx if conditional else neg).float()

        latent = self._sample(self._guided(predict), noise, vid_lat.shape[2])
        decoded = self._decode(latent)
        return plan.unfit(decoded), {"video": video, "quadmask": mask, "fit": fit, "plan": plan, "latent": latent,
                                     "frames": t, "model_output": decoded}

    @torch.no_grad()
    def void(self, clip: Clip, opts: "VoidOptions") -> dict:
        """Pass 1, the keep-region guarantee, the morphing check and, when it says so (or always), pass 2;
        every video at the clip's working size."""
        from training.morphing import morph_score, video_flow

        video, mask = clip.video, clip.quadmask
        pass1, used = self.void_pass(clip)
        if opts.keep_region:
            pass1 = keep_region(pass1, video, mask, opts.keep_dilation)
        report = morph_score(pass1, mask != 255, threshold=opts.morph_threshold)
        run2 = opts.pass2 == "always" or (opts.pass2 == "auto" and report.morphing)
        out = {"source": video, "quadmask": mask, "pass1": pass1, "morphing": report.to_dict(), "pass2_ran": run2,
               "final": pass1}
        if run2:
            plan = used["plan"]
            if opts.flow == "stored" and clip.flow is not None and not plan.padded:
                from training.data import flow_tensor

                flow = flow_tensor(clip.flow, used["frames"], tuple(video.shape[1:3]), used["fit"]).numpy()
                out["flow_source"] = "stored render flow"
            else:
                flow = video_flow(used["model_output"])
                out["flow_source"] = "DIS optical flow of pass 1"
            model_hw = used["model_output"].shape[1:3]
            noise = warped_noise(flow, model_hw, used["latent"].shape, self.settings.seed + 1).to(self.device)
            pass2, _ = self.void_pass(clip, noise=noise, model=opts.pass2_model)
            if opts.keep_region:
                pass2 = keep_region(pass2, video, mask, opts.keep_dilation)
            out["pass2"] = out["final"] = pass2
        return out

    # -- affect -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def affect(self, clip: Clip, threshold: float = 0.5, dilation: int = 0) -> dict:
        """The full quadmask of a clip from its video and the object's mask (the 0 and 63 pixels of
        ``clip.quadmask``), for every frame and pixel of the clip as given: frames are padded to 4k+1 by
        repeating the last one and pixels to multiples of 16 by repeating the edge, placed so that the
        centred crop the trainer cut from such clips lands on the same 16-pixel grid (or the clip is
        resized to data.height/width and the probabilities resized back), then cut back. 127 = predicted change
        outside the object, grown by ``dilation`` pixels; 63 = inside it; frame 0 cleared as VOID does."""
        import torch.nn.functional as F

        from datagen.labels.quadmask import dilate, quadmask, removed_region

        video = clip.video
        if clip.quadmask is None:
            raise InputError(f"{clip.name}: no object mask")
        n, h, w = video.shape[:3]
        if clip.quadmask.shape[0] < n or clip.quadmask.shape[1:] != (h, w):
            raise InputError(f"{clip.name}: the mask ({clip.quadmask.shape[0]} frames of "
                             f"{clip.quadmask.shape[2]}x{clip.quadmask.shape[1]}) does not cover the video "
                             f"({n} frames of {w}x{h})")
        removed = removed_region(clip.quadmask[:n])
        plan = self.plan(video)
        frames, obj, fit = plan.pad(video), plan.pad(removed), plan.fit
        logits = self._affect_logits(frames, obj, fit)[:n]
        if fit.resized:
            logits = F.interpolate(logits[:, None], size=frames.shape[1:3], mode="bilinear", align_corners=False)[:, 0]
        (top, _), (left, _) = plan.pad_width[1], plan.pad_width[2]
        prob = torch.sigmoid(logits[:, top:top + h, left:left + w]).numpy()
        changed = dilate(prob > float(threshold), int(dilation))
        return {"source": video, "quadmask": quadmask(removed, changed), "probability": prob}

    def _affect_logits(self, frames: np.ndarray, obj: np.ndarray, fit: Fit) -> torch.Tensor:
        """Change logits (T, H', W') of padded frames: one forward pass, or for clips longer than
        ``infer.window`` latent frames, overlapping windows of 4k+1 frames (each encoded on its own, as
        training clips are) whose logits are blended linearly where they overlap."""
        import torch.nn.functional as F

        t = len(frames)
        win = int(self.settings.window) * 4 + 1 if self.settings.window else t
        if t <= win:
            starts = [0]
            win = t
        else:
            step = max(4, (int(self.settings.window) - int(self.settings.overlap)) * 4)
            starts = list(range(0, t - win, step)) + [t - win]
        total = weight = None
        for s in starts:
            x = video_tensor(frames[s:s + win], win, fit)
            m = torch.from_numpy(np.ascontiguousarray(obj[s:s + win])).float()
            if fit.resized:
                m = F.interpolate(m[:, None], size=fit.out_hw, mode="nearest")[:, 0]
            lat = self.vae.encode(x[None]).to(self.device, self.dtype)
            out = self.model(lat, m[None].to(self.device, self.dtype))[0, :win].float().cpu()
            if len(starts) == 1:
                return out
            ramp = torch.minimum(torch.arange(1, win + 1), torch.arange(win, 0, -1)).float().view(-1, 1, 1)
            if total is None:
                total, weight = torch.zeros((t, *out.shape[1:])), torch.zeros(t, 1, 1)
            total[s:s + win] += out * ramp
            weight[s:s + win] += ramp
        return total / weight

    def _guided(self, predict):
        g = float(self.settings.guidance)
        if g <= 1.0:
            return lambda x, t, start: predict(x, t, start, True)

        def run(x, t, start):
            c, u = predict(x, t, start, True), predict(x, t, start, False)
            return S.tree_map(lambda a, b: b + g * (a - b), c, u)
        return run


@dataclass(frozen=True)
class Plan:
    """A working-size clip (``n`` frames of ``h`` x ``w``) as the model runs it: frames repeated to the
    next 4k+1 (``frames``) and pixels padded by repeating the edge (``pad_width``, see ``grid_padding``),
    then fitted like training (``fit``: identity, or a resize to data.height/width); ``unfit`` undoes it."""
    n: int
    h: int
    w: int
    frames: int
    pad_width: tuple
    fit: Fit

    @property
    def padded(self) -> bool:
        return any(a or b for a, b in self.pad_width)

    def pad(self, array: np.ndarray) -> np.ndarray:
        """(n, h, w, ...) -> (frames, H, W, ...), edges repeated."""
        if not self.padded:
            return array[:self.frames]
        return np.pad(array[:self.n], self.pad_width + ((0, 0),) * (array.ndim - 3), mode="edge")

    def unfit(self, video: np.ndarray) -> np.ndarray:
        """A model-size uint8 (frames, H', W', C) output back at the working size (n, h, w, C)."""
        (top, bottom), (left, right) = self.pad_width[1], self.pad_width[2]
        if self.fit.resized:
            video = _resize_frames(video, (self.w + left + right, self.h + top + bottom))
            video = video if video.ndim == 4 else video[..., None]
        return np.ascontiguousarray(video[:self.n, top:top + self.h, left:left + self.w])


def grid_padding(h: int, w: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) pixels that pad an h x w frame to multiples of 16 so that the centred crop
    the trainer cuts from such frames (``plan_fit``) keeps its place on the 16-pixel token grid: a model
    sees every pixel in the same position within its latent cell and token as in training."""
    crop = plan_fit(h, w, None, None)
    top, left = -crop.top % 16, -crop.left % 16
    return top, -(h + top) % 16, left, -(w + left) % 16


def _fit_mask(mask: np.ndarray, fit: Fit) -> np.ndarray:
    """A quadmask cut like its video (nearest neighbour when resized: values stay exact)."""
    m = mask[:, fit.top:fit.top + fit.crop_hw[0], fit.left:fit.left + fit.crop_hw[1]]
    if fit.resized:
        import torch.nn.functional as F

        m = F.interpolate(torch.from_numpy(np.ascontiguousarray(m))[:, None].float(), size=fit.out_hw,
                          mode="nearest")[:, 0].to(torch.uint8).numpy()
    return np.ascontiguousarray(m)


def composite_exact(source: np.ndarray, edit: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha * edit + (1 - alpha) * source`` on 8-bit levels (alpha uint8 (T, H, W)); where alpha is 0
    the result is the source pixel itself, bit for bit."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    mixed = np.round(a * edit.astype(np.float32) + (1 - a) * source.astype(np.float32)).clip(0, 255).astype(np.uint8)
    return np.where((alpha == 0)[..., None], source, mixed)


def keep_region(result: np.ndarray, video: np.ndarray, quadmask: np.ndarray, dilation: int) -> np.ndarray:
    """Every pixel marked keep (255) outside the edit region (0/63/127) grown by ``dilation`` pixels is the
    input pixel: the model can only change what the quadmask allows, plus a seam margin."""
    from datagen.labels.quadmask import KEEP, dilate

    edit = dilate(quadmask != KEEP, int(dilation))
    return np.where(edit[..., None], result, video)


def warped_noise(flow_px: np.ndarray, video_hw: tuple[int, int], latent_shape, seed: int) -> torch.Tensor:
    """Pass 2's starting noise: Gaussian noise carried along a pixel forward flow (T, h, w, 2) in
    (d_row, d_col), resampled to latent frames and pixels (the training noise warp, no degradation)."""
    from training.noise_warp import latent_flow, warp_noise

    g = torch.Generator().manual_seed(int(seed))
    flow = latent_flow(torch.as_tensor(np.asarray(flow_px, np.float32)), video_hw, tuple(latent_shape[-2:]))
    flow = flow[: latent_shape[2] - 1]
    return warp_noise(flow, latent_shape[1], g)[None]
