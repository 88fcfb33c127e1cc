"""Checks of a training command's config (``training/train.py``, ``training/precompute.py``)."""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from training.core.sections import train_sections


def check_config(cfg: DictConfig, need_out: bool = True) -> None:
    """Raise ValueError (one line naming the key) for a config the trainer cannot run: a required path
    missing, any section's value (``training/core/sections.py``) or the model's options (its task)."""
    for key in ("data.path", "trainer.out") if need_out else ("data.path",):
        if OmegaConf.is_missing(cfg, key) or not OmegaConf.select(cfg, key):
            raise ValueError(f"{key}= is required (e.g. python training/train.py data.path=DIR trainer.out=RUN)")
    from training.tasks import make_task

    make_task(cfg.model)  # each task checks its own model.* options (one line, no model built)
    train_sections(cfg)
