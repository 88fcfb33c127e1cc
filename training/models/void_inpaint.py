"""VOID's inpainting model: the Wan2.1 DiT with its input widened to 48 channels
(noisy target latent | VAE-encoded quadmask | VAE-encoded input video). The quadmask's conditioning
values (REFERENCE §1) are ``training/core/clips.py``'s ``quadmask_to_condition``."""
from __future__ import annotations

import torch

from training.models.wan import WanConfig, WanTransformer

LATENT_CHANNELS = 16
VOID_IN_CHANNELS = 3 * LATENT_CHANNELS


def widen_patch_embedding(weight: torch.Tensor, new_in: int = VOID_IN_CHANNELS, init: str = "tile") -> torch.Tensor:
    """A pretrained patch-embedding weight (dim, 16, pt, ph, pw) widened to ``new_in`` input channels.

    ``tile`` (VOID's choice): every new 16-channel group starts as a copy of the pretrained weights, so
    the mask and video latents are read through filters that already understand latents (the initial
    output is the sum of the three groups' embeddings). ``zeros``: only the noisy group keeps the
    weights and the others start at 0, so the widened model initially equals the pretrained one."""
    old = weight.shape[1]
    if new_in % old:
        raise ValueError(f"cannot widen {old} input channels to {new_in} by tiling")
    if init == "tile":
        return weight.repeat(1, new_in // old, 1, 1, 1).clone()
    if init == "zeros":
        out = torch.zeros(weight.shape[0], new_in, *weight.shape[2:], dtype=weight.dtype)
        out[:, :old] = weight
        return out
    raise ValueError(f"init must be tile or zeros, got {init!r}")


def build_void_model(cfg: WanConfig, pretrained_path: str | None = None, init: str = "tile") -> WanTransformer:
    """A 48-channel WanTransformer; with ``pretrained_path`` (a 16-channel Wan2.1 T2V checkpoint, or a
    VOID checkpoint that already has 48 channels) every weight is loaded and the patch embedding widened."""
    model = WanTransformer(cfg.replace(in_channels=VOID_IN_CHANNELS))
    if pretrained_path:
        from training.models.wan_checkpoint import map_state_dict, read_config, read_state_dict

        base = read_config(pretrained_path)
        if base.replace(in_channels=VOID_IN_CHANNELS) != model.cfg:
            raise ValueError(f"model.pretrained={pretrained_path}: its config differs from model.size={cfg}")
        state = map_state_dict(read_state_dict(pretrained_path))
        w = state["embed.patch_embed.weight"]
        if w.shape[1] != VOID_IN_CHANNELS:
            state["embed.patch_embed.weight"] = widen_patch_embedding(w, VOID_IN_CHANNELS, init)
        model.load_state_dict(state, strict=True)
    return model
