"""The sampler runner: a trained Vera, VOID or affect model with its VAE and text encoder, run on one
clip at its working size (``training/inference/inputs.py``), with exact pixel-space compositing;
the checkpoint it loads.
Vera: the three experts are sampled jointly from the source; the delivered video is computed in
pixel space, ``alpha * edit + (1 - alpha) * source`` with alpha on 8-bit levels, so every pixel whose
alpha is 0 is the source pixel, bit for bit. Affect: one forward pass (per window) gives every frame's
change probability, and with the object's mask the full quadmask (``Runner.affect``). VOID: pass 1 from
Gaussian noise; optionally every pixel marked 255 outside a dilated edit region is copied from the input;
pass 2 (``void.pass2``) re-samples from noise carried along the optical flow of pass 1's result (OpenCV
DIS, or the render flow stored in our shards), when ``auto`` finds pass 1 morphing
(``training/inference/morphing.py``). Long clips are denoised in overlapping temporal windows blended at every step
(``sampling.windowed``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from training.core.clips import Fit, padded_frames, plan_fit, video_tensor
from training.inference import sampling as S
from training.inference.inputs import Clip, InputError, resize_frames
from training.inference.morphing import DEFAULT_THRESHOLD


@dataclass
class Settings:
    """How the runner samples: the keys of the same names under ``infer:`` in configs/training/infer.yaml,
    the one source of their defaults (``from_infer``, ``defaults``); validation during training takes
    these too, with ``trainer.validate``'s sampler, steps, shift, guidance and seed on top."""
    sampler: str  # unipc | euler
    steps: int
    shift: float
    guidance: float  # <= 1: no unconditional pass
    negative_prompt: str
    seed: int
    window: int  # latent frames per temporal window (0 or null: the whole clip at once)
    overlap: int  # latent frames shared by neighbouring windows
    alpha_floor: int  # Vera: alpha levels below this (VAE reconstruction noise of an empty layer) are 0

    def __post_init__(self):
        self.sampler, self.negative_prompt = str(self.sampler), str(self.negative_prompt or "")
        self.steps, self.seed, self.window = int(self.steps), int(self.seed), int(self.window or 0)
        self.overlap, self.alpha_floor = int(self.overlap), int(self.alpha_floor)
        self.shift, self.guidance = float(self.shift), float(self.guidance)
        if self.window and not 0 <= self.overlap < self.window:
            raise ValueError(f"infer.overlap={self.overlap}: must be in [0, infer.window={self.window})")
        if not 0 <= self.alpha_floor <= 255:
            raise ValueError(f"infer.alpha_floor={self.alpha_floor}: must be in [0, 255]")
        self.schedule()  # a bad sampler or step count fails here, before any clip

    @classmethod
    def from_infer(cls, infer, **changes) -> "Settings":
        """The settings of an ``infer:`` section (a DictConfig or dict), with ``changes`` on top."""
        return cls(**{f.name: changes.get(f.name, getattr(infer, f.name)) for f in dataclasses.fields(cls)})

    @classmethod
    def defaults(cls, **changes) -> "Settings":
        """infer.yaml's values, with ``changes`` on top."""
        from training.core.sections import InferConfig

        return cls.from_infer(InferConfig.defaults(), **changes)

    def schedule(self) -> S.Schedule:
        return S.schedule(self.sampler, self.steps, self.shift)


@dataclass
class VoidOptions:
    pass2: str = "auto"  # auto | always | never
    flow: str = "dis"  # dis | stored (the render flow our shards store)
    keep_region: bool = False
    keep_dilation: int = 8
    morph_threshold: float = DEFAULT_THRESHOLD
    pass2_model: torch.nn.Module | None = None  # None: the pass-1 model
    pass2_checkpoint: str | None = None  # where pass2_model came from (for settings.json)

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
        t = padded_frames(n)
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

        guided = S.guided(predict, self.settings.guidance)
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
        from training.core.clips import quadmask_to_condition

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

        latent = self._sample(S.guided(predict, self.settings.guidance), noise, vid_lat.shape[2])
        decoded = self._decode(latent)
        return plan.unfit(decoded), {"video": video, "quadmask": mask, "fit": fit, "plan": plan, "latent": latent,
                                     "frames": t, "model_output": decoded}

    @torch.no_grad()
    def void(self, clip: Clip, opts: "VoidOptions") -> dict:
        """Pass 1, the keep-region guarantee, the morphing check and, when it says so (or always), pass 2;
        every video at the clip's working size."""
        from training.inference.morphing import morph_score, video_flow

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
                from training.core.clips import flow_tensor

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

        from training.models.affect import from_levels, pixel_levels

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
            pixels = from_levels(pixel_levels(x[None]))  # on the uint8 grid, as training stores them
            out = self.model(lat, m[None].to(self.device, self.dtype), pixels.to(self.device, self.dtype))
            out = out[0, :win].float().cpu()
            if len(starts) == 1:
                return out
            ramp = torch.minimum(torch.arange(1, win + 1), torch.arange(win, 0, -1)).float().view(-1, 1, 1)
            if total is None:
                total, weight = torch.zeros((t, *out.shape[1:])), torch.zeros(t, 1, 1)
            total[s:s + win] += out * ramp
            weight[s:s + win] += ramp
        return total / weight

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
            video = resize_frames(video, (self.w + left + right, self.h + top + bottom))
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
    from training.core.noise_warp import latent_flow, warp_noise

    g = torch.Generator().manual_seed(int(seed))
    flow = latent_flow(torch.as_tensor(np.asarray(flow_px, np.float32)), video_hw, tuple(latent_shape[-2:]))
    flow = flow[: latent_shape[2] - 1]
    return warp_noise(flow, latent_shape[1], g)[None]
