"""Training-step throughput of the trainers on this machine (prints samples/s, tokens/s, s/step).

    python benchmarks/train_step.py --model vera --data DIR [--steps 20] [--size tiny] [--frames 5]

Without --data a tiny dataset of the model's generator is made first (64x48, 5 frames). Timings come
from the trainer's own metrics (the first 3 steps are warm-up and not counted).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from datagen.core.cli import command


@command
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=("vera", "void"), default="vera")
    ap.add_argument("--data")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--activation-checkpointing", choices=("true", "false"), default="true")
    args = ap.parse_args(argv)
    from datagen.runner import load_config as data_config, run
    from training.core.config import load_config
    from training.trainer.loop import train

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if not data:
            from datagen.dataset.generators import config_name
            from training.tasks import TASKS

            generator = config_name(TASKS[args.model].source_generator)
            data = str(Path(tmp) / "data")
            t0 = time.perf_counter()
            run(data_config(generator, [f"out={data}", "num_samples=2", "samples_per_shard=1", "render.width=64",
                                        "render.height=48", "render.frames=5", "render.spp=1", "runner.mode=local",
                                        "runner.progress=false"]))
            print(f"made a tiny {generator} dataset in {time.perf_counter() - t0:.1f} s")
        cfg = load_config([f"model={args.model}", f"model.size={args.size}", f"data.path={data}",
                           f"trainer.out={tmp}/run", f"trainer.max_steps={args.steps}",
                           f"trainer.checkpoint_every={args.steps}", "trainer.tensorboard=false",
                           f"trainer.activation_checkpointing={args.activation_checkpointing}", "text.max_length=64"])
        t0 = time.perf_counter()
        log = train(cfg)
        wall = time.perf_counter() - t0
    steady = log[3:] or log
    print(f"model={args.model} size={args.size} steps={args.steps} AC={args.activation_checkpointing}")
    print(f"  samples/s {statistics.median(m['samples_per_s'] for m in steady):.2f}  "
          f"tokens/s {statistics.median(m['tokens_per_s'] for m in steady):.0f}  "
          f"s/step {1 / statistics.median(m['samples_per_s'] for m in steady):.3f}  "
          f"(whole run incl. set-up and checkpoint {wall:.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
