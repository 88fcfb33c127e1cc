"""What every task shares: the Wan config of ``model.*`` and token counting."""
from __future__ import annotations

import torch


def wan_config(model_cfg):
    from training.models.wan import WanConfig

    overrides = dict(model_cfg.get("overrides") or {})
    return WanConfig.preset(str(model_cfg.size), **overrides)


def tokens(latent: torch.Tensor, patch=(1, 2, 2)) -> int:
    """Transformer tokens of a latent batch (B, C, F, H, W)."""
    b, _, f, h, w = latent.shape
    return b * (f // patch[0]) * (h // patch[1]) * (w // patch[2])
