"""The benchmark report's machinery: the splits of a benchmark, a split scored sample by sample by a task
(``training/tasks/``: its candidate rows, how it reads a prediction and scores it), the truth cut like a
prediction, and the report's tables. The command is ``training/jobs/evaluate.py``."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def splits_of(truth: str) -> dict[str, Path]:
    root = Path(truth)
    if (root / "manifest.json").is_file():
        manifest = json.loads((root / "manifest.json").read_text())
        return {n: root / e["path"] for n, e in sorted(manifest["splits"].items()) if e.get("ground_truth", True)}
    if (root / "dataset.json").is_file():
        return {root.name: root}
    raise FileNotFoundError(f"--truth {truth}: neither a benchmark (manifest.json) nor a split (dataset.json)")


def split_generator(path: Path) -> str:
    """The generator module that made a split (its ``dataset.json``)."""
    from datagen.dataset.store import SUMMARY, Store

    return Store(str(path)).read_json(SUMMARY)["generator"]


def cut_like(video: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The truth cut like a prediction: first frames, centred crop (our inference crops clips to multiples
    of 16 and 4k+1 frames); the truth itself when the sizes agree."""
    t, h, w = like.shape[:3]
    if video.shape[0] < t or video.shape[1] < h or video.shape[2] < w:
        raise ValueError(f"a prediction of {like.shape[:3]} is larger than its truth {video.shape[:3]}")
    top, left = (video.shape[1] - h) // 2, (video.shape[2] - w) // 2
    return video[:t, top:top + h, left:left + w]


TRUTH = ("input_video", "quadmask")  # members every task may score against, beside its own ``reads.truth``


def truth_like(members: dict, prediction, task) -> dict:
    """The members a task scores against, cut like ``prediction`` (a video, or a tuple led by one)."""
    like = prediction[0] if isinstance(prediction, tuple) else prediction
    names = dict.fromkeys((*TRUTH, *task.reads.truth))
    return {k: cut_like(members[k], like) for k in names if members.get(k) is not None}


def first_file(*paths: Path) -> Path | None:
    """The first of ``paths`` that is a file (the layouts a prediction may come in, in order)."""
    return next((p for p in paths if p.is_file()), None)


def read_video(path: Path) -> np.ndarray:
    from datagen.dataset.media import decode_mp4

    return decode_mp4(Path(path).read_bytes())


def score_split(path: Path, pred: Path | None, task, limit: int | None = None, baselines=None, **options) -> dict:
    """{"kind", "rows": {row name: the task's report row}, "samples": per-sample scores, "missing": keys
    without a prediction}. Rows: ``ground truth``, the baselines (default: the task's) and ``model``."""
    from datagen.dataset.reader import iter_samples

    baselines = tuple(task.baselines if baselines is None else baselines)
    per_row: dict[str, list[dict]] = {}
    samples, missing = [], []
    for s in iter_samples(str(path), limit=limit):
        key = s["__key__"]
        candidates = task.candidates(s, baselines, **options)
        if pred is not None:
            predicted = task.read_prediction(pred, key)
            if predicted is None:
                missing.append(key)
            else:
                candidates["model"] = predicted
        for row, prediction in candidates.items():
            sc = task.score(prediction, truth_like(s, prediction, task))
            per_row.setdefault(row, []).append(sc)
            samples.append({"key": key, "row": row, **sc})
    return {"kind": task.name, "rows": {r: task.report_row(v) for r, v in per_row.items()}, "samples": samples,
            "missing": missing}


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "exact"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


def markdown(split: str, result: dict, columns: tuple[str, ...]) -> str:
    used = [c for c in columns if any(r.get(c) is not None for r in result["rows"].values())]
    lines = [f"## {split} ({result['kind']}, {len(result['samples']) // max(len(result['rows']), 1)} samples)", "",
             "| row | " + " | ".join(used) + " |", "|---" * (len(used) + 1) + "|"]
    for row, sc in result["rows"].items():
        lines.append(f"| {row} | " + " | ".join(_fmt(sc.get(c)) for c in used) + " |")
    if result["missing"]:
        lines += ["", f"no prediction for {len(result['missing'])} samples: {', '.join(result['missing'][:10])}"]
    return "\n".join(lines) + "\n"


def json_default(v):
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    raise TypeError(type(v).__name__)
