"""Score predictions on benchmark splits, next to ground truth and weightless baselines.

    python -m training.evaluate --truth BENCH/v1 [--pred PRED] [--out REPORT] [--splits ...] [--limit N]

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
import math
import sys
from pathlib import Path

import numpy as np

from datagen.core.cli import command
from training.evaluation import scores as S

VOID_COLUMNS = ("psnr_whole", "ssim_whole", "psnr_keep", "ssim_keep", "psnr_removed", "ssim_removed",
                "psnr_affected", "ssim_affected", "flicker")
AFFECT_COLUMNS = ("iou", "precision", "recall", "iou_clip_mean")
BASELINES = {"void": ("identity", "inpaint"), "vera": ("identity",), "affect": ("none", "dilated")}
VERA_COLUMNS = ("psnr_preserved", "ssim_preserved", "exact_preserved", "psnr_composite", "ssim_composite",
                "alpha_mae", "alpha_sad", "alpha_grad")


def _kind(generator: str) -> str:
    return "vera" if generator.endswith("vera_layers") else "void"


def splits_of(truth: str) -> dict[str, Path]:
    root = Path(truth)
    if (root / "manifest.json").is_file():
        manifest = json.loads((root / "manifest.json").read_text())
        return {n: root / e["path"] for n, e in sorted(manifest["splits"].items()) if e.get("ground_truth", True)}
    if (root / "dataset.json").is_file():
        return {root.name: root}
    raise FileNotFoundError(f"--truth {truth}: neither a benchmark (manifest.json) nor a split (dataset.json)")


def _crop(video: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The truth cut like a prediction: first frames, centred crop."""
    t, h, w = like.shape[:3]
    if video.shape[0] < t or video.shape[1] < h or video.shape[2] < w:
        raise ValueError(f"a prediction of {like.shape[:3]} is larger than its truth {video.shape[:3]}")
    top, left = (video.shape[1] - h) // 2, (video.shape[2] - w) // 2
    return video[:t, top:top + h, left:left + w]


