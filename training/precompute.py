"""Precompute the frozen encoders' outputs once (VAE latents, text embeddings) as latent shards the trainer
reads directly: ``python training/precompute.py model=void data.path=DIR precompute.out=LATENTS ...`` (or under
torchrun). The Hydra entry point; the job and its layout are in ``training/jobs/precompute.py``.
"""
from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig

from training.core.config import CONFIG_DIR, run_command
from training.trainer.checks import check_config
from training.jobs.precompute import precompute


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base=None)
def main(cfg: DictConfig) -> None:
    def job():
        if not cfg.precompute.out:
            raise ValueError("precompute.out= is required (where the latent shards go)")
        check_config(cfg, need_out=False)
        print(json.dumps(precompute(cfg)))
    run_command(job)


if __name__ == "__main__":
    main()
