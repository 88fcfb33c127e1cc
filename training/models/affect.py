"""The affected-region predictor: which pixels change when an object is removed, from the video and the
object's mask alone (what VOID's inference otherwise gets from a VLM, text segmentation and hand fixes).

A Wan2.1 DiT used as a dense predictor, not a generator: one forward pass at timestep 0 with an empty
text context. Its input per latent token is the object mask folded losslessly onto the latent grid (space-
and time-to-depth: each latent cell covers 4 frames x 8 x 8 pixels, 256 channels; the first latent frame
holds frame 0 alone, as in the Wan VAE) beside what ``model.inputs`` names of the video: its VAE latent
(16 channels) and its pixels, folded the same way (768 channels: exact at any scale, where a small or
random VAE loses the detail that says what touches what). Its head unfolds the same way into one logit per
frame and pixel. So masks never pass through the VAE (exact, and no decoder at inference), and the output
has the video's full frame rate and resolution.

Why the Wan family rather than a lighter video network: the inputs are exactly the latents the VOID
trainer already encodes (and ``training/precompute.py`` stores), the model gets the same FSDP2 /
activation-checkpointing / checkpoint / EMA machinery unchanged, and at 1.3B it starts from Wan2.1's
pretrained video features (``model.pretrained``): deciding what an object touches, holds or shadows needs
scene understanding a small network trained on a few thousand simulated pairs would not have.

The predicted region is *change*: every pixel whose content differs without the object (the quadmask's
63 and 127 together). With the object mask it gives the whole quadmask (``datagen.labels.quadmask``):
127 where change is predicted outside the object, 63 where it is inside.
"""
from __future__ import annotations

import math

import torch

from training.models.wan import WanConfig, WanTransformer

LATENT_CHANNELS = 16
TIME_STRIDE, PIXEL_STRIDE = 4, 8  # Wan VAE: 4 frames per latent frame after the first, 8x8 pixels per cell
CELL = TIME_STRIDE * PIXEL_STRIDE * PIXEL_STRIDE  # 256 mask values per latent cell
INPUTS = {"latent": LATENT_CHANNELS, "pixels": 3 * CELL}  # model.inputs: the video's channels per latent cell
PRIOR = 0.05  # initial predicted probability of change (the head's bias): most pixels do not change


def latent_frames(frames: int) -> int:
    if frames < 1 or (frames - 1) % TIME_STRIDE:
        raise ValueError(f"{frames} frames: the affect model needs 4k+1 frames (like the Wan VAE)")
    return (frames - 1) // TIME_STRIDE + 1


