"""The learning-curve benchmark end to end at N=4 (tiny data, two epochs): its CSV has a row per family and
pooled, with finite IoUs for the model and both weightless baselines, and its figure is written."""
from __future__ import annotations

import csv
import math
import subprocess
import sys

import pytest

from datagen.core.paths import REPO_ROOT

pytestmark = [pytest.mark.render, pytest.mark.train]


def test_learning_curve_smoke(tmp_path):
    out = tmp_path / "docs"
    done = subprocess.run([sys.executable, "benchmarks/learning_curve.py", "--work", str(tmp_path / "work"),
                           "--out", str(out), "--pairs", "4", "--val", "2", "--bench", "1", "--width", "64",
                           "--height", "48", "--frames", "5", "--spp", "1", "--epochs", "2", "--seeds", "0",
                           "--runner", "local", "--quiet"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    with (out / "learning_curve.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:4] == ["pairs", "split", "model_iou", "dilated_iou"]
    assert [r["split"] for r in rows] == ["launch", "support", "chain", "blocker", "all"]
    for r in rows:
        assert r["pairs"] == "4"
        for key in ("model_iou", "dilated_iou", "none_iou"):
            assert math.isfinite(float(r[key])) and 0.0 <= float(r[key]) <= 1.0, (key, r)
    assert (out / "learning_curve.png").stat().st_size > 1000
    # rerunning resumes: nothing is generated or trained again
    again = subprocess.run([sys.executable, "benchmarks/learning_curve.py", "--work", str(tmp_path / "work"),
                            "--out", str(out), "--pairs", "4", "--val", "2", "--bench", "1", "--width", "64",
                            "--height", "48", "--frames", "5", "--spp", "1", "--epochs", "2", "--seeds", "0",
                            "--runner", "local", "--quiet"],
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "best validation IoU" in again.stdout
