"""``make demo``'s last step: the affected-region predictor end to end on the demo's VOID pairs.

    python -m training.demo_affect --data demo_out/void --heldout demo_out/void_humans --out demo_out/affect

Encodes the pairs once (``precompute.py``), trains a tiny ``model=affect`` on them (CPU, a few hundred
steps), writes their quadmasks in VOID's clip layout with ``infer.py``'s code, checks them as VOID will read
them, and prints the affected-region table against the two weightless baselines, on the training pairs
(an overfitting check) and on held-out human-removal pairs (which a tiny model trained on four rigid-body
pairs cannot be expected to get right). A pipeline demonstration, not a result: see docs/affect.md.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from datagen.core.cli import command

QUIET = ["trainer.tensorboard=false", "optim.warmup_steps=0", "trainer.activation_checkpointing=false"]


def run(data: Path, out: Path, heldout: Path | None, steps: int) -> dict:
    from datagen.void.layout import check_void_clips
    from training.core.config import load_config
    from training.jobs.evaluate import evaluate
    from training.jobs.infer import infer
    from training.jobs.precompute import precompute
    from training.tasks.affect import AffectTask
    from training.trainer.loop import train

    model = f"model={AffectTask.name}"

    t0 = time.perf_counter()
    latents, run_dir = out / "latents", out / "run"
    for p in (latents, run_dir):
        shutil.rmtree(p, ignore_errors=True)
    precompute(load_config([model, f"data.path={data}", f"precompute.out={latents}", *QUIET]))
    logged = train(load_config([model, f"data.path={latents}", f"trainer.out={run_dir}", *QUIET,
                                f"trainer.max_steps={steps}", f"trainer.checkpoint_every={steps}",
                                f"trainer.log_every={max(steps // 5, 1)}", "optim.lr=3e-3", "optim.min_lr_ratio=0.1"]))
    print(f"demo: affect model trained {steps} steps in {time.perf_counter() - t0:.0f} s "
          f"(loss {logged[0]['loss']:.3f} -> {logged[-1]['loss']:.3f})")
    results = {}
    for name, source in (("train", data), ("heldout", heldout)):
        if source is None or not (Path(source) / "dataset.json").is_file():
            continue
        pred = out / "quadmasks" / name
        infer(load_config([model, "data.path=x", f"infer.input={source}", f"infer.out={pred}",
                           f"infer.checkpoint={run_dir}"], name="infer"))
        passed, failed = check_void_clips(pred)
        print(f"demo: {name} quadmasks in VOID's layout: {passed} passed, {failed} failed -> {pred}")
        if failed:
            raise SystemExit("demo: affect quadmasks failed their checks")
        results[name] = evaluate(str(source), str(pred), out=str(out / "report" / name), task=AffectTask.name,
                                 dilation=8)
    return results


@command
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.demo_affect", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("demo_out/void"), help="a VOID dataset to train on")
    p.add_argument("--heldout", type=Path, default=Path("demo_out/void_humans"), help="a VOID dataset to score")
    p.add_argument("--out", type=Path, default=Path("demo_out/affect"))
    p.add_argument("--steps", type=int, default=600)
    a = p.parse_args(argv)
    if not (a.data / "dataset.json").is_file():
        raise FileNotFoundError(f"--data {a.data}: no dataset.json (run python -m datagen.demo first)")
    run(a.data, a.out, a.heldout, a.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