def fold(mask: torch.Tensor) -> torch.Tensor:
    """(B, T, H, W) per-frame values -> (B, 256, F, H/8, W/8) on the latent grid, losslessly. Frame 0 is
    repeated to fill the first latent frame's 4 slots (the VAE encodes it alone)."""
    b, t, h, w = mask.shape
    f = latent_frames(t)
    if h % PIXEL_STRIDE or w % PIXEL_STRIDE:
        raise ValueError(f"{w}x{h} px: the affect model needs multiples of {PIXEL_STRIDE}")
    x = torch.cat([mask[:, :1].expand(b, TIME_STRIDE - 1, h, w), mask], dim=1)  # (B, 4F, H, W)
    x = x.reshape(b, f, TIME_STRIDE, h // PIXEL_STRIDE, PIXEL_STRIDE, w // PIXEL_STRIDE, PIXEL_STRIDE)
    return x.permute(0, 2, 4, 6, 1, 3, 5).reshape(b, CELL, f, h // PIXEL_STRIDE, w // PIXEL_STRIDE)


def unfold(x: torch.Tensor) -> torch.Tensor:
    """The inverse of ``fold``: (B, 256, F, h, w) -> (B, 4(F-1)+1, 8h, 8w); of the first latent frame's
    4 slots the last one is frame 0."""
    b, c, f, h, w = x.shape
    if c != CELL:
        raise ValueError(f"unfold needs {CELL} channels, got {c}")
    x = x.reshape(b, TIME_STRIDE, PIXEL_STRIDE, PIXEL_STRIDE, f, h, w).permute(0, 4, 1, 5, 2, 6, 3)
    x = x.reshape(b, f * TIME_STRIDE, h * PIXEL_STRIDE, w * PIXEL_STRIDE)
    return x[:, TIME_STRIDE - 1:]


def check_inputs(inputs) -> tuple[str, ...]:
    """``model.inputs`` as a tuple in the model's channel order (latent first: a pretrained Wan's patch
    filters stay on the latent channels); ValueError, one line, for anything else."""
    names = tuple(str(i) for i in (inputs or ()))
    bad = sorted(set(names) - set(INPUTS))
    if bad or not names or len(set(names)) != len(names):
        raise ValueError(f"model.inputs must be a non-empty list of distinct {sorted(INPUTS)}, got {list(names)}")
    return tuple(k for k in INPUTS if k in names)


def pixel_levels(video: torch.Tensor) -> torch.Tensor:
    """Frames in [-1, 1] -> their uint8 levels 0-255 (as floats): how training stores the pixel input, so
    inference rounds to the same grid."""
    return ((video.float() + 1) * 127.5).round()


def from_levels(levels: torch.Tensor) -> torch.Tensor:
    """The inverse of ``pixel_levels``: uint8 levels -> frames in [-1, 1], the model's pixel input."""
    return levels / 127.5 - 1


def fold_video(video: torch.Tensor) -> torch.Tensor:
    """(B, 3, T, H, W) frames -> (B, 768, F, H/8, W/8): each channel folded like the mask."""
    b, c = video.shape[:2]
    x = fold(video.reshape(b * c, *video.shape[2:]))
    return x.reshape(b, c * CELL, *x.shape[2:])


class AffectModel(WanTransformer):
    """``forward(video_latent (B, 16, F, h, w), object_mask (B, T, 8h, 8w) in {0, 1}, video (B, 3, T, 8h,
    8w) in [-1, 1])`` -> change logits (B, T, 8h, 8w), T = 4(F-1)+1. The inputs not in ``inputs`` are
    ignored (None is fine)."""

    def __init__(self, cfg: WanConfig, inputs=("latent", "pixels")):
        self.inputs = check_inputs(inputs)
        channels = sum(INPUTS[k] for k in self.inputs) + CELL
        # unpatchified, the head gives out_channels values per latent cell: the cell's 256 pixel logits
        super().__init__(cfg.replace(in_channels=channels, out_channels=CELL))
        with torch.no_grad():
            if self.head.proj.bias.device.type != "meta":
                self.head.proj.bias.fill_(math.log(PRIOR / (1 - PRIOR)))

    def forward(self, video_latent: torch.Tensor | None, object_mask: torch.Tensor,
                video: torch.Tensor | None = None) -> torch.Tensor:
        dtype = next(t.dtype for t in (video_latent, video, object_mask) if t is not None and t.is_floating_point())
        parts = {"latent": video_latent, "pixels": None if video is None else fold_video(video.to(dtype))}
        missing = [k for k in self.inputs if parts[k] is None]
        if missing:
            raise ValueError(f"the affect model takes {list(self.inputs)}: {missing} not given")
        x = torch.cat([*(parts[k].to(dtype) for k in self.inputs), fold(object_mask.to(dtype))], dim=1)
        b = x.shape[0]
        timestep = torch.zeros(b, device=x.device)
        context = torch.zeros(b, 1, self.cfg.text_dim, device=x.device, dtype=x.dtype)
        return unfold(super().forward(x, timestep, context)).float()


def build_affect_model(cfg: WanConfig, pretrained_path: str | None = None,
                       inputs=("latent", "pixels")) -> AffectModel:
    """An AffectModel; with ``pretrained_path`` (a Wan2.1 T2V transformer, or an affect checkpoint's export)
    every backbone weight is loaded: the patch embedding keeps its video-latent filters and starts the other
    channels (pixels, mask) at 0, the head (a new output) keeps its fresh initialisation."""
    model = AffectModel(cfg, inputs)
    if pretrained_path:
        from training.models.wan_checkpoint import map_state_dict, read_config, read_state_dict

        base = read_config(pretrained_path)
        if base.replace(in_channels=model.cfg.in_channels, out_channels=model.cfg.out_channels) != model.cfg:
            raise ValueError(f"model.pretrained={pretrained_path}: its config differs from model.size={cfg}")
        state = map_state_dict(read_state_dict(pretrained_path))
        own = model.state_dict()
        w = state["embed.patch_embed.weight"]
        if w.shape != own["embed.patch_embed.weight"].shape:
            widened = torch.zeros_like(own["embed.patch_embed.weight"])
            if "latent" in model.inputs:  # the video-latent filters are the first channels
                widened[:, :w.shape[1]] = w
            state["embed.patch_embed.weight"] = widened
        for k in ("head.proj.weight", "head.proj.bias"):
            if state[k].shape != own[k].shape:
                state[k] = own[k]
        model.load_state_dict(state, strict=True)
    return model
