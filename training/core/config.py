"""Hydra configuration of the trainers (``configs/training/``): composing it, and running a command."""
from __future__ import annotations

import logging
import sys
from typing import Callable

from omegaconf import DictConfig

from datagen.core.paths import REPO_ROOT


CONFIG_DIR = REPO_ROOT / "configs" / "training"
SIZES = ("tiny", "1.3B", "14B")


def load_config(overrides: list[str] | tuple[str, ...] = (), name: str = "train") -> DictConfig:
    """``configs/training/<name>.yaml`` (``train`` or ``infer``) composed with Hydra overrides (tests,
    notebooks, scripts)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name=name, overrides=list(overrides))


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
