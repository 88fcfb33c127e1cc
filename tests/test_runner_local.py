"""The runner without Ray (runner.mode=local): memory:// output, failure recording and resume,
dataset.json, config errors and the Hydra entry point run as a path."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import fsspec
import numpy as np
import pytest

from datagen.core.paths import REPO_ROOT
from datagen.runner import run
from datagen.runner.config import ConfigError
from datagen.dataset.reader import iter_samples
from datagen.runner.validate import validate
from runner_helpers import sample_keys, tar_bytes, toy_config

PY = sys.executable


def test_memory_url_output_validates_and_reads():
    url = "memory://toy-local"
    result = run(toy_config(url))
    assert result.ok and result.made == [0, 1, 2, 3]
    fs = fsspec.filesystem("memory")
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls("/toy-local", detail=False))
    assert names == ["dataset.json"] + [f"shard-{i:06d}.{ext}" for i in range(4) for ext in ("stats.json", "tar")]
    lines = []
    assert validate(url, emit=lines.append) == (10, 0) and lines == []
    samples = list(iter_samples(url))
    assert [s["__key__"] for s in samples] == [f"{i:08d}" for i in range(10)]
    assert samples[0]["video"].shape == (8, 64, 64, 3) and samples[0]["mask"].dtype == np.uint8
    assert run(toy_config(url)).made == []  # everything done: nothing to do


def test_failed_samples_are_recorded_and_a_rerun_redoes_only_them(tmp_path, capsys):
    out = tmp_path / "toy"
    result = run(toy_config(out, "debug.fail_indices=[4,9]"))
    assert not result.ok
    assert [(f["tar"], f["index"]) for f in result.failures] == [("shard-000001.tar", 4), ("shard-000003.tar", 9)]
    assert "fails on purpose" in result.failures[0]["error"] and result.failures[0]["attempts"] == 2
    stats = json.loads((out / "shard-000001.stats.json").read_text())
    assert stats["status"] == "partial" and stats["num_written"] == 2
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["status"] == "failed" and summary["counts"]["failed_samples"] == 2
    assert sample_keys(out) == [f"{i:08d}" for i in range(10) if i not in (4, 9)]

    from datagen.runner.driver import report

    assert report(result) == 1
    printed = capsys.readouterr().out
    assert "FAILED shard-000001.tar sample 4 (key 00000004): RuntimeError: debug.fail_indices" in printed
    assert "FAILED shard-000003.tar sample 9" in printed

    untouched = (out / "shard-000000.tar").stat().st_mtime_ns
    again = run(toy_config(out))
    assert again.ok and again.made == [1, 3] and again.skipped == [0, 2]
    assert (out / "shard-000000.tar").stat().st_mtime_ns == untouched
    assert json.loads((out / "shard-000001.stats.json").read_text())["num_reused"] == 2
    fresh = tmp_path / "fresh"
    run(toy_config(fresh))
    assert tar_bytes(out) == tar_bytes(fresh), "a repaired dataset must equal one made in one go"


def test_dataset_json_records_the_run(tmp_path):
    out = tmp_path / "toy"
    run(toy_config(out, "render.spp=9"))
    s = json.loads((out / "dataset.json").read_text())
    assert s["status"] == "complete" and s["generator"] == "datagen.toy_shapes"
    assert s["config"]["render"]["spp"] == 9 and s["config"]["out"] == str(out)
    assert s["counts"] == {"planned_samples": 10, "written_samples": 10, "failed_samples": 0, "planned_shards": 4,
                           "done_shards": 4, "partial_shards": 0, "failed_tasks": 0}
    assert {"python", "numpy", "ray", "webdataset", "ffmpeg"} <= set(s["versions"])
    assert "commit" in s["git"]
    assert {"layout", "render", "labels", "make_sample", "encode", "write", "publish"} <= set(s["timings"])
    assert s["timings"]["render"]["count"] == 10
    assert s["schema"]["mask"] == {"kind": "mask", "dtype": "uint8", "ext": "npy.gz", "doc": s["schema"]["mask"]["doc"]}
    assert s["schema"]["video"]["crf"] == 18 and s["schema"]["info"] == {"kind": "json", "ext": "json",
                                                                         "doc": s["schema"]["info"]["doc"]}
    assert len(s["shards"]) == 4 and s["run"]["samples_made"] == 10
    assert set(s["member_bytes"]) == {"video.mp4", "mask.npy.gz", "alpha.npy.gz", "boxes.npy", "meta.json",
                                      "caption.txt", "info.json"}


@pytest.mark.parametrize("overrides, message", [
    (["runner.mode=fast"], "runner.mode must be one of"),
    (["num_samples=0"], "num_samples must be an integer >= 1"),
    (["io.video_crf=99"], "io.video_crf must be null or an integer in 0..51"),
    (["generator=datagen.nope"], "'datagen.nope' is not a registered generator"),
    (["generator=os"], "'os' is not a registered generator"),
])
def test_bad_configs_fail_with_one_line(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message) as e:
        run(toy_config(tmp_path / "x", *overrides))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "x").exists()


def test_memory_url_needs_local_mode_and_out_needs_the_same_config(tmp_path):
    with pytest.raises(ConfigError, match="runner.mode=local"):
        run(toy_config("memory://x", mode="ray"))
    run(toy_config(tmp_path / "a", "num_samples=3"))
    with pytest.raises(ConfigError, match="another data config"):
        run(toy_config(tmp_path / "a", "num_samples=3", "seed=1"))
    assert run(toy_config(tmp_path / "a", "num_samples=3", "runner.sample_retries=0")).ok  # runner keys are free


def test_entry_script_runs_as_a_path_and_exits_non_zero_on_failure(tmp_path):
    out = tmp_path / "toy"
    env = {**os.environ, "PYTHONPATH": ""}
    cmd = [PY, str(REPO_ROOT / "datagen" / "toy_shapes.py"), f"out={out}", "num_samples=4", "samples_per_shard=2",
           "runner.mode=local", "runner.progress=false", "debug.fail_indices=[3]"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "FAILED shard-000001.tar sample 3" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"], "hydra must not write outputs/ or logs"
    proc = subprocess.run(cmd[:-1], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4/4 samples in 2 shards" in proc.stdout and "made 1 shards, 1 already done" in proc.stdout
    assert "validated: 4 passed, 0 failed" in proc.stdout  # every run ends by checking its samples
    bad = [c.replace(f"out={out}", f"out={tmp_path / 'bad'}") for c in cmd[:-1]] + ["debug.wrong_caption_indices=[1]"]
    proc = subprocess.run(bad, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "validated: 3 passed, 1 failed" in proc.stdout, proc.stdout + proc.stderr
    assert "caption" in proc.stderr
    proc = subprocess.run(cmd[:2] + ["num_samples=4"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "out= is required" in proc.stderr
    proc = subprocess.run([PY, "-m", "datagen.validate", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("4 passed, 0 failed"), proc.stdout + proc.stderr
    assert Path(out / "dataset.json").exists()


def test_stage_and_record_count_only_inside_a_collection():
    from datagen.core.timing import collect, record, stage

    record("ignored", 1.0)
    with collect() as stages:
        with stage("a"):
            pass
        record("b", 2.5)
        record("b", 0.5)
    assert set(stages) == {"a", "b"} and stages["b"] == 3.0 and stages["a"] >= 0
