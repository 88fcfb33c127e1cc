"""Does our data teach? The affected-region predictor's held-out IoU against the number of training pairs.

    python benchmarks/learning_curve.py --work /data/lc                 # the curve of docs/affect.md
    python benchmarks/learning_curve.py --work /tmp/lc --pairs 4 --val 2 --bench 1 --width 64 --height 48 \\
        --frames 5 --spp 1 --epochs 2 --seeds 0 --runner local --out /tmp/lc/docs  # a smoke run

Every stage resumes: rerun the same command after an interruption.

1. **Data**, through the runner (Ray on every core) at one small size with the clean-render defaults, the
   four rigid families (launch, support, chain, blocker), positive pairs, no effect-category passes:
   - ``train``: ``max(--pairs)`` pairs, seed 1; each N of ``--pairs`` trains on its first N (whole shards
     of 4 pairs, so N is a multiple of 4);
   - ``val``: ``--val`` pairs, seed 2: it alone chooses the step to stop at, the threshold and the ring;
   - ``bench``: ``datagen.bench``'s rigid splits at the same size (``--bench`` pairs each, seeds from 10^9):
     scored once, never used for a choice.
2. **Training**: for every N and ``--seeds`` seed, ``model=affect`` on the first N pairs' latents (encoded
   once, ``precompute.py``) for ``--epochs`` epochs (the same cap for every N), validated on ``val`` every
   epoch with a checkpoint each time; the step kept is the one of best validation IoU.
3. **Choices on val**: the threshold of the kept checkpoint's change probability (pooled IoU of 127 over
   ``THRESHOLDS``), and the dilation ring of the weightless baseline (``RINGS`` pixels).
4. **Scores on the bench**, per family and pooled: IoU, precision and recall of 127 (frames 1 on, VOID's
   snapping) for the model (mean and spread over seeds), the ring and ``none``.

Writes ``OUT/learning_curve.csv`` (``pairs, split, model_iou, dilated_iou``, then the rest) and
``OUT/learning_curve.png`` (IoU against N per family, baselines dashed) and prints the table with the wall
time of each stage.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from datagen.core.cli import command

FAMILIES = ("launch", "support", "chain", "blocker")
SPLITS = tuple(f"void_{f}" for f in FAMILIES)
TRAIN_SEED, VAL_SEED = 1, 2
PER_SHARD = 4
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.91, 0.05))
RINGS = (1, 2, 4, 8, 16)
QUIET = ["trainer.tensorboard=false", "optim.warmup_steps=0", "trainer.activation_checkpointing=false"]
COLUMNS = ("pairs", "split", "model_iou", "dilated_iou", "model_iou_std", "model_precision", "model_recall",
           "dilated_precision", "dilated_recall", "none_iou", "seeds", "threshold", "ring", "steps", "bench_pairs",
           "train_pairs_of_family")


def _size(a) -> list[str]:
    return [f"render.width={a.width}", f"render.height={a.height}", f"render.frames={a.frames}",
            *([f"render.spp={a.spp}"] if a.spp else []), *a.set]


def _runner(a) -> list[str]:
    """How every split is generated: the runner (Ray on every core by default), and no effect-category
    passes (the predictor does not read ``effect_categories``; they are a quarter of a pair's render time)."""
    return [f"runner.mode={a.runner}", f"runner.progress={str(not a.quiet).lower()}", "void.mask.categories=false"]


def _pairs(a, out: Path, num: int, seed: int) -> Path:
    """``num`` positive rigid-family pairs (resumes)."""
    from datagen.runner import load_config, run

    cfg = load_config("void_counterfactuals", [
        f"out={out}", f"num_samples={num}", f"samples_per_shard={PER_SHARD}", f"seed={seed}", "void.families.effects=0",
        "void.negative_rate=0", *_runner(a), *_size(a)])
    result = run(cfg)
    if not result.ok:
        raise RuntimeError(f"{out}: generation failed ({len(result.failures)} failures, see {out}/dataset.json)")
    return out


def data(a, work: Path) -> dict:
    from datagen import bench

    t = time.perf_counter()
    train = _pairs(a, work / "train", max(a.pairs), TRAIN_SEED)
    val = _pairs(a, work / "val", a.val, VAL_SEED)
    bench.make(str(work / "bench"), samples=a.bench, splits=list(SPLITS),
               render={"width": a.width, "height": a.height, "frames": a.frames, "spp": a.spp or None},
               runner=[*_runner(a), *a.set])
    return {"train": train, "val": val, "bench": work / "bench" / bench.VERSION, "seconds": time.perf_counter() - t}


def prefix(latents: Path, out: Path, pairs: int) -> Path:
    """A dataset folder holding the first ``pairs`` pairs' latent shards (the reader needs the shards, their
    stats and dataset.json)."""
    if (out / "dataset.json").is_file():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shards = sorted(latents.glob("shard-*.tar"))[: pairs // PER_SHARD]
    if len(shards) * PER_SHARD < pairs:
        raise RuntimeError(f"{latents}: {len(shards)} shards hold fewer than {pairs} pairs")
    for shard in shards:
        shutil.copy2(shard, tmp / shard.name)
        stats = shard.with_name(shard.name[: -len(".tar")] + ".stats.json")
        if stats.is_file():
            shutil.copy2(stats, tmp / stats.name)
    shutil.copy2(latents / "dataset.json", tmp / "dataset.json")
    tmp.rename(out)
    return out


def family_counts(train: Path, pairs: int) -> dict[str, int]:
    """How many of the first ``pairs`` training pairs each family has (each pair's family is drawn at
    random, so a small prefix need not be balanced)."""
    from datagen.dataset.reader import read_shard, shard_urls

    counts = dict.fromkeys(FAMILIES, 0)
    for url in shard_urls(str(train))[: pairs // PER_SHARD]:
        for _, files in read_shard(url):
            counts[json.loads(files["meta.json"])["family"]] += 1
    return counts


def train_one(a, latents: Path, val: Path, work: Path, pairs: int, seed: int) -> dict:
    """Train on the first ``pairs`` pairs; the validation log picks the step (cached in ``summary.json``)."""
    from training.core.config import load_config
    from training.trainer.loop import train

    run_dir = work / "runs" / a.tag / f"pairs{pairs}-seed{seed}"
    done = run_dir / "summary.json"
    if done.is_file():
        return json.loads(done.read_text())
    shutil.rmtree(run_dir, ignore_errors=True)
    data_dir = prefix(latents, work / "prefixes" / f"pairs{pairs}", pairs)
    every = pairs  # an epoch: batch 1
    steps = a.epochs * every
    t = time.perf_counter()
    train(load_config(["model=affect", f"data.path={data_dir}", f"trainer.out={run_dir}", f"seed={seed}", *QUIET,
                       f"trainer.max_steps={steps}", f"trainer.validate_every={every}", f"trainer.checkpoint_every={every}",
                       f"trainer.keep_checkpoints={a.epochs + 1}", f"trainer.validate.path={val}",
                       f"trainer.validate.clips={a.val}", f"trainer.log_every={max(steps // 10, 1)}",
                       f"optim.lr={a.lr}", "optim.min_lr_ratio=0.1", *a.train_set]))
    log = [json.loads(line) for line in (run_dir / "validation.jsonl").read_text().splitlines() if line.strip()]
    best = max(log, key=lambda r: (r["val/iou"] or 0.0, -r["step"]))
    summary = {"pairs": pairs, "seed": seed, "step": int(best["step"]), "val_iou": best["val/iou"],
               "train_set": list(a.train_set),
               "checkpoint": str(run_dir / "checkpoints" / f"step-{int(best['step']):07d}"),
               "validation": log, "seconds": time.perf_counter() - t}
    done.write_text(json.dumps(summary, indent=1))
    return summary


def probabilities(checkpoint: str, split: Path, train_set=()) -> list[tuple[np.ndarray, np.ndarray]]:
    """(change probability (T, H, W), true quadmask) of every pair of a split, from one checkpoint (of a
    model built with the ``train_set`` overrides)."""
    from training.core.config import load_config
    from training.inference.inputs import read_clips
    from training.jobs.infer import build_runner
    from training.tasks import TASKS

    runner, _ = build_runner(load_config(["model=affect", "data.path=x", f"infer.checkpoint={checkpoint}", *train_set],
                                         name="infer"))
    return [(runner.affect(clip, 0.5, 0)["probability"], clip.truth["quadmask"])
            for clip in read_clips(str(split), TASKS["affect"].reads)]


def truths(split: Path) -> list[np.ndarray]:
    from training.inference.inputs import read_clips
    from training.tasks import TASKS

    return [clip.truth["quadmask"] for clip in read_clips(str(split), TASKS["affect"].reads)]


def model_counts(pairs, threshold: float) -> dict:
    from datagen.labels.quadmask import quadmask, removed_region
    from training.evaluation.scores import affected_counts, sum_counts

    return sum_counts([affected_counts(quadmask(removed_region(q), p > threshold), q) for p, q in pairs])


def baseline_counts(truth: list[np.ndarray], kind: str, ring: int = 0) -> dict:
    from training.evaluation.scores import affect_baseline, affected_counts, sum_counts

    return sum_counts([affected_counts(affect_baseline(q, kind, ring), q) for q in truth])


def _iou(counts: dict) -> float:
    from training.evaluation.scores import region_scores

    return region_scores(counts)["iou"] or 0.0


def score(a, paths: dict, runs: list[dict]) -> list[dict]:
    """Choices on val, scores on the bench: one row per (pairs, split)."""
    from training.evaluation.scores import region_scores

    val_truth = truths(paths["val"])
    ring = max(RINGS, key=lambda d: (_iou(baseline_counts(val_truth, "dilated", d)), -d))
    bench = {s: truths(paths["bench"] / s) for s in SPLITS}
    ring_counts = {s: baseline_counts(t, "dilated", ring) for s, t in bench.items()}
    none_counts = {s: baseline_counts(t, "none") for s, t in bench.items()}
    per_run = []
    for r in runs:
        val = probabilities(r["checkpoint"], paths["val"], a.train_set)
        threshold = max(THRESHOLDS, key=lambda t: (_iou(model_counts(val, t)), -abs(t - 0.5)))
        counts = {s: model_counts(probabilities(r["checkpoint"], paths["bench"] / s, a.train_set), threshold)
                  for s in SPLITS}
        per_run.append({**r, "threshold": threshold, "counts": counts})
    rows = []
    for pairs in sorted({r["pairs"] for r in per_run}):
        mine = [r for r in per_run if r["pairs"] == pairs]
        mix = family_counts(paths["train"], pairs)
        for split in (*SPLITS, "all"):
            names = SPLITS if split == "all" else (split,)

            def pooled(counts: dict) -> dict:
                return {k: sum(counts[s][k] for s in names) for k in ("tp", "fp", "fn")}

            model = [region_scores(pooled(r["counts"])) for r in mine]
            ring_s, none_s = region_scores(pooled(ring_counts)), region_scores(pooled(none_counts))
            ious = [m["iou"] or 0.0 for m in model]

            def mean(key):
                values = [m[key] for m in model if m[key] is not None]
                return float(np.mean(values)) if values else float("nan")

            rows.append({"pairs": pairs, "split": split.removeprefix("void_"), "model_iou": float(np.mean(ious)),
                         "dilated_iou": ring_s["iou"] or 0.0, "model_iou_std": float(np.std(ious)),
                         "model_precision": mean("precision"), "model_recall": mean("recall"),
                         "dilated_precision": ring_s["precision"], "dilated_recall": ring_s["recall"],
                         "none_iou": none_s["iou"] or 0.0, "seeds": len(mine),
                         "threshold": "/".join(f"{r['threshold']:.2f}" for r in mine), "ring": ring,
                         "steps": "/".join(str(r["step"]) for r in mine),
                         "bench_pairs": sum(len(bench[s]) for s in names),
                         "train_pairs_of_family": sum(mix[n.removeprefix("void_")] for n in names)})
    return rows


def write(rows: list[dict], out: Path) -> tuple[Path, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    table = out / "learning_curve.csv"
    with table.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.4f}" if isinstance(r[k], float) and not math.isnan(r[k]) else r[k]) for k in COLUMNS})
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for k, split in enumerate(sorted({r["split"] for r in rows}, key=lambda s: (s == "all", s))):
        mine = sorted((r for r in rows if r["split"] == split), key=lambda r: r["pairs"])
        n = [r["pairs"] for r in mine]
        colour = f"C{k}"
        ax.errorbar(n, [r["model_iou"] for r in mine], yerr=[r["model_iou_std"] for r in mine], color=colour,
                    marker="o", lw=2.0 if split == "all" else 1.2, capsize=3, label=f"{split}: model")
        ax.plot(n, [r["dilated_iou"] for r in mine], color=colour, ls="--", lw=1.0,
                label=f"{split}: {mine[0]['ring']} px ring")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training pairs")
    ax.set_ylabel("held-out IoU of the affected region (127)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    figure = out / "learning_curve.png"
    fig.savefig(figure, dpi=90)
    plt.close(fig)
    return table, figure


@command
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/learning_curve.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, required=True, help="where the data, latents and runs go (resumable)")
    p.add_argument("--out", type=Path, default=Path("docs"), help="where learning_curve.csv and .png are written")
    p.add_argument("--pairs", type=int, nargs="+", default=[16, 64, 256], help="training-set sizes (multiples of 4)")
    p.add_argument("--val", type=int, default=32, help="validation pairs (seed 2)")
    p.add_argument("--bench", type=int, default=16, help="bench pairs per family")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds")
    p.add_argument("--epochs", type=int, default=40, help="epochs cap, the same for every N")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--frames", type=int, default=9)
    p.add_argument("--spp", type=int, default=0, help="0: base.yaml's render.spp")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a generator override for every split (e.g. void.mask.categories=false for a quick run)")
    p.add_argument("--train-set", action="append", default=[], metavar="KEY=VALUE",
                   help="a training override for every run (e.g. model.inputs=[latent]); give such runs a --tag")
    p.add_argument("--tag", default="default", help="the runs' folder under WORK/runs (one per set of --train-set)")
    p.add_argument("--runner", choices=("ray", "local"), default="ray",
                   help="runner.mode of the data stage (ray: a shard per core; local: one process)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    bad = [n for n in a.pairs if n <= 0 or n % PER_SHARD]
    if bad:
        raise ValueError(f"--pairs {bad}: every training-set size must be a positive multiple of {PER_SHARD}")
    from training.core.config import load_config
    from training.jobs.precompute import precompute

    work = a.work
    t0 = time.perf_counter()
    paths = data(a, work)
    print(f"learning curve: data ready ({max(a.pairs)} train, {a.val} val, {a.bench} bench pairs per family) "
          f"in {paths['seconds']:.0f} s")
    latents = work / "latents"
    if not (latents / "dataset.json").is_file():
        precompute(load_config(["model=affect", f"data.path={paths['train']}", f"precompute.out={latents}", *QUIET]))
    runs = [train_one(a, latents, paths["val"], work, n, s) for n in sorted(a.pairs) for s in a.seeds]
    for r in runs:
        print(f"learning curve: {r['pairs']} pairs, seed {r['seed']}: best validation IoU {r['val_iou']:.3f} at step "
              f"{r['step']} ({r['seconds']:.0f} s)")
    rows = score(a, paths, runs)
    table, figure = write(rows, a.out)
    print("| pairs | split | model IoU (mean ± sd) | precision | recall | ring IoU | none |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pairs']} | {r['split']} | {r['model_iou']:.3f} ± {r['model_iou_std']:.3f} | "
              f"{r['model_precision']:.3f} | {r['model_recall']:.3f} | {r['dilated_iou']:.3f} ({r['ring']} px) | "
              f"{r['none_iou']:.3f} |")
    print(f"learning curve: {table}, {figure} ({time.perf_counter() - t0:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
