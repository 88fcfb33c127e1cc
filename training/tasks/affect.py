"""The affected-region predictor's task: every pixel that changes when the object is removed, from the
input video and the object's mask."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from datagen.dataset.generators import VOID
from training.core.clips import affect_clip
from training.inference.inputs import ClipReads
from training.tasks.base import Task, wan_config


class AffectTask(Task):
    """The affected-region predictor (``training/models/affect.py``): per-pixel change logits, trained with
    binary cross-entropy plus a soft Dice term (the region is small, and Dice weighs it against the whole
    frame as IoU does). Frame 0 is left out of the loss: VOID clears it by convention."""
    name = "affect"
    source_generator = VOID  # learns from VOID's pairs
    scores_source = False  # VOID splits are scored as VOID unless --task affect
    members = ("input_video", "quadmask")
    latent_keys = ("video", "object", "changed", "pixels")
    pixel_keys = ("object", "changed", "pixels")  # stored as uint8 by training/precompute.py, not as latents
    uses_text = False
    reads = ClipReads("affect", mask="object", prompt_required=False, prompt_member="caption", truth=("quadmask",))
    baselines = ("none", "dilated")
    columns = ("iou", "precision", "recall", "iou_clip_mean")

    def __init__(self, model_cfg):
        super().__init__(model_cfg)
        weights = model_cfg.loss_weights
        for key in ("bce", "dice"):
            value = weights.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"model.loss_weights.{key} must be a number >= 0, got {value!r}")
        if not weights["bce"] + weights["dice"] > 0:
            raise ValueError("model.loss_weights: bce and dice cannot both be 0")
        threshold = model_cfg.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
            raise ValueError(f"model.threshold must be in (0, 1), got {threshold!r}")
        self.weights = {k: float(weights[k]) for k in ("bce", "dice")}
        self.pos_weight = float(model_cfg.pos_weight)
        self.threshold = float(threshold)
        dilation = model_cfg.dilation
        if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 0:
            raise ValueError(f"model.dilation must be an integer >= 0, got {dilation!r}")
        self.dilation = dilation
        from training.models.affect import check_inputs

        self.inputs = check_inputs(model_cfg.inputs)
        augment = model_cfg.augment
        flip, crop = augment.get("flip"), augment.get("crop")
        if isinstance(flip, bool) or not isinstance(flip, (int, float)) or not 0 <= flip <= 1:
            raise ValueError(f"model.augment.flip must be a probability in [0, 1], got {flip!r}")
        if isinstance(crop, bool) or not isinstance(crop, (int, float)) or not 0 < crop <= 1:
            raise ValueError(f"model.augment.crop must be a fraction in (0, 1], got {crop!r}")
        self.flip, self.crop = float(flip), float(crop)

    def build_model(self, pretrained: bool = True) -> nn.Module:
        from training.models.affect import build_affect_model

        return build_affect_model(wan_config(self.cfg),
                                  pretrained_path=(self.cfg.pretrained or None) if pretrained else None,
                                  inputs=self.inputs)

    def clip(self, sample: dict, data_cfg) -> dict:
        return affect_clip(sample, data_cfg)

    @torch.no_grad()
    def encode(self, batch: dict, vae, text=None) -> dict:
        from training.models.affect import pixel_levels

        return {"video": vae.encode(batch["video"]), "object": batch["object"].float(),
                "changed": batch["changed"].float(), "pixels": pixel_levels(batch["video"])}

    def logits(self, model: nn.Module, lat: dict, device, dtype) -> torch.Tensor:
        from training.models.affect import from_levels

        return model(lat["video"].to(device, dtype), lat["object"].to(device, dtype),
                     from_levels(lat["pixels"].to(device, dtype)))

    def augment(self, lat: dict, generator: torch.Generator) -> dict:
        """A training batch seen another way (``model.augment``), drawn from the step's generator: a random
        crop of ``crop`` of the latent height and width (its size in whole tokens, its place in whole latent
        cells, so a pixel's place within its token varies; pixels, masks and target cut on the same 8-pixel
        cells) and a left-right mirror with probability ``flip``. Mirroring is exact for pixels, masks and
        target; for the VAE latent it is the mirrored latent, close to but not the latent of the mirrored
        clip. Time is never reversed: a falling object does not fall upwards."""
        from training.models.affect import PIXEL_STRIDE

        out = dict(lat)
        if self.crop < 1:
            h, w = lat["video"].shape[-2:]
            patch = wan_config(self.cfg).patch_size
            ch = max(patch[1], int(h * self.crop) // patch[1] * patch[1])
            cw = max(patch[2], int(w * self.crop) // patch[2] * patch[2])
            top = int(torch.randint(0, h - ch + 1, (1,), generator=generator))
            left = int(torch.randint(0, w - cw + 1, (1,), generator=generator))
            out["video"] = lat["video"][..., top:top + ch, left:left + cw]
            s = PIXEL_STRIDE
            for k in self.pixel_keys:
                out[k] = lat[k][..., top * s:(top + ch) * s, left * s:(left + cw) * s]
        if self.flip > 0 and float(torch.rand((1,), generator=generator)) < self.flip:
            out = {k: v.flip(-1) for k, v in out.items()}
        return out

    def loss(self, model: nn.Module, lat: dict, generator: torch.Generator, flow_cfg, device, dtype):
        lat = self.augment(lat, generator)
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

    # -- inference --------------------------------------------------------------------------------------
    def run(self, runner, clip, options=None) -> dict:
        """The clip's quadmask: the predicted change above ``model.threshold``, grown by ``model.dilation``."""
        return runner.affect(clip, self.threshold, self.dilation)

    def write(self, folder: Path, clip, result: dict, settings: dict, fps: float, runner, options=None) -> Path:
        """VOID's inference layout (``quadmask_0.mp4`` beside the input), ready for ``model=void``."""
        from training.inference.writing import write_quadmask_clip

        return write_quadmask_clip(folder, clip, result, settings, fps, self.threshold, self.dilation)

    def preview(self, result: dict):
        from datagen.labels.quadmask import colorize

        return colorize(result["quadmask"])

    # -- evaluation: the affected region (127, frames 1 on) ---------------------------------------------
    @classmethod
    def prediction(cls, result: dict):
        return result["quadmask"]

    @classmethod
    def read_prediction(cls, pred_root: Path, key: str):
        """``KEY/quadmask_0.mp4`` (what ``training/infer.py model=affect`` writes) or ``KEY.quadmask.mp4``."""
        from datagen.labels.quadmask import snap
        from datagen.dataset.media import read_mask_mp4
        from training.evaluation.report import first_file

        path = first_file(pred_root / key / "quadmask_0.mp4", pred_root / f"{key}.quadmask.mp4")
        return None if path is None else snap(read_mask_mp4(path))

    @classmethod
    def candidates(cls, sample: dict, baselines: tuple[str, ...], dilation: int = 16, **options) -> dict:
        """``none``: no affected region; ``dilated``: a ring of ``dilation`` pixels around the object."""
        from training.evaluation.scores import affect_baseline

        truth = sample["quadmask"]
        return {"ground truth": truth} | {b: affect_baseline(truth, b, dilation) for b in baselines}

    @classmethod
    def score(cls, prediction, truth: dict) -> dict:
        """Pixel counts of the affected region (and their IoU, precision, recall)."""
        from training.evaluation.scores import affected_counts, region_scores

        counts = affected_counts(prediction, truth["quadmask"])
        return {**counts, **region_scores(counts)}

    @classmethod
    def summarise(cls, rows: list[dict]) -> dict:
        """IoU, precision and recall over all the clips' pixels."""
        from training.evaluation.scores import region_scores, sum_counts

        return region_scores(sum_counts(rows))

    @classmethod
    def report_row(cls, rows: list[dict]) -> dict:
        """``summarise``, the summed counts and IoU averaged over clips (``iou_clip_mean``, where defined)."""
        from training.evaluation.scores import sum_counts

        clip_iou = [r["iou"] for r in rows if r["iou"] is not None]
        return {**cls.summarise(rows), **sum_counts(rows),
                "iou_clip_mean": float(np.mean(clip_iou)) if clip_iou else None}
