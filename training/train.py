"""Train Vera's Mixture-of-Transformers, VOID's inpainting DiT or the affected-region predictor on counterfactory shards.

    python training/train.py model=vera model.size=tiny data.path=DIR trainer.out=RUN trainer.max_steps=20
    torchrun --nproc_per_node=8 training/train.py model=void model.size=1.3B model.pretrained=WAN_DIR \\
        vae.path=WAN_DIR/vae text.path=WAN_DIR/text_encoder text.tokenizer_path=WAN_DIR/tokenizer \\
        data.path=s3://bucket/void trainer.out=/ckpt/void trainer.resume=auto

Configuration: configs/training/ (Hydra); docs/training.md.
"""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from training.core.config import CONFIG_DIR, run_command
from training.trainer.checks import check_config


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base=None)
def main(cfg: DictConfig) -> None:
    def job():
        from training.trainer.loop import train

        check_config(cfg)
        train(cfg)
    run_command(job)


if __name__ == "__main__":
    main()
