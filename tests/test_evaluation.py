"""Evaluation: seed-disjoint benchmark splits, scores per quadmask region and for layers, baselines that
order as they must, converters for public test clips, and validation during training."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from datagen import bench
from datagen.runner import load_config, run
from datagen.runner.config import ConfigError
from training.inference.inputs import read_clips
from training.jobs.evaluate import evaluate
from training.tasks import TASKS

TINY = {"width": 64, "height": 48, "frames": 5, "spp": 2}


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    manifest = bench.make(str(root), samples=2, splits=["void_support", "void_negative", "vera_addition"],
                          render=TINY, runner=["runner.mode=local", "runner.progress=false"])
    return root / bench.VERSION, json.loads(manifest.read_text())


@pytest.mark.render
def test_splits_are_versioned_seed_disjoint_and_resumable(benchmark, tmp_path):
    root, manifest = benchmark
    splits = manifest["splits"]
    assert manifest["version"] == bench.VERSION == "v2" and set(splits) == {"void_support", "void_negative", "vera_addition"}
    seeds = [e["seed"] for e in splits.values()]
    assert len(set(seeds)) == 3 and min(seeds) >= bench.BENCH_SEED_BASE
    assert all(e["samples"] == 2 and e["ground_truth"] for e in splits.values())
    with pytest.raises(ConfigError, match="reserved for benchmark splits"):
        run(load_config("toy_shapes", [f"out={tmp_path / 'x'}", f"seed={bench.BENCH_SEED_BASE}"]))
    again = bench.make(str(root.parent), samples=2, splits=["void_negative"], render=TINY,
                       runner=["runner.mode=local", "runner.progress=false"])
    assert json.loads(again.read_text())["splits"]["void_negative"]["seed"] == splits["void_negative"]["seed"]


@pytest.mark.render
def test_baselines_order_as_they_must(benchmark, tmp_path):
    root, _ = benchmark
    results = evaluate(str(root), out=str(tmp_path / "report"))
    void = results["void_support"]["rows"]
    assert void["ground truth"]["psnr_whole"] == math.inf and void["ground truth"]["ssim_whole"] == 1.0
    ident = void["identity"]
    assert ident["psnr_keep"] > ident["psnr_removed"] and ident["psnr_keep"] > ident["psnr_affected"]
    assert ident["ssim_keep"] > ident["ssim_removed"]
    assert void["inpaint"]["psnr_removed"] > ident["psnr_removed"]  # filling the hole is something
    vera = results["vera_addition"]["rows"]
    assert vera["identity"]["exact_preserved"] == 1.0 and vera["identity"]["psnr_composite"] < math.inf
    assert vera["ground truth"]["alpha_mae"] == 0.0 and vera["identity"]["alpha_mae"] > 0
    assert (tmp_path / "report" / "void_support.md").read_text().count("| identity |") == 1
    assert json.loads((tmp_path / "report" / "vera_addition.json").read_text())["kind"] == "vera"


@pytest.mark.render
def test_any_models_mp4s_are_scored(benchmark, tmp_path):
    """Another model's outputs, one mp4 per sample key: here the truth itself, so the model row is exact."""
    from datagen.dataset.reader import iter_samples
    from datagen.dataset.media import encode_mp4

    root, _ = benchmark
    pred = tmp_path / "pred" / "void_support"
    pred.mkdir(parents=True)
    for s in iter_samples(str(root / "void_support")):
        (pred / f"{s['__key__']}.mp4").write_bytes(encode_mp4(s["target_video"], 12, crf=0))
    results = evaluate(str(root), pred=str(tmp_path / "pred"), splits=["void_support"], baselines=())
    rows = results["void_support"]["rows"]
    assert set(rows) == {"ground truth", "model"} and rows["model"]["psnr_whole"] > 40


