"""Run a trained model on clips: ``python training/infer.py model=vera|void|affect infer.input=PATH
infer.out=DIR [infer.checkpoint=RUN] ...`` (``configs/training/infer.yaml``, ``docs/inference.md``).

Per clip, ``infer.out/<name>/`` gets the outputs as mp4 (``result.mp4`` is lossless), a side-by-side
``preview.mp4`` and ``preview.png``, and ``settings.json`` (sampler, seed, checkpoint, timings, and for
VOID the morphing report and whether pass 2 ran). ``model=affect`` writes VOID's inference layout instead
(``input_video.mp4``, a lossless ``quadmask_0.mp4``, ``prompt.json``): ``infer.out`` is then a valid
``infer.input`` for ``model=void``.
"""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from training.core.config import CONFIG_DIR, run_command


@hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name="infer")
def main(cfg: DictConfig) -> None:
    def go():
        import signal
        import sys

        from training.jobs.infer import infer

        # a stopped run (kill, a scheduler's SIGTERM) unwinds like an error: the clip being written is removed
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        infer(cfg)
    run_command(go)


if __name__ == "__main__":
    main()
