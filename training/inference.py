"""Running trained Vera and VOID models on clips: inputs, sampling, exact pixel-space compositing.

Inputs (``read_clips``): a dataset written by our generators (a folder with ``dataset.json``), VOID's
per-clip layout (folders holding ``input_video.mp4``, ``quadmask_0.mp4`` and ``prompt.json`` with
``{"bg": "<the scene after removal>"}``), or a folder of videos (``NAME.mp4``, the prompt in ``NAME.txt``
or ``infer.prompt``; for VOID the quadmask in ``NAME.quadmask.mp4``). The affect model needs only the
object's mask: a segmenter's white-on-black ``object_mask.mp4`` in a clip folder or ``NAME.mask.mp4``
beside a video (else the 0/63 pixels of the quadmask, which is what our shards give).

Vera: the three experts are sampled jointly from the source; the delivered video is computed in
pixel space, ``alpha * edit + (1 - alpha) * source`` with alpha on 8-bit levels, so every pixel whose
alpha is 0 is the source pixel, bit for bit. Affect: one forward pass gives every frame's change probability, and with the object's mask the
full quadmask (``Runner.affect``). VOID: pass 1 from Gaussian noise; optionally every
pixel marked 255 outside a dilated edit region is copied from the input; pass 2 (``void.pass2``)
re-samples from noise carried along the optical flow of pass 1's result (OpenCV DIS, or the render
flow stored in our shards), when ``auto`` finds pass 1 morphing (``training/morphing.py``). Long clips
are denoised in overlapping temporal windows blended at every step (``sampling.windowed``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from datagen.void.layout import QUADMASK, VIDEO
from training import sampling as S
from training.data import Fit, clip_frames, plan_fit, video_tensor
from training.morphing import DEFAULT_THRESHOLD

VOID_LAYOUT = (VIDEO, QUADMASK)
OBJECT_MASK = "object_mask.mp4"  # affect input: the removed object white (>= 128) on black, as segmenters export
WAN_NEGATIVE = ("Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, "
                "static, overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, "
                "extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, "
                "fused fingers, still picture, messy background, three legs, many people in the background, "
                "walking backwards")


class InputError(ValueError):
    """An input that cannot be run; the message is one line naming the file."""


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


# -- inputs -------------------------------------------------------------------------------------------

def _read_video(path: Path) -> np.ndarray:
    from datagen.dataset.sample_io import SampleError, decode_mp4

    try:
        return decode_mp4(Path(path).read_bytes())
    except (OSError, SampleError) as e:
        raise InputError(f"{path}: cannot read the video ({e})".splitlines()[0]) from None


def _read_mask(path: Path) -> np.ndarray:
    from datagen.labels.quadmask import snap

    return snap(_read_video(path)[..., 0])


def _read_object_mask(path: Path) -> np.ndarray:
    """A segmenter's mask video (object white, >= 128) in quadmask terms: object 0, everything else 255."""
    from datagen.labels.quadmask import KEEP, OBJECT

    return np.where(_read_video(path).mean(-1) >= 128, OBJECT, KEEP).astype(np.uint8)


def _fps(path: Path, default: float = 16.0) -> float:
    try:
        import imageio_ffmpeg

        meta = next(imageio_ffmpeg.read_frames(str(path)))
        return float(meta.get("fps") or default)
    except Exception:
        return default


