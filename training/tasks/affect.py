"""The affected-region predictor's task: every pixel that changes when the object is removed, from the
input video and the object's mask."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.core.clips import RAW_MEMBERS, affect_clip
from training.tasks.base import tokens, wan_config


class AffectTask:
    """The affected-region predictor (``training/models/affect.py``): per-pixel change logits, trained with
    binary cross-entropy plus a soft Dice term (the region is small, and Dice weighs it against the whole
    frame as IoU does). Frame 0 is left out of the loss: VOID clears it by convention."""
    name = "affect"
    members = RAW_MEMBERS["affect"]
    latent_keys = ("video", "object", "changed")
    mask_keys = ("object", "changed")  # stored as uint8 by training/precompute.py, not as latents
    uses_text = False

    def __init__(self, model_cfg):
        self.cfg = model_cfg
        weights = model_cfg.get("loss_weights") or {}
        for key in ("bce", "dice"):
            value = weights.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"model.loss_weights.{key} must be a number >= 0, got {value!r}")
        if not weights["bce"] + weights["dice"] > 0:
            raise ValueError("model.loss_weights: bce and dice cannot both be 0")
        threshold = model_cfg.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
            raise ValueError(f"model.threshold must be in (0, 1), got {threshold!r}")
        self.weights = {k: float(weights[k]) for k in ("bce", "dice")}
        self.pos_weight = float(model_cfg.pos_weight)
        self.threshold = float(threshold)

    def build_model(self, pretrained: bool = True) -> nn.Module:
        from training.models.affect import build_affect_model

        return build_affect_model(wan_config(self.cfg),
                                  pretrained_path=(self.cfg.get("pretrained") or None) if pretrained else None)

    def clip(self, sample: dict, data_cfg) -> dict:
        return affect_clip(sample, data_cfg)

    @torch.no_grad()
    def encode(self, batch: dict, vae, text=None) -> dict:
        return {"video": vae.encode(batch["video"]), "object": batch["object"].float(),
                "changed": batch["changed"].float()}

    def logits(self, model: nn.Module, lat: dict, device, dtype) -> torch.Tensor:
        return model(lat["video"].to(device, dtype), lat["object"].to(device, dtype))

    def loss(self, model: nn.Module, lat: dict, generator: torch.Generator, flow_cfg, device, dtype):
        logits = self.logits(model, lat, device, dtype)[:, 1:]
        target = lat["changed"].to(device)[:, 1:].float()
        bce = F.binary_cross_entropy_with_logits(logits, target,
                                                 pos_weight=torch.tensor(self.pos_weight, device=device))
        prob = torch.sigmoid(logits)
        dims = tuple(range(1, prob.ndim))
        dice = 1 - ((2 * (prob * target).sum(dims) + 1) / (prob.sum(dims) + target.sum(dims) + 1)).mean()
        total = (self.weights["bce"] * bce + self.weights["dice"] * dice) / sum(self.weights.values())
        with torch.no_grad():
            pred = prob > self.threshold
            truth = target > 0.5
            inter, union = (pred & truth).sum(), (pred | truth).sum()
            iou = inter.float() / union.float() if union > 0 else torch.tensor(1.0)
        return total, {"loss/bce": bce.detach(), "loss/dice": dice.detach(), "iou/changed": iou.detach()}

    def num_tokens(self, lat: dict) -> int:
        return tokens(lat["video"])

    def seq_len(self, lat: dict) -> int:
        return tokens(lat["video"]) // lat["video"].shape[0]
