"""Hydra configuration of the trainers (``configs/training/``): composing and checking."""
from __future__ import annotations

import logging
import sys
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from datagen.core.paths import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "configs" / "training"
SIZES = ("tiny", "1.3B", "14B")


def load_config(overrides: list[str] | tuple[str, ...] = (), name: str = "train") -> DictConfig:
    """``configs/training/<name>.yaml`` (``train`` or ``infer``) composed with Hydra overrides (tests,
    notebooks, scripts)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name=name, overrides=list(overrides))


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
    every = cfg.trainer.get("validate_every", 0)
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"trainer.validate_every must be an integer >= 0 (0: off), got {every!r}")
    if cfg.trainer.fsdp not in ("auto", True, False):
        raise ValueError(f"trainer.fsdp must be auto, true or false, got {cfg.trainer.fsdp!r}")
    if cfg.model.name == "vera":
        missing = [b for b in cfg.model.branches if b not in cfg.model.loss_weights]
        if missing:
            raise ValueError(f"model.loss_weights has no weight for branch {missing[0]!r}")
    from training.tasks import make_task

    make_task(cfg.model)  # each task checks its own model.* options (one line, no model built)


def run_command(job: Callable[[], object]) -> None:
    """Run a command-line job: bad input (``datagen.core.cli.INPUT_ERRORS``: a wrong value, a missing or
    unreadable file, a corrupt shard or video) exits 2 with one line and no traceback; the process group,
    if any, is always torn down."""
    from datagen.core.cli import INPUT_ERRORS, report_error

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        job()
    except INPUT_ERRORS as e:
        sys.exit(report_error(e))
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
