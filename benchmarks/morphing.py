"""Calibrate and measure the morphing detector (``training/inference/morphing.py``) on videos with known answers.

    python benchmarks/morphing.py [DATASET ...] [--amplitudes 1.5 3]

Negatives: rendered counterfactual videos of our VOID datasets (``target_video``: rigid objects moving or
resting, under the regions their quadmasks mark). Positives: the same videos with the affected objects'
silhouettes bent by a displacement field that changes every frame (``deform_silhouette``), i.e. objects
that morph. Prints each score, the threshold that best separates the two (balanced accuracy) and the
detection rates of the threshold in use. Defaults to the datasets ``make demo`` writes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from datagen.core.cli import command
from datagen.dataset.reader import iter_samples
from training.inference.morphing import DEFAULT_THRESHOLD, deform_silhouette, morph_score


def cases(url: str, amplitudes, rng):
    for s in iter_samples(url):
        meta, video, mask = s["meta"], s["target_video"], s["quadmask"]
        region = mask != 255
        objects = np.isin(s["target_segmentation"], meta["affected_ids"] or meta["removed_ids"])
        moving = objects if objects.any() else region
        yield s["__key__"], 0.0, morph_score(video, region).score
        for a in amplitudes:
            yield s["__key__"], a, morph_score(deform_silhouette(video, moving, a, rng), region).score


@command
def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("datasets", nargs="*", default=["demo_out/void", "demo_out/void_humans"])
    p.add_argument("--amplitudes", type=float, nargs="+", default=[1.5, 3.0])
    a = p.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for url in a.datasets:
        if not (Path(url) / "dataset.json").is_file():
            print(f"skip {url}: no dataset (run make demo, or name VOID datasets)")
            continue
        for key, amp, score in cases(url, a.amplitudes, rng):
            rows.append((amp > 0, score))
            print(f"{url:<24} {key} {'morphing' if amp else 'rigid   '} amplitude {amp:3.1f} px  score {score:.4f}")
    if not rows:
        return
    labels, scores = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])

    def rates(th):
        return float((scores[labels] > th).mean()), float((scores[~labels] > th).mean())

    best = max(sorted(set(scores)), key=lambda th: (rates(th)[0] + 1 - rates(th)[1], -th))
    for name, th in (("best", best), ("in use", DEFAULT_THRESHOLD)):
        tpr, fpr = rates(th)
        print(f"threshold {name:<7} {th:.4f}: detects {tpr:.0%} of morphing clips, flags {fpr:.0%} of rigid ones "
              f"({labels.sum()} morphing, {(~labels).sum()} rigid)")


if __name__ == "__main__":
    sys.exit(main())