def read_clips(path: str, model: str, prompt: str | None = None, limit: int | None = None) -> Iterator[Clip]:
    """The clips under ``path`` (see the module docstring), in a stable order."""
    root = Path(path)
    if (root / "dataset.json").is_file() or "://" in str(path):
        yield from _from_shards(str(path), model, limit)
        return
    if not root.is_dir():
        raise InputError(f"infer.input={path}: no such folder")
    layout = sorted(p for p in ([root] + [d for d in root.iterdir() if d.is_dir()]) if (p / VOID_LAYOUT[0]).is_file())
    n = 0
    if layout:
        for d in layout:
            if limit is not None and n >= limit:
                return
            video = _read_video(d / VOID_LAYOUT[0])
            mask = _read_mask(d / VOID_LAYOUT[1]) if (d / VOID_LAYOUT[1]).is_file() else None
            if model == "affect" and (d / OBJECT_MASK).is_file():
                mask = _read_object_mask(d / OBJECT_MASK)
            if model == "void" and mask is None:
                raise InputError(f"{d}: no {VOID_LAYOUT[1]} (VOID needs the quadmask)")
            if model == "affect" and mask is None:
                raise InputError(f"{d}: no {OBJECT_MASK} or {VOID_LAYOUT[1]} (the affect model needs the object's mask)")
            text = prompt or ""
            if (d / "prompt.json").is_file():
                text = json.loads((d / "prompt.json").read_text()).get("bg", text)
            yield Clip(d.name, video, text, mask, fps=_fps(d / VOID_LAYOUT[0]), path=d / VOID_LAYOUT[0])
            n += 1
        return
    videos = sorted(p for p in root.glob("*.mp4") if not p.name.endswith((".quadmask.mp4", ".mask.mp4")))
    if not videos:
        raise InputError(f"infer.input={path}: no dataset.json, no {VOID_LAYOUT[0]} folders and no .mp4 videos")
    for p in videos:
        if limit is not None and n >= limit:
            return
        side = p.with_suffix(".txt")
        text = side.read_text().strip() if side.is_file() else (prompt or "")
        mask_path = p.with_name(p.stem + ".quadmask.mp4")
        mask = _read_mask(mask_path) if mask_path.is_file() else None
        object_path = p.with_name(p.stem + ".mask.mp4")
        if model == "affect" and object_path.is_file():
            mask = _read_object_mask(object_path)
        if model == "void" and mask is None:
            raise InputError(f"{p}: no {mask_path.name} beside it (VOID needs the quadmask)")
        if model == "affect" and mask is None:
            raise InputError(f"{p}: no {object_path.name} (the object's mask) or {mask_path.name} beside it")
        if model == "vera" and not text:
            raise InputError(f"{p}: no instruction ({side.name} or infer.prompt=...)")
        yield Clip(p.stem, _read_video(p), text, mask, fps=_fps(p), path=p)
        n += 1


def _from_shards(url: str, model: str, limit: int | None) -> Iterator[Clip]:
    from datagen.dataset.reader import open_dataset
    from datagen.dataset.store import SUMMARY, Store

    summary = Store(url).read_json(SUMMARY)
    fps = float(summary["config"]["render"]["fps"])
    for n, s in enumerate(open_dataset(url, shardshuffle=False, split_by_node=False, split_by_worker=False)):
        if limit is not None and n >= limit:
            return
        if model == "vera":
            yield Clip(s["__key__"], s["input_video"], s["edit_instruction"],
                       truth={k: s[k] for k in ("edit_rgb", "edit_alpha", "composite") if k in s}, fps=fps)
        elif model == "affect":
            yield Clip(s["__key__"], s["input_video"], s["caption"], s["quadmask"], truth={"quadmask": s["quadmask"]},
                       fps=fps)
        else:
            yield Clip(s["__key__"], s["input_video"], s["caption"], s["quadmask"], s.get("target_forward_flow"),
                       truth={"target_video": s["target_video"]} if "target_video" in s else {}, fps=fps)


# -- models -------------------------------------------------------------------------------------------

