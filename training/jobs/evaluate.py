"""Score predictions on benchmark splits, next to ground truth and weightless baselines.

    python -m training.evaluate --truth BENCH/v2 [--pred PRED] [--out REPORT] [--splits ...] [--limit N]

``--truth``: a benchmark version folder (``manifest.json``, ``python -m datagen.bench make``) or one split
(a dataset folder). ``--pred``: predictions per split: ``PRED/<split>/<key>/result.mp4`` (what
``training/infer.py`` writes; Vera's ``alpha.mp4`` beside it is scored too) or ``PRED/<split>/<key>.mp4``
(any other model's outputs; for a single split, ``PRED/<key>...``). Predictions smaller than the truth
(our inference crops clips to multiples of 16 and 4k+1 frames) are compared with the truth cut the same
way (centred crop, first frames).

Rows per split: ``ground truth`` (the truth against itself: exact), the baselines (``identity``: the input
copied; for VOID also ``inpaint``: OpenCV's Telea inpainting of the removed object, frame by frame) and
``model`` when predictions are given. VOID columns: PSNR/SSIM over the whole frame and per quadmask region
(keep, removed = 0/63, affected = 127: the physics score) and temporal flicker; Vera: preservation where
the true alpha is 0 (PSNR, SSIM, exact share), composite PSNR/SSIM, alpha MAE/SAD/gradient error.
``--task affect`` scores the affected-region predictor instead, on the VOID splits: IoU, precision and
recall of the quadmask's 127 region (frames 1 on) of ``PRED/<split>/<key>/quadmask_0.mp4`` (what
``training/infer.py model=affect`` writes), beside the baselines ``none`` (no affected region) and
``dilated`` (a ring of ``--dilation`` pixels around the object).
Writes ``REPORT/<split>.md`` and ``.json`` (default ``REPORT = PRED/report`` or ``./report``) and prints
the tables. See docs/evaluation.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from datagen.core.cli import command
from training.evaluation.report import json_default, markdown, score_split, split_generator, splits_of
from training.tasks import TASKS, task_for_generator


def evaluate(truth: str, pred: str | None = None, out: str | None = None, splits=None, limit=None,
             baselines=None, task: str | None = None, dilation: int = 16) -> dict:
    """Score every split, each by the task of its generator, or all by ``task`` (e.g. ``affect``: the
    affected-region predictor, on the VOID splits)."""
    found = splits_of(truth)
    chosen = None
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"--task {task!r}: choose one of {', '.join(sorted(TASKS))}, or leave it out "
                             "(scored by each split's generator)")
        chosen = TASKS[task]
        if not splits:
            found = {n: p for n, p in found.items() if split_generator(p) == chosen.source_generator}
    names = list(splits or found)
    unknown = sorted(set(names) - set(found))
    if unknown:
        raise ValueError(f"--splits {unknown}: not in {truth} (has {sorted(found)})")
    single = len(found) == 1 and (Path(truth) / "dataset.json").is_file()
    report = Path(out) if out else (Path(pred) / "report" if pred else Path("report"))
    report.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in names:
        generator = split_generator(found[name])
        scorer = chosen or task_for_generator(generator)
        if generator != scorer.source_generator:
            raise ValueError(f"{found[name]}: a {generator} split; --task {scorer.name} scores "
                             f"{scorer.source_generator} splits")
        pred_dir = None if pred is None else (Path(pred) if single else Path(pred) / name)
        result = score_split(found[name], pred_dir, scorer, limit, baselines, dilation=dilation)
        results[name] = result
        text = markdown(name, result, scorer.columns)
        (report / f"{name}.md").write_text(text)
        (report / f"{name}.json").write_text(json.dumps(result, indent=1, default=json_default) + "\n")
        print(text)
    return results


@command
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--truth", required=True, help="benchmark version folder (manifest.json) or one split")
    p.add_argument("--pred", default=None, help="predictions: PRED/<split>/<key>/result.mp4 or PRED/<split>/<key>.mp4")
    p.add_argument("--out", default=None, help="report folder (default PRED/report or ./report)")
    p.add_argument("--splits", nargs="+", default=None)
    p.add_argument("--limit", type=int, default=None, help="samples per split")
    p.add_argument("--task", default=None, choices=sorted(TASKS),
                   help="score every split as this model's outputs (affect: predicted quadmasks, "
                        "PRED/<split>/<key>/quadmask_0.mp4, on the VOID splits); default: by each split's generator")
    p.add_argument("--baselines", nargs="*", default=None,
                   choices=sorted({b for t in TASKS.values() for b in t.baselines}),
                   help="default: " + "; ".join(f"{' '.join(t.baselines)} ({n})" for n, t in sorted(TASKS.items())))
    p.add_argument("--dilation", type=int, default=16, help="pixels of the dilated-object baseline (--task affect)")
    a = p.parse_args(argv)
    evaluate(a.truth, a.pred, a.out, a.splits, a.limit, None if a.baselines is None else tuple(a.baselines),
             a.task, a.dilation)
    return 0


if __name__ == "__main__":
    sys.exit(main())
