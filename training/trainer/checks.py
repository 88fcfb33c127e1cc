"""Checks of a training command's config (``training/train.py``, ``training/precompute.py``)."""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from training.core.config import SIZES


def check_config(cfg: DictConfig, need_out: bool = True) -> None:
    """Raise ValueError (one line naming the key) for a config the trainer cannot run."""
    for key in ("data.path", "trainer.out") if need_out else ("data.path",):
        if OmegaConf.is_missing(cfg, key) or not OmegaConf.select(cfg, key):
            raise ValueError(f"{key}= is required (e.g. python training/train.py data.path=DIR trainer.out=RUN)")
    if str(cfg.model.size) not in SIZES:
        raise ValueError(f"model.size must be one of {SIZES}, got {cfg.model.size!r}")
    for key in ("trainer.max_steps", "trainer.checkpoint_every", "trainer.log_every", "data.batch_size"):
        value = OmegaConf.select(cfg, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be an integer >= 1, got {value!r}")
    every = cfg.trainer.validate_every
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"trainer.validate_every must be an integer >= 0 (0: off), got {every!r}")
    if cfg.trainer.fsdp not in ("auto", True, False):
        raise ValueError(f"trainer.fsdp must be auto, true or false, got {cfg.trainer.fsdp!r}")
    from training.tasks import make_task

    make_task(cfg.model)  # each task checks its own model.* options (one line, no model built)