def load_weights(model: torch.nn.Module, path: str, ema: str = "auto") -> dict:
    """Weights of a training checkpoint (a ``step-*`` folder, or a run folder: its newest) into an
    unsharded model; EMA weights when saved (``ema=auto``) or demanded (``true``). Returns what was used."""
    import torch.distributed.checkpoint as dcp

    from training.checkpoint import DONE, list_checkpoints

    p = Path(path)
    if not (p / DONE).is_file():
        found = list_checkpoints(p)
        if not found:
            raise FileNotFoundError(f"infer.checkpoint={path}: no complete checkpoint (no {DONE})")
        p = found[-1]
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

    def fit(self, clip: Clip) -> tuple[int, Fit]:
        t = clip_frames(len(clip.video), self.data_cfg.frames)
        return t, plan_fit(*clip.video.shape[1:3], self.data_cfg.height, self.data_cfg.width)

    def pixels(self, video: np.ndarray, t: int, fit: Fit) -> np.ndarray:
        """The clip as the model sees it, in uint8: the first ``t`` frames, cropped (or resized) like training."""
        x = video_tensor(video, t, fit)  # [-1, 1]
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
        t, fit = self.fit(clip)
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
        out = {b: self._decode(latents[b]) for b in branches}
        alpha = None
        if "alpha" in out:
            alpha = np.round(out["alpha"].astype(np.float32).mean(-1)).astype(np.uint8)
            alpha[alpha < self.settings.alpha_floor] = 0  # an empty layer is exactly empty
        result = {"source": source, "edit": out.get("edit"), "alpha": alpha, "composite": out.get("composite"),
                  "latents": latents}
        if alpha is not None and "edit" in out:
            result["final"] = composite_exact(source, out["edit"], alpha)
        return result

    # -- VOID -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def void_pass(self, clip: Clip, noise: torch.Tensor | None = None, model=None) -> tuple[np.ndarray, dict]:
        """One sampling pass: (uint8 video, latents and pixels used)."""
        from training.models.void_inpaint import quadmask_to_condition

        model = model or self.model
        t, fit = self.fit(clip)
        video = self.pixels(clip.video, t, fit)
        same = Fit(0, 0, fit.out_hw, fit.out_hw)
        cond = quadmask_to_condition(torch.from_numpy(_fit_mask(clip.quadmask[:t], fit)),
                                     keep_overlap=bool(self.task.cfg.keep_overlap))
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
        return self._decode(latent), {"video": video, "quadmask": _fit_mask(clip.quadmask[:t], fit), "fit": fit,
                                      "latent": latent, "frames": t}

    @torch.no_grad()
    def void(self, clip: Clip, opts: "VoidOptions") -> dict:
        """Pass 1, the keep-region guarantee, the morphing check and, when it says so (or always), pass 2."""
        from training.morphing import morph_score, video_flow

        pass1, used = self.void_pass(clip)
        video, mask = used["video"], used["quadmask"]
        if opts.keep_region:
            pass1 = keep_region(pass1, video, mask, opts.keep_dilation)
        report = morph_score(pass1, mask != 255, threshold=opts.morph_threshold)
        run2 = opts.pass2 == "always" or (opts.pass2 == "auto" and report.morphing)
        out = {"source": video, "quadmask": mask, "pass1": pass1, "morphing": report.to_dict(), "pass2_ran": run2,
               "final": pass1}
        if run2:
            if opts.flow == "stored" and clip.flow is not None:
                from training.data import flow_tensor

                flow = flow_tensor(clip.flow, used["frames"], tuple(clip.video.shape[1:3]), used["fit"]).numpy()
                out["flow_source"] = "stored render flow"
            else:
                flow = video_flow(pass1)
                out["flow_source"] = "DIS optical flow of pass 1"
            noise = warped_noise(flow, video.shape[1:3], used["latent"].shape, self.settings.seed + 1).to(self.device)
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
        t = (n - 1 + 3) // 4 * 4 + 1  # the next 4k+1
        resize = bool(self.data_cfg.height or self.data_cfg.width)
        top = left = bottom = right = 0
        if not resize:
            top, bottom, left, right = grid_padding(h, w)
        pad = ((0, t - n), (top, bottom), (left, right))
        frames = np.pad(video, pad + ((0, 0),), mode="edge")
        obj = np.pad(removed, pad, mode="edge")
        fit = plan_fit(*frames.shape[1:3], self.data_cfg.height, self.data_cfg.width)
        x = video_tensor(frames, t, fit)
        m = torch.from_numpy(obj).float()
        if fit.resized:
            m = F.interpolate(m[:, None], size=fit.out_hw, mode="nearest")[:, 0]
        lat = self.vae.encode(x[None]).to(self.device, self.dtype)
        logits = self.model(lat, m[None].to(self.device, self.dtype))[0, :n].float().cpu()
        if fit.resized:
            logits = F.interpolate(logits[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        prob = torch.sigmoid(logits[:, top:top + h, left:left + w]).numpy()
        changed = dilate(prob > float(threshold), int(dilation))
        return {"source": video, "quadmask": quadmask(removed, changed), "probability": prob}

    def _guided(self, predict):
        g = float(self.settings.guidance)
        if g <= 1.0:
            return lambda x, t, start: predict(x, t, start, True)

        def run(x, t, start):
            c, u = predict(x, t, start, True), predict(x, t, start, False)
            return S.tree_map(lambda a, b: b + g * (a - b), c, u)
        return run


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