def test_public_clip_converters(tmp_path):
    from datagen.dataset.media import encode_mask_mp4, encode_mp4

    video = np.random.default_rng(0).integers(0, 255, (5, 32, 48, 3), dtype=np.uint8)
    mask = np.full((5, 32, 48), 255, np.uint8)
    mask[:, 8:16, 8:16] = 0
    clip = tmp_path / "sample" / "ball"
    clip.mkdir(parents=True)
    (clip / "input_video.mp4").write_bytes(encode_mp4(video, 12))
    (clip / "quadmask_0.mp4").write_bytes(encode_mask_mp4(mask, 12))
    (clip / "prompt.json").write_text(json.dumps({"bg": "an empty table"}))
    bench.import_void(str(tmp_path / "sample"), str(tmp_path / "out"))
    (read,) = list(read_clips(str(tmp_path / "out" / bench.VERSION / "void_public"), TASKS["void"].reads))
    assert read.prompt == "an empty table" and np.array_equal(read.quadmask, mask)
    vera = tmp_path / "vera"
    (vera / "videos").mkdir(parents=True)
    (vera / "videos" / "a.mp4").write_bytes(encode_mp4(video, 12))
    (vera / "test.jsonl").write_text(json.dumps({"video_id": "a", "input_path": "videos/a.mp4",
                                                 "prompt": "add a red kite", "edit_type": "addition"}) + "\n")
    manifest = bench.import_vera(str(vera / "test.jsonl"), str(tmp_path / "out"))
    splits = json.loads(manifest.read_text())["splits"]
    assert set(splits) == {"void_public", "vera_public"} and not splits["vera_public"]["ground_truth"]
    (clip_v,) = list(read_clips(str(tmp_path / "out" / bench.VERSION / "vera_public"), TASKS["vera"].reads))
    assert clip_v.prompt == "add a red kite" and clip_v.video.shape == video.shape
    assert bench.main(["import-vera", str(vera / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2


@pytest.mark.render
@pytest.mark.train
def test_training_validates_and_logs(benchmark, tmp_path):
    from training.core.config import load_config as train_config
    from training.trainer.loop import train

    root, _ = benchmark
    out = tmp_path / "run"
    logged = train(train_config(["model=void", f"data.path={root / 'void_support'}", f"trainer.out={out}",
                                 "trainer.max_steps=2", "trainer.checkpoint_every=2", "trainer.validate_every=2",
                                 f"trainer.validate.path={root / 'void_negative'}", "trainer.validate.clips=1",
                                 "trainer.validate.steps=2", "text.max_length=24", "optim.warmup_steps=0"]))
    lines = [json.loads(x) for x in (out / "validation.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2] and {"val/psnr_whole", "val/ssim_keep", "val/flicker"} <= set(lines[0])
    assert any("val/psnr_keep" in x for x in logged)
    assert len(list((out / "validation" / "step-0000002").glob("*.mp4"))) == 1
    assert list((out / "tensorboard").glob("events.*"))


def test_void_scores_per_effect_category():
    """PSNR/SSIM inside each category's effect pixels of 127; None where a clip has none of a category."""
    from training.evaluation.scores import void_scores

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    quadmask = np.full((3, 32, 32), 255, np.uint8)
    quadmask[1:, 4:12, 4:12] = 127
    flags = np.zeros_like(quadmask)
    flags[1:, 4:12, 4:8] = 1  # shadow
    flags[1:, 4:12, 6:12] |= 2  # reflection, overlapping the shadow in two columns
    pred = truth.copy()
    pred[:, :, 8:12] = 0  # wrong only in the reflection-only columns
    sc = void_scores(pred, truth, quadmask, flags)
    assert math.isinf(sc["psnr_effect_shadow"]) and sc["psnr_effect_reflection"] < 20
    assert sc["psnr_effect_transmission"] is None and sc["ssim_effect_illumination"] is None
    assert "psnr_effect_shadow" not in void_scores(pred, truth, quadmask)


def test_bench_has_one_split_per_effect_category():
    from datagen.void.families.effects import CATEGORIES

    assert bench.EFFECT_CATEGORIES == CATEGORIES
    for c in CATEGORIES:
        generator, task, overrides = bench.SPLITS[f"void_effect_{c}"]
        assert task == "removal" and f"void.effects.category={c}" in overrides
        assert "void.families.effects=1" in overrides and "void.families.launch=0" in overrides
    assert len({bench.split_seed(s) for s in bench.SPLITS}) == len(bench.SPLITS)