def _prediction(pred_root: Path | None, key: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    from datagen.dataset.media import decode_mp4

    if pred_root is None:
        return None, None
    for video_path, alpha_path in ((pred_root / key / "result.mp4", pred_root / key / "alpha.mp4"),
                                   (pred_root / f"{key}.mp4", pred_root / f"{key}.alpha.mp4")):
        if video_path.is_file():
            alpha = decode_mp4(alpha_path.read_bytes())[..., 0] if alpha_path.is_file() else None
            return decode_mp4(video_path.read_bytes()), alpha
    return None, None


def score_split(path: Path, pred: Path | None, limit: int | None = None, baselines=("identity", "inpaint")) -> dict:
    """{"kind", "rows": {row name: mean scores}, "samples": per-sample scores, "missing": keys without a
    prediction}."""
    from datagen.dataset.reader import iter_samples

    kind = _split_kind(path)
    per_row: dict[str, list[dict]] = {}
    samples, missing = [], []
    for n, s in enumerate(iter_samples(str(path))):
        if limit is not None and n >= limit:
            break
        key = s["__key__"]
        if kind == "void":
            truth, source, quadmask = s["target_video"], s["input_video"], s["quadmask"]
            candidates = {"ground truth": (truth, None), "identity": (source, None)}
            if "inpaint" in baselines:
                candidates["inpaint"] = (S.inpaint_baseline(source, quadmask), None)
        else:
            truth, source, alpha = s["composite"], s["input_video"], s["edit_alpha"]
            candidates = {"ground truth": (truth, alpha), "identity": (source, np.zeros_like(alpha))}
        candidates = {k: v for k, v in candidates.items() if k == "ground truth" or k in baselines}
        video, pred_alpha = _prediction(pred, key)
        if pred is not None:
            if video is None:
                missing.append(key)
            else:
                candidates["model"] = (video, pred_alpha)
        for row, (pv, a) in candidates.items():
            cut = (lambda x, like=pv: _crop(x, like)) if pv.shape != truth.shape else (lambda x: x)
            if kind == "void":
                sc = S.void_scores(pv, cut(truth), cut(quadmask))
            else:
                sc = S.vera_scores(pv, cut(source), cut(truth), cut(alpha), a)
            per_row.setdefault(row, []).append(sc)
            samples.append({"key": key, "row": row, **sc})
    return {"kind": kind, "rows": {r: S.mean_scores(v) for r, v in per_row.items()}, "samples": samples,
            "missing": missing}


def _predicted_quadmask(pred_root: Path | None, key: str) -> np.ndarray | None:
    from datagen.dataset.media import read_mask_mp4
    from datagen.labels.quadmask import snap

    if pred_root is None:
        return None
    for path in (pred_root / key / "quadmask_0.mp4", pred_root / f"{key}.quadmask.mp4"):
        if path.is_file():
            return snap(read_mask_mp4(path))
    return None


def score_affect_split(path: Path, pred: Path | None, limit: int | None = None, baselines=("none", "dilated"),
                       dilation: int = 16) -> dict:
    """The affected region (127, frames 1 on) of predicted quadmasks against the truth of a VOID split:
    IoU, precision and recall over all the split's pixels (``iou``...), and IoU averaged over clips
    (``iou_clip_mean``, clips where it is defined). Rows: ground truth, the baselines ``none`` (no
    affected region) and ``dilated`` (a ``dilation``-pixel ring around the object), and ``model``."""
    from datagen.dataset.reader import iter_samples

    if _split_kind(path) != "void":
        raise ValueError(f"{path}: the affect evaluation needs a VOID split")
    per_row: dict[str, list[dict]] = {}
    samples, missing = [], []
    for n, s in enumerate(iter_samples(str(path))):
        if limit is not None and n >= limit:
            break
        key, truth = s["__key__"], s["quadmask"]
        candidates = {"ground truth": truth}
        candidates |= {b: S.affect_baseline(truth, b, dilation) for b in baselines}
        predicted = _predicted_quadmask(pred, key)
        if pred is not None:
            if predicted is None:
                missing.append(key)
            else:
                candidates["model"] = predicted
        for row, q in candidates.items():
            counts = S.affected_counts(q, _crop(truth, q) if q.shape != truth.shape else truth)
            per_row.setdefault(row, []).append(counts)
            samples.append({"key": key, "row": row, **counts, **S.region_scores(counts)})
    rows = {}
    for row, counts in per_row.items():
        clip_iou = [S.region_scores(c)["iou"] for c in counts]
        clip_iou = [v for v in clip_iou if v is not None]
        rows[row] = {**S.region_scores(S.sum_counts(counts)), **S.sum_counts(counts),
                     "iou_clip_mean": float(np.mean(clip_iou)) if clip_iou else None}
    return {"kind": "affect", "rows": rows, "samples": samples, "missing": missing}


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "exact"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


def markdown(split: str, result: dict) -> str:
    cols = {"void": VOID_COLUMNS, "vera": VERA_COLUMNS, "affect": AFFECT_COLUMNS}[result["kind"]]
    used = [c for c in cols if any(r.get(c) is not None for r in result["rows"].values())]
    lines = [f"## {split} ({result['kind']}, {len(result['samples']) // max(len(result['rows']), 1)} samples)", "",
             "| row | " + " | ".join(used) + " |", "|---" * (len(used) + 1) + "|"]
    for row, sc in result["rows"].items():
        lines.append(f"| {row} | " + " | ".join(_fmt(sc.get(c)) for c in used) + " |")
    if result["missing"]:
        lines += ["", f"no prediction for {len(result['missing'])} samples: {', '.join(result['missing'][:10])}"]
    return "\n".join(lines) + "\n"


def evaluate(truth: str, pred: str | None = None, out: str | None = None, splits=None, limit=None,
             baselines=None, task: str | None = None, dilation: int = 16) -> dict:
    """Score every split (``task=affect``: the affected-region predictor, on the VOID splits)."""
    found = splits_of(truth)
    if task == "affect" and not splits:
        found = {n: p for n, p in found.items() if _split_kind(p) == "void"}
    elif task not in (None, "affect"):
        raise ValueError(f"--task {task!r}: choose affect, or leave it out (scored by each split's generator)")
    names = list(splits or found)
    unknown = sorted(set(names) - set(found))
    if unknown:
        raise ValueError(f"--splits {unknown}: not in {truth} (has {sorted(found)})")
    single = len(found) == 1 and (Path(truth) / "dataset.json").is_file()
    report = Path(out) if out else (Path(pred) / "report" if pred else Path("report"))
    report.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in names:
        pred_dir = None if pred is None else (Path(pred) if single else Path(pred) / name)
        if task == "affect":
            result = score_affect_split(found[name], pred_dir, limit, BASELINES["affect"] if baselines is None else baselines,
                                        dilation)
        else:
            result = score_split(found[name], pred_dir, limit, BASELINES["void"] if baselines is None else baselines)
        results[name] = result
        text = markdown(name, result)
        (report / f"{name}.md").write_text(text)
        (report / f"{name}.json").write_text(json.dumps(result, indent=1, default=_json_default) + "\n")
        print(text)
    return results


def _split_kind(path: Path) -> str:
    from datagen.dataset.store import SUMMARY, Store

    return _kind(Store(str(path)).read_json(SUMMARY)["generator"])


def _json_default(v):
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    raise TypeError(type(v).__name__)


@command
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--truth", required=True, help="benchmark version folder (manifest.json) or one split")
    p.add_argument("--pred", default=None, help="predictions: PRED/<split>/<key>/result.mp4 or PRED/<split>/<key>.mp4")
    p.add_argument("--out", default=None, help="report folder (default PRED/report or ./report)")
    p.add_argument("--splits", nargs="+", default=None)
    p.add_argument("--limit", type=int, default=None, help="samples per split")
    p.add_argument("--task", default=None, choices=["affect"],
                   help="affect: score predicted quadmasks (PRED/<split>/<key>/quadmask_0.mp4) on the VOID splits")
    p.add_argument("--baselines", nargs="*", default=None, choices=["identity", "inpaint", "none", "dilated"],
                   help="default: identity inpaint (VOID), identity (Vera), none dilated (--task affect)")
    p.add_argument("--dilation", type=int, default=16, help="pixels of the dilated-object baseline (--task affect)")
    a = p.parse_args(argv)
    evaluate(a.truth, a.pred, a.out, a.splits, a.limit, None if a.baselines is None else tuple(a.baselines),
             a.task, a.dilation)
    return 0


if __name__ == "__main__":
    sys.exit(main())
