"""What each model trains on and how its loss is computed: ``VeraTask`` (three branches: edit layer,
alpha, composite, conditioned on the source video), ``VoidTask`` (target video conditioned on the
quadmask and the input video; Gaussian noise in pass 1, flow-warped noise in pass 2) and ``AffectTask``
(every pixel that changes when the object is removed, from the input video and the object's mask).

A task turns a batch of pixel clips into latents (``encode``; also what ``training/precompute.py``
stores) and latents into a loss (``loss``), runs a clip through a trained model and writes its outputs
(``run``, ``write``), and scores predictions (``score``). Latent dicts hold float32 tensors with a batch
dimension. The protocol, checked here when the registry is built: ``training/tasks/base.py``.
"""
from __future__ import annotations

from omegaconf import DictConfig

from training.core.encoders import load_text_encoder, load_vae
from training.core.runtime import Runtime, resolve_dtype
from training.tasks.affect import AffectTask
from training.tasks.base import Task, check_task, wan_config
from training.tasks.vera import VeraTask
from training.tasks.void import VoidTask


TASKS: dict[str, type[Task]] = {cls.name: check_task(cls) for cls in (VeraTask, VoidTask, AffectTask)}


def make_task(model_cfg) -> Task:
    """The task of ``model.*``; it checks its own options (ValueError, one line)."""
    if model_cfg.name not in TASKS:
        raise ValueError(f"model={model_cfg.name}: unknown (choose one of {sorted(TASKS)})")
    return TASKS[model_cfg.name](model_cfg)


def task_for_generator(generator: str) -> type[Task]:
    """The task that scores a split made by ``generator`` when no task is named (``scores_source``)."""
    for cls in TASKS.values():
        if cls.scores_source and cls.source_generator == generator:
            return cls
    raise ValueError(f"no model scores {generator} splits (models: {', '.join(sorted(TASKS))})")


def load_encoders(cfg: DictConfig, rt: Runtime):
    """The frozen VAE and text encoder of ``cfg`` (local paths; tiny random ones for model.size=tiny);
    no text encoder (None) for a model without prompts (``model=affect``)."""
    size = str(cfg.model.size)
    vae = load_vae(cfg.vae, size, rt.device, resolve_dtype(cfg.vae.dtype, rt.device))
    if not TASKS[str(cfg.model.name)].uses_text:
        return vae, None
    text = load_text_encoder(cfg.text, size, wan_config(cfg.model).text_dim, rt.device,
                             resolve_dtype(cfg.text.dtype, rt.device))
    return vae, text
