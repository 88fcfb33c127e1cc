"""What each model trains on and how its loss is computed: ``VeraTask`` (three branches: edit layer,
alpha, composite, conditioned on the source video), ``VoidTask`` (target video conditioned on the
quadmask and the input video; Gaussian noise in pass 1, flow-warped noise in pass 2) and ``AffectTask``
(every pixel that changes when the object is removed, from the input video and the object's mask).

A task turns a batch of pixel clips into latents (``encode``; also what ``training/precompute.py``
stores) and latents into a loss (``loss``). Latent dicts hold float32 tensors with a batch dimension.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training import flow_matching as fm
from training.data import RAW_MEMBERS, affect_clip, vera_clip, void_clip


def wan_config(model_cfg):
    from training.models.wan import WanConfig

    overrides = dict(model_cfg.get("overrides") or {})
    return WanConfig.preset(str(model_cfg.size), **overrides)


def tokens(latent: torch.Tensor, patch=(1, 2, 2)) -> int:
    """Transformer tokens of a latent batch (B, C, F, H, W)."""
    b, _, f, h, w = latent.shape
    return b * (f // patch[0]) * (h // patch[1]) * (w // patch[2])


class VeraTask:
    name = "vera"
    members = RAW_MEMBERS["vera"]
    latent_keys = ("source", "edit", "alpha", "composite", "context")

    def __init__(self, model_cfg):
        self.cfg = model_cfg
        self.branches = tuple(model_cfg.branches)
        self.weights = {b: float(model_cfg.loss_weights[b]) for b in self.branches}

    def build_model(self, pretrained: bool = True) -> nn.Module:
        """The model, with ``model.pretrained`` loaded unless ``pretrained=False`` (a meta-device
        skeleton whose weights come from elsewhere)."""
        from training.models.vera_mot import VeraMoT
        from training.models.wan_checkpoint import read_config, wan_from_pretrained

        cfg = wan_config(self.cfg)
        model = VeraMoT(cfg, branches=self.branches)
        if pretrained and self.cfg.get("pretrained"):
            path = str(self.cfg.pretrained)
            base = read_config(path)
            if base != cfg:
                raise ValueError(f"model.pretrained={path}: its config differs from model.size={self.cfg.size} "
                                 f"({base} vs {cfg})")
            model.load_backbone(wan_from_pretrained(path))
        return model

    def clip(self, sample: dict, data_cfg) -> dict:
        return vera_clip(sample, data_cfg)

    @torch.no_grad()
    def encode(self, batch: dict, vae, text) -> dict:
        out = {k: vae.encode(batch[k]) for k in ("source", "edit", "alpha", "composite")}
        out["context"] = text.encode(batch["prompt"])
        return out

    def loss(self, model: nn.Module, lat: dict, generator: torch.Generator, flow_cfg, device, dtype):
        b = lat["source"].shape[0]
        sigma = fm.sample_sigmas(b, generator, flow_cfg.sampling, float(flow_cfg.shift))
        noise = {k: torch.randn(lat[k].shape, generator=generator) for k in self.branches}
        x0 = {k: lat[k].to(device) for k in self.branches}
        xt = {k: fm.noisy(x0[k], noise[k].to(device), sigma.to(device)).to(dtype) for k in self.branches}
        pred = model(xt, lat["source"].to(device, dtype), (sigma * 1000).to(device, dtype),
                     lat["context"].to(device, dtype))
        parts = {k: F.mse_loss(pred[k].float(), fm.velocity(x0[k], noise[k].to(device)).float())
                 for k in self.branches}
        total = sum(self.weights[k] * parts[k] for k in self.branches) / sum(self.weights.values())
        return total, {f"loss/{k}": v.detach() for k, v in parts.items()}

    def num_tokens(self, lat: dict) -> int:
        return tokens(lat["source"]) * len(self.branches)

    def seq_len(self, lat: dict) -> int:
        """Tokens of one sample of one branch (what ``flops_per_token`` takes)."""
        return tokens(lat["source"]) // lat["source"].shape[0]


class VoidTask:
    name = "void"
    members = RAW_MEMBERS["void"]
    latent_keys = ("target", "mask", "video", "flow", "context")

    def __init__(self, model_cfg):
        self.cfg = model_cfg
        if model_cfg.noise not in ("gaussian", "warped"):
            raise ValueError(f"model.noise must be gaussian or warped, got {model_cfg.noise!r}")

    def build_model(self, pretrained: bool = True) -> nn.Module:
        from training.models.void_inpaint import build_void_model

        return build_void_model(wan_config(self.cfg),
                                pretrained_path=(self.cfg.get("pretrained") or None) if pretrained else None)

    def clip(self, sample: dict, data_cfg) -> dict:
        return void_clip(sample, data_cfg, keep_overlap=bool(self.cfg.keep_overlap))

    @torch.no_grad()
    def encode(self, batch: dict, vae, text) -> dict:
        from training.noise_warp import latent_flow

        out = {"target": vae.encode(batch["target"]), "mask": vae.encode(batch["mask"]),
               "video": vae.encode(batch["video"])}
        hw = tuple(batch["video"].shape[-2:])
        lhw = tuple(out["target"].shape[-2:])
        out["flow"] = torch.stack([latent_flow(f, hw, lhw) for f in batch["flow"]]).float()
        out["context"] = text.encode(batch["prompt"])
        return out

    def noise(self, lat: dict, generator: torch.Generator) -> torch.Tensor:
        """Pass 1: fresh Gaussian noise. Pass 2: noise carried along the target's forward flow and
        blended with fresh noise by gamma ~ U[0, max_degradation] (variance preserving)."""
        shape = lat["target"].shape
        if self.cfg.noise == "gaussian":
            return torch.randn(shape, generator=generator)
        from training.noise_warp import degrade, sample_gamma, warp_noise

        out = []
        for flow in lat["flow"]:
            warped = warp_noise(flow.cpu(), shape[1], generator)
            out.append(degrade(warped, sample_gamma(generator, float(self.cfg.max_degradation)), generator))
        return torch.stack(out)

    def loss(self, model: nn.Module, lat: dict, generator: torch.Generator, flow_cfg, device, dtype):
        b = lat["target"].shape[0]
        sigma = fm.sample_sigmas(b, generator, flow_cfg.sampling, float(flow_cfg.shift))
        noise = self.noise(lat, generator).to(device)
        x0 = lat["target"].to(device)
        xt = fm.noisy(x0, noise, sigma.to(device))
        inp = torch.cat([xt, lat["mask"].to(device), lat["video"].to(device)], dim=1).to(dtype)
        pred = model(inp, (sigma * 1000).to(device, dtype), lat["context"].to(device, dtype))
        loss = F.mse_loss(pred.float(), fm.velocity(x0, noise).float())
        return loss, {"loss/target": loss.detach()}

    def num_tokens(self, lat: dict) -> int:
        return tokens(lat["target"])

    def seq_len(self, lat: dict) -> int:
        return tokens(lat["target"]) // lat["target"].shape[0]


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


TASKS = {"vera": VeraTask, "void": VoidTask, "affect": AffectTask}


def make_task(model_cfg):
    if model_cfg.name not in TASKS:
        raise ValueError(f"model={model_cfg.name}: unknown (choose one of {sorted(TASKS)})")
    return TASKS[model_cfg.name](model_cfg)
